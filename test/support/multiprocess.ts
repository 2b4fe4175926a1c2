import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface WorkerReport {
  completed: number[];
  staleRejected: number;
  staleAccepted: number[];
}

const workerPath = fileURLToPath(new URL('./claim-worker.ts', import.meta.url));

/** Runs `count` claim-worker OS processes against one database and collects their reports. */
/** Starts one claim-worker process; the caller may kill it. */
export function spawnClaimWorker(db: string, name: string, env: Record<string, string> = {}) {
  return spawn(process.execPath, ['--import', 'tsx', workerPath, db, name, '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
}

export async function runClaimWorkers(
  db: string,
  count: number,
  options: { staleEvery?: number; schema?: string } = {},
): Promise<WorkerReport[]> {
  const runs = Array.from({ length: count }, (_, i) => {
    const args = ['--import', 'tsx', workerPath, db, `worker-${i}`, String(options.staleEvery ?? 50)];
    if (options.schema) args.push(options.schema);
    return new Promise<WorkerReport>((resolve, reject) => {
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('exit', (code) => {
        if (code !== 0) return reject(new Error(`worker-${i} exited with ${code}: ${err.slice(-2000)}`));
        try {
          resolve(JSON.parse(out.trim().split('\n').pop()!) as WorkerReport);
        } catch {
          reject(new Error(`worker-${i} printed no report: ${out.slice(-500)} ${err.slice(-2000)}`));
        }
      });
    });
  });
  return Promise.all(runs);
}
