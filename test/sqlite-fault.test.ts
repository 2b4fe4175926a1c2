import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCoordinator } from '../src/coordinator/open-coordinator.js';
import { spawnClaimWorker } from './support/multiprocess.js';

const dir = mkdtempSync(join(tmpdir(), 'cns-fault-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sqlite: agents killed with SIGKILL at random points', () => {
  it('every task still ends completed, exactly once', async () => {
    const db = join(dir, 'fault.db');
    const TASKS = 150;
    const cns = await openCoordinator({ db, reaperIntervalMs: 100, leaseMs: 600, heartbeatIntervalMs: 200 });
    await cns.createTasks({
      actor: 'test',
      tasks: Array.from({ length: TASKS }, (_, i) => ({ type: 'mp', title: `task ${i}`, maxAttempts: 50 })),
    });
    // Work long enough (150 × 100 ms over 4 workers) that the killing below always gets its turns.
    const env = { CNS_WORKER_LEASE_MS: '600', CNS_WORKER_WORK_MS: '100' };
    let seq = 0;
    const workers: ChildProcess[] = Array.from({ length: 4 }, () => spawnClaimWorker(db, `w${seq++}`, env));
    let seed = 12345;
    const rand = (n: number) => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) % n;
    let kills = 0;
    const deadline = Date.now() + 120_000;
    // Every 100-300 ms, kill a worker that holds a task (mid-task) and start a new one, until done.
    while (Date.now() < deadline) {
      const counts = await cns.countTasks();
      if (counts.completed === TASKS) break;
      await new Promise((r) => setTimeout(r, 100 + rand(200)));
      if (kills >= 20) continue;
      const holding = (await cns.listAgents()).filter((a) => a.heldTasks.length > 0 && a.pid !== null);
      const victim = holding.length > 0 ? holding[rand(holding.length)]! : null;
      const i = workers.findIndex(
        (w) => w.pid === victim?.pid && w.exitCode === null && w.signalCode === null,
      );
      if (i < 0) continue;
      workers[i]!.kill('SIGKILL');
      kills++;
      workers[i] = spawnClaimWorker(db, `w${seq++}`, env);
    }
    for (const w of workers) w.kill('SIGKILL');

    const counts = await cns.countTasks();
    expect(counts.completed).toBe(TASKS);
    const perTask = new Map<number, number>();
    let after = 0;
    for (;;) {
      const events = await cns.listEvents({ after, limit: 1000, kinds: ['task.completed'] });
      for (const e of events) perTask.set(e.taskId!, (perTask.get(e.taskId!) ?? 0) + 1);
      if (events.length < 1000) break;
      after = events[events.length - 1]!.id;
    }
    expect(perTask.size).toBe(TASKS);
    expect([...perTask.values()].every((n) => n === 1)).toBe(true);
    const expired = await cns.listEvents({ kinds: ['task.expired'], limit: 1000 });
    expect(kills).toBeGreaterThan(5);
    expect(expired.length).toBeGreaterThan(0); // killed holders' leases did expire and were re-run
    await cns.close();
    console.log(
      `sqlite fault test: ${kills} workers killed, ${expired.length} leases expired and re-run, ${TASKS} tasks completed once each`,
    );
  }, 180_000);
});
