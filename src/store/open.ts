import { InvalidInputError } from '../core/errors.js';
import type { Store, StoreOptions } from './store.js';

/** Where a store lives: a PostgreSQL URL, or a SQLite file path. */
export type StoreLocation =
  { kind: 'postgres'; url: string; schema?: string } | { kind: 'sqlite'; path: string };

/**
 * A database location fit to print: the password of a URL (`scheme://user:password@host`, any
 * scheme) and any `password=` parameter replaced by `***`. The one masking function: every front
 * (CLI output and errors, the MCP server's log, `cns serve`'s banner) prints a location through it.
 */
export function maskDatabaseUrl(db: string): string {
  let shown = db;
  const start = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(shown)?.[0].length;
  if (start !== undefined) {
    // The password runs from the first ':' of the user info to the last '@' (a password may hold an
    // unescaped '@' or '/'; masking too much is better than too little).
    const at = shown.lastIndexOf('@');
    const colon = shown.indexOf(':', start);
    if (at > start && colon >= 0 && colon < at) shown = `${shown.slice(0, colon)}:***${shown.slice(at)}`;
  }
  return shown.replace(/(password\s*=\s*)(?:'[^']*'|[^&\s]*)/gi, '$1***');
}

/** Which kind of database `--db` names. An unknown URL scheme is refused (never taken for a file). */
export function parseStoreLocation(db: string): StoreLocation {
  if (/^postgres(ql)?:\/\//i.test(db)) return { kind: 'postgres', url: db };
  if (/^sqlite:/i.test(db)) return { kind: 'sqlite', path: db.slice('sqlite:'.length).replace(/^\/\//, '') };
  // `scheme:` (two letters or more, so that a Windows drive `C:` is a path): a typo such as
  // `postgress://u:p@host/db` or another database's URL would otherwise become a SQLite file in
  // new directories named after the URL, password included.
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]+):/.exec(db)?.[1];
  if (scheme !== undefined) throw unknownScheme(db, scheme);
  return { kind: 'sqlite', path: db };
}

function unknownScheme(db: string, scheme: string): InvalidInputError {
  const lower = scheme.toLowerCase();
  const postgresLike =
    lower.startsWith('pg') ||
    lower.startsWith('post') ||
    Math.min(editDistance(lower, 'postgres'), editDistance(lower, 'postgresql')) <= 2;
  const hint = postgresLike
    ? ' Did you mean postgres://user:password@host:5432/dbname?'
    : ' cns takes a SQLite file path (e.g. .cns/cns.db; sqlite:PATH for a file name with a colon) or a PostgreSQL URL (postgres://user:password@host:5432/dbname).';
  return new InvalidInputError(
    `the database ${JSON.stringify(maskDatabaseUrl(db))} has an unknown URL scheme "${scheme}:".${hint}`,
    { scheme },
  );
}

/** Levenshtein distance (short strings: the URL schemes above). */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
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
