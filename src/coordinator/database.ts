/**
 * The database as the fronts see it before a coordinator is open: where `--db` points (a SQLite
 * file or a PostgreSQL URL, e.g. to create a missing folder or say that `cns init` is needed) and
 * applying the migrations explicitly (`cns migrate`). The fronts import no store module at runtime
 * (an ESLint rule); this is their way to these two.
 */
export {
  parseStoreLocation as parseDatabaseLocation,
  migrateStore as migrateDatabase,
  type StoreLocation as DatabaseLocation,
} from '../store/open.js';
