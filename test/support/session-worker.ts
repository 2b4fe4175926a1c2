/**
 * An agent process for the chaos test: an AgentSession (registered under the name given, so a
 * restart takes the same name; heartbeats in the background renew its own session's leases) that
 * takes tasks of type "chaos" one at a time, reports progress, works for a while and completes.
 * Some tasks ("stall" in their input) make it stall on purpose: the event loop is blocked past the
 * lease (no heartbeat can run), so the lease expires and another agent takes the task; the stalled
 * agent then tries to complete with its old token, which must be refused.
 *
 * Every outcome is printed at once as one JSON line on stdout (a pipe: written synchronously), so
 * the parent has what this process did before it was killed:
 *   {"ok":ID}                — a completion accepted
 *   {"staleRefused":ID}      — a late completion refused with lease_lost
 *   {"staleAccepted":ID}     — a late completion accepted (a fencing failure)
 *
 * argv: DB NAME [SCHEMA]. Env: CHAOS_LEASE_MS (default 2000), CHAOS_WORK_MS (default 30).
 */
import { AgentSession } from '../../src/coordinator/agent-session.js';
import { openCoordinator } from '../../src/coordinator/open-coordinator.js';
import { LeaseLostError } from '../../src/core/errors.js';

const [db, name, schema] = process.argv.slice(2);
if (!db || !name) throw new Error('usage: session-worker DB NAME [SCHEMA]');
const leaseMs = Number(process.env.CHAOS_LEASE_MS ?? 2000);
const workMs = Number(process.env.CHAOS_WORK_MS ?? 30);

const say = (line: Record<string, number>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const stallCell = new Int32Array(new SharedArrayBuffer(4));

const cns = await openCoordinator({
  db,
  schema,
  leaseMs,
  heartbeatIntervalMs: Math.floor(leaseMs / 3),
  reaperIntervalMs: 100,
  retryBaseMs: 5,
  retryMaxMs: 50,
  maxAttempts: 100,
  onError: () => undefined,
});
const session = await AgentSession.start(cns, { name, type: 'chaos', pid: process.pid });

for (;;) {
  const { claimed } = await session.next({ waitMs: 500 });
  if (!claimed) {
    const counts = await cns.countTasks();
    if (counts.pending + counts.in_progress + counts.assigned + counts.blocked === 0) break;
    continue;
  }
  const { task } = claimed;
  await session.progress(task.id, { note: `working (${name})`, checkpoint: { by: name } });
  const input = task.input as { stall?: boolean } | null;
  if (input?.stall && claimed.handoff.length === 0) {
    // Freeze past the lease: no heartbeat runs, the reaper (another process's) requeues the task.
    Atomics.wait(stallCell, 0, 0, leaseMs * 1.5);
    try {
      await session.complete(task.id, { result: `late, by ${name}` });
      say({ staleAccepted: task.id });
    } catch (err) {
      if (!(err instanceof LeaseLostError)) throw err;
      say({ staleRefused: task.id });
    }
    continue;
  }
  await new Promise((r) => setTimeout(r, workMs));
  await session.complete(task.id, { result: `done by ${name}` });
  say({ ok: task.id });
}
await session.stop();
await cns.close();
