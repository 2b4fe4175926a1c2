/**
 * A raw-floor worker process (bench/systems/raw-sqlite.ts, raw-postgres.ts: the 8-process floors).
 * Opens its own connection, prints {"ready":true}, and after "go" claims and completes one task at a
 * time with the in-process floor's own statements until none is left; prints {"completed":[ids]}.
 * Modes:
 * - `sqlite PATH`: better-sqlite3 with the floor's settings (WAL, synchronous=NORMAL), except that
 *   the write lock is waited for as cns waits for it with several processes (busy timeout 0; a busy
 *   statement retried after 0.1 ms, doubling with jitter up to 4 ms, for up to 10 s), not with
 *   SQLite's own busy handler, which sleeps 1, 2, 5, 10… ms while the lock is held for microseconds.
 * - `postgres URL`: one pg.Client, the floor's prepared statements "claim" and "complete".
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { finish, nextStdinLine, send } from '../lib/children.js';
import { rawPostgresOps } from '../systems/raw-postgres.js';
import { configureRawSqlite, rawSqliteStatements } from '../systems/raw-sqlite.js';

const [mode, target] = process.argv.slice(2);
if ((mode !== 'sqlite' && mode !== 'postgres') || !target)
  throw new Error('usage: raw-worker sqlite PATH | raw-worker postgres URL');

const BUSY_RETRY_MIN_MS = 0.1;
const BUSY_RETRY_MAX_MS = 4;
const BUSY_TIMEOUT_MS = 10_000;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Runs `fn` (one autocommit statement), retrying while the database is locked by another process. */
function retryBusy<T>(fn: () => T): T {
  let deadline = 0;
  let delay = BUSY_RETRY_MIN_MS;
  for (;;) {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof Database.SqliteError && err.code.startsWith('SQLITE_BUSY'))) throw err;
      const now = Date.now();
      if (deadline === 0) deadline = now + BUSY_TIMEOUT_MS;
      else if (now >= deadline) throw err;
      Atomics.wait(sleepCell, 0, 0, delay * (0.5 + Math.random()));
      delay = Math.min(BUSY_RETRY_MAX_MS, delay * 2);
    }
  }
}

const completed: number[] = [];
if (mode === 'sqlite') {
  const db = new Database(target);
  configureRawSqlite(db); // with SQLite's busy timeout while the 8 processes open the file
  const s = rawSqliteStatements(db);
  db.pragma('busy_timeout = 0');
  send({ ready: true });
  await nextStdinLine();
  for (;;) {
    const job = retryBusy(() => s.claim());
    if (!job) break;
    retryBusy(() => s.complete(job.id, job.token));
    completed.push(job.id);
  }
  db.close();
} else {
  const client = new pg.Client({ connectionString: target });
  await client.connect();
  await client.query('SELECT 1');
  const ops = rawPostgresOps(client);
  send({ ready: true });
  await nextStdinLine();
  for (;;) {
    const job = await ops.claim();
    if (!job) break;
    await ops.complete(job.id, job.token);
    completed.push(job.id);
  }
  await client.end();
}
finish({ completed });
