/**
 * A worker process for the multi-process tests: claims and completes tasks of type "mp" from the
 * database given in argv until none are left, and now and then lets its lease expire on purpose
 * (forcing a reap) before trying to complete with the stale token, which must be refused.
 * Prints one JSON line: { completed: number[], staleRejected: number, staleAccepted: number[] }.
 */
import { openCoordinator } from '../../src/coordinator/open-coordinator.js';
import { LeaseLostError } from '../../src/core/errors.js';

const [db, name, staleEveryArg, schema] = process.argv.slice(2);
if (!db || !name) throw new Error('usage: claim-worker DB NAME [STALE_EVERY] [SCHEMA]');
const staleEvery = Number(staleEveryArg ?? 50);
/** Fault tests shorten the lease and make each task take a while, so kills land mid-task. */
const leaseMs = Number(process.env.CNS_WORKER_LEASE_MS ?? 60_000);
const workMs = Number(process.env.CNS_WORKER_WORK_MS ?? 0);

const cns = await openCoordinator({
  db,
  schema,
  leaseMs,
  heartbeatIntervalMs: Math.max(10, Math.floor(leaseMs / 3)),
  retryBaseMs: 5,
  retryMaxMs: 20,
  maxAttempts: 100,
  reaper: false,
});
const agent = await cns.registerAgent({ name, type: 'mp', pid: process.pid });
const completed: number[] = [];
const staleAccepted: number[] = [];
let staleRejected = 0;
let claims = 0;
let idle = 0;

for (;;) {
  // Now and then lose the lease on purpose: a 1 ms lease, expired and reaped, then a completion
  // with the old token, which must be refused.
  const stale = staleEvery > 0 && (claims + 1) % staleEvery === 0;
  const outcome = await cns.claimNext(agent, { waitMs: 100, ...(stale ? { leaseMs: 1 } : {}) });
  if (!outcome.claimed) {
    const counts = await cns.countTasks();
    if (counts.pending + counts.in_progress + counts.assigned + counts.blocked === 0) break;
    if (++idle > 600) throw new Error(`worker ${name}: no progress for a minute: ${JSON.stringify(counts)}`);
    await cns.reaper.sweep();
    continue;
  }
  idle = 0;
  claims++;
  const { task, leaseToken } = outcome.claimed;
  if (stale) {
    await new Promise((r) => setTimeout(r, 5));
    await cns.reap();
    try {
      await cns.complete(task.id, leaseToken, { result: `stale by ${name}` });
      staleAccepted.push(task.id);
    } catch (err) {
      if (!(err instanceof LeaseLostError)) throw err;
      staleRejected++;
    }
    continue;
  }
  if (workMs > 0) {
    await cns.progress(task.id, leaseToken, { note: `working (${name})` });
    await new Promise((r) => setTimeout(r, workMs));
  }
  await cns.complete(task.id, leaseToken, { result: `done by ${name}` });
  completed.push(task.id);
}
await cns.close();
process.stdout.write(JSON.stringify({ completed, staleRejected, staleAccepted }) + '\n');
