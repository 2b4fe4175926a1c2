import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCoordinator } from '../src/coordinator/open-coordinator.js';
import { runClaimWorkers } from './support/multiprocess.js';

const dir = mkdtempSync(join(tmpdir(), 'cns-mp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sqlite: many OS processes on one file', () => {
  it('8 processes complete 2,000 tasks exactly once and never accept a stale lease', async () => {
    const db = join(dir, 'mp.db');
    const TASKS = 2_000;
    const cns = await openCoordinator({ db, reaper: false });
    for (let i = 0; i < TASKS; i += 500) {
      await cns.createTasks({
        actor: 'test',
        tasks: Array.from({ length: Math.min(500, TASKS - i) }, (_, k) => ({
          type: 'mp',
          title: `task ${i + k}`,
        })),
      });
    }

    const reports = await runClaimWorkers(db, 8, { staleEvery: 40 });

    const all = reports.flatMap((r) => r.completed);
    expect(new Set(all).size).toBe(all.length); // nobody completed a task another also completed
    expect(all.length).toBe(TASKS);
    expect(reports.flatMap((r) => r.staleAccepted)).toEqual([]);
    const staleRejected = reports.reduce((n, r) => n + r.staleRejected, 0);
    expect(staleRejected).toBeGreaterThan(0);
    expect(reports.filter((r) => r.completed.length > 0).length).toBeGreaterThan(1);

    const counts = await cns.countTasks();
    expect(counts.completed).toBe(TASKS);
    const completions = await countEvents(cns, 'task.completed');
    expect(completions).toBe(TASKS);
    // Every task's result is the one its accepted completion wrote.
    const page = await cns.listTasks({ status: ['completed'], limit: 500 });
    for (const t of page.items) expect(t.result).toMatch(/^done by worker-\d$/);
    await cns.close();
    console.log(
      `sqlite multi-process: ${TASKS} tasks, 8 processes, ${staleRejected} stale completions refused`,
    );
  }, 180_000);
});

async function countEvents(
  cns: Awaited<ReturnType<typeof openCoordinator>>,
  kind: 'task.completed',
): Promise<number> {
  let n = 0;
  let after = 0;
  for (;;) {
    const events = await cns.listEvents({ after, limit: 1000, kinds: [kind] });
    n += events.length;
    if (events.length < 1000) return n;
    after = events[events.length - 1]!.id;
  }
}
