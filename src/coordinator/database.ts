/**
 * The database as the fronts see it before a coordinator is open: where `--db` points (a SQLite
 * file or a PostgreSQL URL, e.g. to create a missing folder or say that `cns init` is needed),
 * applying the migrations explicitly (`cns migrate`), and the location fit to print (the password
 * masked: every front prints a location through `maskDatabaseUrl` only). The fronts import no store
 * module at runtime (an ESLint rule); this is their way to these.
 */
export {
  parseStoreLocation as parseDatabaseLocation,
  migrateStore as migrateDatabase,
  maskDatabaseUrl,
  type StoreLocation as DatabaseLocation,
} from '../store/open.js';
