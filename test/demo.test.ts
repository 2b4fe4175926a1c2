/**
 * `cns demo` as a user runs it: `node dist/cli/main.js demo` (run `npm run build` first), real
 * processes all the way down. Within 30 s every task status but cancelled is reached; the staged
 * crash really kills an agent process, its task is recovered and the next attempt continues from
 * the crashed attempt's checkpoint (which it can only know from the handoff); SIGTERM stops every
 * process the demo started and removes its database; and the agents do not outlive a demo that is
 * killed outright.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openCoordinator } from '../src/coordinator/open-coordinator.js';
import type { Coordinator } from '../src/coordinator/coordinator.js';
import { TASK_STATUSES, type TaskStatus } from '../src/core/status.js';
import type { Json } from '../src/core/types.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

interface Demo {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  /** Resolves with the first line matching, or rejects after the timeout. */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  cwd: string;
}

const started: Demo[] = [];

function startDemo(args: string[]): Demo {
  if (!existsSync(CLI)) throw new Error('dist/ is missing: run "npm run build" first');
  const cwd = mkdtempSync(join(tmpdir(), 'cns-demo-test-'));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CNS_')) env[k] = v;
  const child = spawn(process.execPath, [CLI, 'demo', ...args], {
    cwd,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const onLine = (line: string) => {
    lines.push(line);
    for (const w of [...waiters]) {
      const m = line.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', (l) => onLine(`stderr: ${l}`));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const demo: Demo = {
    child,
    lines,
    cwd,
    exited,
    waitFor(re, timeoutMs) {
      const seen = lines.map((l) => l.match(re)).find((m) => m);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`no line matching ${re} within ${timeoutMs} ms; output:\n${lines.join('\n')}`)),
          timeoutMs,
        );
        waiters.push({
          re,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
  };
  started.push(demo);
  return demo;
}

afterEach(async () => {
  for (const d of started.splice(0)) {
    if (d.child.exitCode === null && d.child.signalCode === null) {
      d.child.kill('SIGKILL');
      await d.exited;
    }
    for (const pid of new Set([...childPids(d.child.pid!), ...startedPids(d.lines)]))
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(d.cwd, { recursive: true, force: true });
  }
});

/** Whether a process exists (a zombie, already dead and waiting to be reaped, does not count). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The live processes whose parent is `ppid` (Linux /proc). */
function childPids(ppid: number): number[] {
  if (!existsSync('/proc')) return [];
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid && fields[0] !== 'Z') out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The pids the demo says it started. */
function startedPids(lines: string[]): number[] {
  return lines.flatMap((l) => {
    const m = /started \S+ \(.*pid (\d+)\)/.exec(l);
    return m ? [Number(m[1])] : [];
  });
}

async function waitUntil<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | null> | T | null,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function isObject(v: Json | null | undefined): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

describe('cns demo', () => {
  it('reaches every status, recovers a crashed agent from its checkpoint, and stops every process on SIGTERM', async () => {
    const t0 = Date.now();
    const demo = startDemo(['--speed', '5', '--port', '0']);
    const db = (await demo.waitFor(/Database:\s+(\S+)/, 20_000))[1]!;
    const url = (await demo.waitFor(/Dashboard:\s+(http\S+)/, 1_000))[1]!;
    expect(db.startsWith(tmpdir())).toBe(true);
    expect(existsSync(join(demo.cwd, '.cns'))).toBe(false); // nothing written where it runs

    let c: Coordinator | null = await openCoordinator({ db, reaper: false });
    try {
      // Every status but cancelled, as reached by some task (the events record each move).
      const seen = new Set<TaskStatus>();
      let after = 0;
      const wanted = TASK_STATUSES.filter((s) => s !== 'cancelled');
      await waitUntil('every status', 30_000 - (Date.now() - t0), async () => {
        for (const e of await c!.listEvents({ after, limit: 1000 })) {
          after = e.id;
          if (e.toStatus) seen.add(e.toStatus);
        }
        return wanted.every((s) => seen.has(s)) ? true : null;
      }).catch((err: Error) => {
        throw new Error(`${err.message}: seen ${[...seen].join(', ')}\n${demo.lines.join('\n')}`);
      });
      expect(Date.now() - t0).toBeLessThan(30_000);

      // The crash: an agent process was killed while holding a task; the lease expired.
      const crashed = await demo.waitFor(/(\S+) \(pid (\d+)\) died \(SIGKILL\)/, 15_000);
      const expired = await waitUntil('an expired lease', 15_000, async () => {
        const events = await c!.listEvents({ kinds: ['task.expired'], limit: 10 });
        return events[0] ?? null;
      });
      expect(expired.fromStatus).toBe('in_progress');
      // The next attempt resumed from the crashed attempt's checkpoint, by what the handoff said.
      const { lost, resumed } = await waitUntil('the task resumed', 20_000, async () => {
        const detail = await c!.getTaskDetail(expired.taskId!);
        const lostAttempt = detail.attempts.find((a) => a.outcome === 'expired');
        const next = detail.attempts.find(
          (a) => lostAttempt && a.seq > lostAttempt.seq && a.outcome !== 'running',
        );
        return lostAttempt && next ? { lost: lostAttempt, resumed: next } : null;
      });
      expect(lost.agentName).toBe(crashed[1]);
      expect(isObject(lost.checkpoint) && typeof lost.checkpoint.step).toBe('number');
      const step = (lost.checkpoint as { step: number }).step;
      expect(step).toBeGreaterThan(0);
      expect(isObject(resumed.checkpoint) && resumed.checkpoint.resumedFrom).toEqual({
        agent: lost.agentName,
        step,
      });
      expect(['completed', 'submitted_for_review']).toContain(resumed.outcome);

      // The dashboard's URL answers (sign-in page).
      const page = await fetch(url);
      expect(page.status).toBe(200);
    } finally {
      await c?.close();
      c = null;
    }

    // SIGTERM: every process it started (restarts included) ends, and so does the demo.
    const pids = [...new Set([...startedPids(demo.lines), ...childPids(demo.child.pid!)])];
    expect(pids.length).toBeGreaterThanOrEqual(6); // the 6 agents (and any restarted one)
    demo.child.kill('SIGTERM');
    const exit = await Promise.race([
      demo.exited,
      new Promise<null>((r) => setTimeout(() => r(null), 20_000)),
    ]);
    expect(exit, demo.lines.join('\n')).toEqual({ code: 0, signal: null });
    await waitUntil('every process gone', 5_000, () => (pids.some(alive) ? null : true));
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(dirname(db))).toBe(false); // the demo database is removed
  }, 90_000);

  it('leaves no agent behind when it is killed outright', async () => {
    const demo = startDemo(['--speed', '5', '--port', '0', '--agents', '5']);
    const db = (await demo.waitFor(/Database:\s+(\S+)/, 20_000))[1]!;
    try {
      await waitUntil('five agents', 20_000, () => (startedPids(demo.lines).length >= 5 ? true : null));
      const pids = [...new Set([...startedPids(demo.lines), ...childPids(demo.child.pid!)])];
      expect(pids.filter(alive).length).toBe(5);
      demo.child.kill('SIGKILL');
      await demo.exited;
      // Their stdin closes with the demo: each stops on its own.
      await waitUntil('the agents gone', 15_000, () => (pids.some(alive) ? null : true));
      expect(pids.filter(alive)).toEqual([]);
    } finally {
      rmSync(dirname(db), { recursive: true, force: true });
    }
  }, 60_000);
});
