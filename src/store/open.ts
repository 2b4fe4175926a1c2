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
