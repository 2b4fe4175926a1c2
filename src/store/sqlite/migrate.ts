/**
 * The SQLite migration runner: applies the numbered files of `migrations/` (`0001_name.sql`, …) in
 * order, each in its own `BEGIN IMMEDIATE` transaction, recording each in `schema_migrations`.
 * Taking the write lock before reading the applied version makes two processes that open the same
 * new file at once safe: the second waits (busy timeout), then sees the work done.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { CnsError } from '../../core/errors.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE = /^(\d+)_([A-Za-z0-9_-]+)\.sql$/;

/** The migrations shipped next to this module, in version order. */
export function loadMigrations(dir: URL = new URL('./migrations/', import.meta.url)): Migration[] {
  const path = fileURLToPath(dir);
  const migrations = readdirSync(path).flatMap((file): Migration[] => {
    const m = FILE.exec(file);
    if (!m) return [];
    return [{ version: Number(m[1]), name: m[2]!, sql: readFileSync(new URL(file, dir), 'utf8') }];
  });
  migrations.sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (i > 0 && migrations[i - 1]!.version === m.version) {
      throw new Error(`two SQLite migrations have version ${m.version}`);
    }
  });
  return migrations;
}

/**
 * Brings the database up to the newest known migration. Returns the versions it applied.
 *
 * A migration may rebuild a table (SQLite cannot alter a CHECK constraint: create the new table,
 * copy, drop the old one, rename): foreign keys are therefore not enforced while migrations run
 * (the pragma cannot change inside a transaction), and each migration must leave none broken
 * (`PRAGMA foreign_key_check`, before its commit), as SQLite's documented procedure does.
 */
export function migrate(db: Database.Database, migrations: Migration[], now: () => number): number[] {
  // A current schema needs no write lock: a read-only file (or a reader beside busy writers) opens.
  if (appliedVersion(db) === latestVersion(migrations)) return [];
  const enforced = db.pragma('foreign_keys', { simple: true }) === 1;
  if (enforced) db.pragma('foreign_keys = OFF');
  try {
    return migrateSteps(db, migrations, now);
  } finally {
    if (enforced) db.pragma('foreign_keys = ON');
  }
}

function migrateSteps(db: Database.Database, migrations: Migration[], now: () => number): number[] {
  const known = migrations.length > 0 ? migrations[migrations.length - 1]!.version : 0;
  const applied: number[] = [];
  for (;;) {
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at INTEGER)',
      );
      const current =
        (db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get() as number | null) ?? 0;
      if (current > known) {
        throw new CnsError(
          'schema_too_new',
          `the database schema is version ${current}, newer than this version of cns knows (${known}); upgrade cns`,
          { current, known },
        );
      }
      const next = migrations.find((m) => m.version > current);
      if (!next) {
        db.exec('COMMIT');
        return applied;
      }
      db.exec(next.sql);
      const broken = db.pragma('foreign_key_check') as unknown[];
      if (broken.length > 0) {
        throw new Error(
          `SQLite migration ${next.version} (${next.name}) leaves ${broken.length} broken foreign key(s): ${JSON.stringify(broken.slice(0, 3))}`,
        );
      }
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        next.version,
        next.name,
        now(),
      );
      db.exec('COMMIT');
      applied.push(next.version);
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    }
  }
}

/** The newest migration applied to the file, read without a write lock (0 for a new file). */
function appliedVersion(db: Database.Database): number {
  const table = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    .pluck()
    .get();
  if (table === undefined) return 0;
  return (db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get() as number | null) ?? 0;
}

function latestVersion(migrations: Migration[]): number {
  return migrations.length > 0 ? migrations[migrations.length - 1]!.version : 0;
}

/**
 * SQLite's errors about the file itself as errors that name it (the driver's do not): the file
 * read-only for this user (it can still be read), its folder not writable (in WAL mode SQLite must
 * create `<file>-wal` and `<file>-shm` beside it, even to read), or a file that cannot be opened.
 * Anything else is returned as it is.
 */
export function sqliteFileError(err: unknown, path: string): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (!(err instanceof Error) || typeof code !== 'string') return err;
  const details = { file: path, sqliteCode: code };
  if (code === 'SQLITE_READONLY_DIRECTORY') {
    return new CnsError(
      'store_unavailable',
      `the SQLite database ${path} cannot be used: its folder ${dirname(resolve(path))} is not writable for this user, and SQLite must create ${basename(path)}-wal and ${basename(path)}-shm there, even to read (${err.message})`,
      { ...details, readOnly: true },
    );
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return new CnsError(
      'store_unavailable',
      `the SQLite database ${path} is read-only for this user: it can be read, not changed (${err.message}); make the file writable to change it`,
      { ...details, readOnly: true },
    );
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new CnsError(
      'store_unavailable',
      `cannot open the SQLite database ${path}: ${err.message}`,
      details,
    );
  }
  return err;
}

/** Opens the file (creating it), applies pending migrations and reports them (`cns migrate`). */
export async function migrateSqliteFile(path: string): Promise<{ applied: string[]; version: number }> {
  const { default: Sqlite } = await import('better-sqlite3');
  let db: Database.Database;
  try {
    db = new Sqlite(path);
  } catch (err) {
    throw sqliteFileError(err, path);
  }
  try {
    db.pragma('busy_timeout = 10000');
    db.pragma('journal_mode = WAL');
    const migrations = loadMigrations();
    const applied = migrate(db, migrations, Date.now);
    const version = (db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get() as number) ?? 0;
    return {
      applied: migrations
        .filter((m) => applied.includes(m.version))
        .map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`),
      version,
    };
  } catch (err) {
    throw sqliteFileError(err, path);
  } finally {
    db.close();
  }
}
