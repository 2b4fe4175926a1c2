/**
 * The SQLite migration runner: applies the numbered files of `migrations/` (`0001_name.sql`, …) in
 * order, each in its own `BEGIN IMMEDIATE` transaction, recording each in `schema_migrations`.
 * Taking the write lock before reading the applied version makes two processes that open the same
 * new file at once safe: the second waits (busy timeout), then sees the work done.
 */
import { readdirSync, readFileSync } from 'node:fs';
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

/** Brings the database up to the newest known migration. Returns the versions it applied. */
export function migrate(db: Database.Database, migrations: Migration[], now: () => number): number[] {
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

/** Opens the file (creating it), applies pending migrations and reports them (`cns migrate`). */
export async function migrateSqliteFile(path: string): Promise<{ applied: string[]; version: number }> {
  const { default: Sqlite } = await import('better-sqlite3');
  const db = new Sqlite(path);
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
  } finally {
    db.close();
  }
}
