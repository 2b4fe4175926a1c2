/**
 * A chaos agent of the TypeScript kind: an AgentSession (registers under the name given, heartbeats
 * in the background) that takes tasks of type "chaos" one at a time and does what each task's input
 * asks on its first try (see ./chaos-tasks.ts): fail once, ask a question, or stall past its lease and
 * then complete late with the lost token (a fencing probe).
 *
 * Every outcome is one JSON line on stdout (written at once, so the parent has it even if this
 * process is killed next): {"ok":ID} a completion accepted, {"stalling":ID} a probe begins,
 * {"staleRefused":ID} / {"staleAccepted":ID} how a late completion ended, {"lost":ID} an ordinary
 * write refused because the lease was lost (e.g. while PostgreSQL restarted).
 *
 * argv: DB NAME [SCHEMA]. Env: CNS_LEASE_MS, CHAOS_WORK_MS (default 30), and the CNS_* policy
 * variables (read by resolveConfig).
 */
import { AgentSession } from '../../src/coordinator/agent-session.js';
import { openCoordinator } from '../../src/coordinator/open-coordinator.js';
import { LeaseLostError } from '../../src/core/errors.js';
import { firstTry, type ChaosInput } from './chaos-tasks.js';

const [db, name, schema] = process.argv.slice(2);
if (!db || !name) throw new Error('usage: session-agent DB NAME [SCHEMA]');
const workMs = Number(process.env.CHAOS_WORK_MS ?? 30);
// The run holds this process's stdin: when the run ends, however it ends, so does this agent.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
const say = (line: Record<string, number>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const stallCell = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Started again while PostgreSQL restarts: wait for it instead of failing to start.
let opened = null;
for (let tries = 0; !opened; tries++) {
  opened = await openCoordinator({ db, schema, onError: () => undefined }).catch((err: unknown) => {
    if (tries >= 100) throw err;
    return null;
  });
  if (!opened) await new Promise((r) => setTimeout(r, 200));
}
const cns = opened;
const leaseMs = cns.config.policy.leaseMs;
let session: AgentSession | null = null;
while (!session) {
  session = await AgentSession.start(cns, { name, type: 'chaos', pid: process.pid }).catch(async () => {
    await sleep(200); // the database may be restarting
    return null;
  });
}

for (;;) {
  let claimed;
  try {
    ({ claimed } = await session.next({ waitMs: 500 }));
  } catch {
    await sleep(100); // the database may be restarting
    continue;
  }
  if (!claimed) continue;
  const { task } = claimed;
  const input = (task.input ?? {}) as ChaosInput;
  const todo = firstTry(input, claimed.handoff, claimed.questions.length);
  try {
    await session.progress(task.id, { note: `working (${name})`, checkpoint: { by: name } });
    if (todo === 'stall') {
      say({ stalling: task.id });
      // Freeze past the lease: no heartbeat runs, another process's reaper requeues the task.
      Atomics.wait(stallCell, 0, 0, leaseMs * 2 + 500);
      try {
        await session.complete(task.id, { result: `late, by ${name}` });
        say({ staleAccepted: task.id });
      } catch (err) {
        if (!(err instanceof LeaseLostError)) throw err;
        say({ staleRefused: task.id });
      }
      continue;
    }
    if (todo === 'fail') {
      await session.fail(task.id, { error: `failing once on purpose (${name})`, retryable: true });
      continue;
    }
    if (todo === 'ask') {
      await session.ask(task.id, { text: `which way, ${name}?`, choices: ['left', 'right'] });
      continue;
    }
    await sleep(workMs);
    await session.complete(task.id, { result: `done by ${name}` });
    say({ ok: task.id });
  } catch (err) {
    if (err instanceof LeaseLostError) say({ lost: task.id });
    else await sleep(100); // a store failure (database restarting): the lease expires, the task returns
  }
}
