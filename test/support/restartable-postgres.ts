/**
 * A dedicated PostgreSQL server that a test (or the chaos run) may restart mid-run: see
 * ./restartable-postgres-server.ts. No vitest import, so scripts use it too.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const SCRIPT = fileURLToPath(new URL('./restartable-postgres-server.ts', import.meta.url));

export interface RestartablePostgres {
  url: string;
  /** Stops the server (every connection is cut), waits downMs, starts it again; resolves once it accepts connections. */
  restart(downMs?: number): Promise<void>;
  /** Stops the server and removes its data. */
  close(): Promise<void>;
}

export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
  child.stdin!.on('error', () => undefined);
  const lines = createInterface({ input: child.stdout! });
  const waiters: ((line: Record<string, unknown>) => void)[] = [];
  lines.on('line', (line) => waiters.shift()?.(JSON.parse(line) as Record<string, unknown>));
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const onExit = () => reject(new Error(`restartable PostgreSQL exited: ${stderr}`));
      child.once('exit', onExit);
      waiters.push((l) => {
        child.off('exit', onExit);
        resolve(l);
      });
    });
  const first = await next();
  const url = String(first.url);
  return {
    url,
    async restart(downMs = 0) {
      const done = next();
      child.stdin!.write(`restart ${downMs}\n`);
      await done;
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin!.end();
      await exited;
    },
  };
}
