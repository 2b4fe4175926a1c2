/**
 * PostgreSQL migrations: numbered SQL files in ./migrations (`0001_initial.sql`, …), applied in
 * order, each once, inside the store's own schema, recorded in `<schema>.schema_migrations`.
 * Several processes starting at once are safe: the whole run holds a transaction-scoped advisory
 * lock keyed on the schema name.
 */
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { CnsError, InvalidInputError } from '../../core/errors.js';

/** Default schema of every cns object. */
export const DEFAULT_SCHEMA = 'cns';

/** An arbitrary constant: the first half of the advisory lock key (the second is the schema's hash). */
const LOCK_NAMESPACE = 0x636e73; // "cns"

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

let cached: Migration[] | null = null;

/** The migrations shipped with this code, in order. */
export function loadMigrations(): Migration[] {
  if (cached) return cached;
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort();
  cached = files.map((file) => ({
    version: Number(file.slice(0, 4)),
    name: file.replace(/\.sql$/, ''),
    sql: readFileSync(new URL(file, MIGRATIONS_DIR), 'utf8'),
  }));
  return cached;
}

/** Lower-case letters, digits and underscores; the channel name `cns_<schema>` must fit in 63 bytes. */
export function validateSchemaName(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,58}$/.test(schema)) {
    throw new InvalidInputError(
      `PostgreSQL schema must be 1-59 lower-case letters, digits or underscores, starting with a letter or underscore (got ${JSON.stringify(schema)})`,
    );
  }
  return schema;
}

/** Where the URL points, for error messages: host:port, never the password. */
export function describeServer(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    return `${host}:${u.port || '5432'}`;
  } catch {
    return 'the configured server';
  }
}

/** Connection-level failures (cannot reach, refused, terminated) as opposed to SQL errors. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    // Class 08 but its protocol violation (08P01: a malformed message, this side's bug), shutdowns,
    // too many connections, authentication, an unknown database.
    if (/^(08(?!P01)|57P0[1-3]|53300|28|3D000)/.test(code)) return true;
    if (/^E[A-Z]+$/.test(code)) return true; // ECONNREFUSED, ENOTFOUND, ETIMEDOUT, ECONNRESET, …
  }
  return /Connection terminated|connection timeout|timeout expired|Client has encountered a connection error/i.test(
    err.message,
  );
}

/** Why a connection failed, as told to a person: the server refused whom, or could not be reached. */
export type PostgresFailure = 'unknown_role' | 'authentication' | 'unknown_database' | 'unreachable';

/**
 * A failure to connect (or a lost connection) as a store_unavailable error that says which it is:
 * a role that does not exist or a refused login (SQLSTATE class 28), a database that does not exist
 * (3D000), else an unreachable server. Names the server as host:port and the role and database the
 * URL gives, never the password.
 */
export function unavailable(url: string, err: unknown): CnsError {
  const server = describeServer(url);
  const reason = err instanceof Error ? err.message || String((err as { code?: unknown }).code) : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  const { user, database } = urlNames(url);
  const fail = (failure: PostgresFailure, message: string) =>
    new CnsError('store_unavailable', message, { server, failure, user, database });
  if (code === '3D000') {
    return fail(
      'unknown_database',
      `PostgreSQL at ${server} has no database "${database ?? '?'}" (${reason}): create it (createdb, or CREATE DATABASE) or fix the database name in --db / CNS_DB`,
    );
  }
  if (code === '28000' && /role .* does not exist/i.test(reason)) {
    return fail(
      'unknown_role',
      `PostgreSQL at ${server} has no role "${user ?? '?'}" (${reason}): create it (CREATE ROLE … LOGIN PASSWORD …) or fix the user name in --db / CNS_DB`,
    );
  }
  if (code === '28P01') {
    // With password authentication the server does not tell an unknown role from a wrong password.
    return fail(
      'authentication',
      `PostgreSQL at ${server} refused the login of role "${user ?? '?'}" (${reason}): the role does not exist or its password is wrong; check the user name and password in --db / CNS_DB`,
    );
  }
  if (
    (typeof code === 'string' && code.startsWith('28')) ||
    /SASL|client password must be a string/.test(reason)
  ) {
    return fail(
      'authentication',
      `PostgreSQL at ${server} refused the login of role "${user ?? '?'}" (${reason}): check the user name, the password and the server's pg_hba.conf`,
    );
  }
  return fail('unreachable', `cannot reach PostgreSQL at ${server}: ${reason}`);
}

/** The role and database a URL names (for messages; the password is never read). */
function urlNames(url: string): { user: string | null; database: string | null } {
  try {
    const u = new URL(url);
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    };
    // node-postgres's defaults: PGUSER, else the OS user; the database defaults to the user's name.
    const user =
      decode(u.username) || u.searchParams.get('user') || process.env.PGUSER || process.env.USER || null;
    const database =
      decode(u.pathname.replace(/^\//, '')) ||
      u.searchParams.get('database') ||
      process.env.PGDATABASE ||
      user;
    return { user, database };
  } catch {
    return { user: null, database: null };
  }
}

/**
 * Applies the pending migrations on a connected client (not inside a transaction). Returns the
 * names of the migrations applied now. Throws schema_too_new when the database is ahead of the code.
 */
export async function runMigrations(client: pg.ClientBase, schema: string): Promise<string[]> {
  validateSchemaName(schema);
  const migrations = loadMigrations();
  const latest = migrations.at(-1)?.version ?? 0;
  const applied: string[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NAMESPACE, schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`SET LOCAL search_path TO "${schema}"`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ v: number | null }>(
      'SELECT max(version)::int AS v FROM schema_migrations',
    );
    const current = rows[0]?.v ?? 0;
    if (current > latest) {
      throw new CnsError(
        'schema_too_new',
        `the cns schema "${schema}" is at version ${current}, newer than this cns (which knows up to ${latest}); upgrade cns`,
        { schema, databaseVersion: current, codeVersion: latest },
      );
    }
    for (const m of migrations) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        m.version,
        m.name,
      ]);
      applied.push(m.name);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return applied;
}

/** `cns migrate`: connect, apply pending migrations, disconnect. */
export async function migratePostgres(
  url: string,
  options: { schema?: string } = {},
): Promise<{ schema: string; applied: string[] }> {
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw unavailable(url, err);
  }
  try {
    return { schema, applied: await runMigrations(client, schema) };
  } catch (err) {
    if (isConnectionError(err)) throw unavailable(url, err);
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}
