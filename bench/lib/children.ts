/**
 * Worker processes for the multi-process scenarios. A child prints JSON lines on stdout: first
 * `{"ready":true}`, later its report. The parent writes "go\n" to every child's stdin once all are
 * ready, so process start-up is never timed.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Child {
  proc: ChildProcessWithoutNullStreams;
  /** Resolves with the first JSON line for which `pick` returns a value. */
  next<T>(pick: (msg: Record<string, unknown>) => T | undefined): Promise<T>;
  /** Calls `fn` for every JSON line. */
  onMessage(fn: (msg: Record<string, unknown>) => void): void;
  go(line?: string): void;
  exited: Promise<number | null>;
  stderr(): string;
}

export function workerPath(name: string): string {
  return fileURLToPath(new URL(`../workers/${name}`, import.meta.url));
}

export function spawnWorker(script: string, args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', workerPath(script), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let buffer = '';
  let err = '';
  const listeners = new Set<(msg: Record<string, unknown>) => void>();
  proc.stdout.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      for (const l of [...listeners]) l(msg);
    }
  });
  proc.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 20_000) err = err.slice(-10_000);
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const child: Child = {
    proc,
    next<T>(pick: (msg: Record<string, unknown>) => T | undefined): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const l = (msg: Record<string, unknown>) => {
          const v = pick(msg);
          if (v !== undefined) {
            listeners.delete(l);
            resolve(v);
          }
        };
        listeners.add(l);
        void exited.then((code) => {
          if (listeners.has(l)) {
            listeners.delete(l);
            reject(new Error(`${script} exited (${code}) early: ${err.slice(-3000)}`));
          }
        });
      });
    },
    onMessage(fn) {
      listeners.add(fn);
    },
    go(line = 'go') {
      proc.stdin.write(`${line}\n`);
    },
    exited,
    stderr: () => err,
  };
  return child;
}

/** In a child: resolves on the next line of stdin. */
export function nextStdinLine(): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        process.stdin.off('data', onData);
        process.stdin.pause();
        resolve(buf.slice(0, nl));
      }
    };
    process.stdin.on('data', onData);
    process.stdin.resume();
  });
}

export function send(msg: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

/** In a child: sends the last message and exits once it is written (stdin would keep it alive). */
export function finish(msg: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`, () => process.exit(0));
}
