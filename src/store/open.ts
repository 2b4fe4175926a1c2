import type { Store, StoreOptions } from './store.js';

/** Where a store lives: a PostgreSQL URL, or a SQLite file path. */
export type StoreLocation =
  { kind: 'postgres'; url: string; schema?: string } | { kind: 'sqlite'; path: string };

export function parseStoreLocation(db: string): StoreLocation {
  if (/^postgres(ql)?:\/\//i.test(db)) return { kind: 'postgres', url: db };
  if (db.startsWith('sqlite:'))
    return { kind: 'sqlite', path: db.slice('sqlite:'.length).replace(/^\/\//, '') };
  return { kind: 'sqlite', path: db };
}

/**
 * Opens (and migrates) the store at `db`. Backends are loaded on demand, so a SQLite user never
 * loads the PostgreSQL driver and vice versa.
 */
export async function openStore(db: string, options: StoreOptions & { schema?: string }): Promise<Store> {
  const loc = parseStoreLocation(db);
  if (loc.kind === 'postgres') {
    const { openPostgresStore } = await import('./postgres/postgres-store.js');
    return openPostgresStore(loc.url, options);
  }
  const { openSqliteStore } = await import('./sqlite/sqlite-store.js');
  return openSqliteStore(loc.path, options);
}

/**
 * Applies the migrations this code ships to the store at `db` and reports which it applied
 * (opening a store does the same; `cns migrate` makes it explicit, e.g. before a fleet starts).
 */
export async function migrateStore(
  db: string,
  options: { schema?: string } = {},
): Promise<{ applied: string[] }> {
  const loc = parseStoreLocation(db);
  if (loc.kind === 'postgres') {
    const { migratePostgres } = await import('./postgres/migrate.js');
    return migratePostgres(loc.url, { schema: options.schema });
  }
  const { migrateSqliteFile } = await import('./sqlite/migrate.js');
  return migrateSqliteFile(loc.path);
}
