/**
 * One heartbeat process of the fleet scenario (bench/scenarios/fleet.ts). Simulates the agents with
 * ids FIRST + P·k + INDEX (k = 0, 1, …) up to LAST: after "go START" (a monotonic-clock ms time),
 * agent g (g = id − FIRST) heartbeats at START + (g / TOTAL)·INTERVAL + j·INTERVAL until START +
 * DURATION, through `store.heartbeatAgent` (which renews the leases it holds). Agents with g < HELD
 * hold a task: a heartbeat that renews nothing for them is a wrongly lost lease.
 * Prints {"latencies":[ms…],"lateness":[ms…],"errors":n,"lostRenewals":n}.
 */
import { DEFAULT_POLICY } from '../../src/core/policy.js';
import { openStore } from '../../src/store/open.js';
import { finish, nextStdinLine, send } from '../lib/children.js';
import { nowMs } from '../lib/stats.js';

const [url, firstArg, lastArg, procsArg, indexArg, intervalArg, durationArg, leaseArg, heldArg] =
  process.argv.slice(2);
const first = Number(firstArg);
const last = Number(lastArg);
const procs = Number(procsArg);
const index = Number(indexArg);
const interval = Number(intervalArg);
const duration = Number(durationArg);
const leaseMs = Number(leaseArg);
const held = Number(heldArg);
if (!url || ![first, last, procs, index, interval, duration, leaseMs, held].every(Number.isFinite))
  throw new Error('usage: fleet-worker URL FIRST LAST PROCS INDEX INTERVAL_MS DURATION_MS LEASE_MS HELD');

const store = await openStore(url, { policy: { ...DEFAULT_POLICY, leaseMs } });
const total = last - first + 1;
const agents: number[] = [];
for (let id = first + index; id <= last; id += procs) agents.push(id);
send({ ready: true, agents: agents.length });

const start = Number((await nextStdinLine()).split(' ')[1]);
const end = start + duration;
const latencies: number[] = [];
const lateness: number[] = [];
let errors = 0;
let lostRenewals = 0;
let inFlight = 0;

// The schedule: every (agent, beat) pair, in time order.
const due: { at: number; id: number }[] = [];
for (const id of agents) {
  const phase = ((id - first) / total) * interval;
  for (let at = start + phase; at < end; at += interval) due.push({ at, id });
}
due.sort((a, b) => a.at - b.at);

function beat(id: number, at: number): void {
  const t0 = nowMs();
  lateness.push(t0 - at);
  inFlight++;
  store
    .heartbeatAgent(id, `fleet-${id}`)
    .then((res) => {
      latencies.push(nowMs() - t0);
      if (id - first < held && res.renewed.length === 0) lostRenewals++;
    })
    .catch(() => {
      errors++;
    })
    .finally(() => {
      inFlight--;
    });
}

let next = 0;
await new Promise<void>((resolve) => {
  const tick = () => {
    const now = nowMs();
    while (next < due.length && due[next]!.at <= now) {
      beat(due[next]!.id, due[next]!.at);
      next++;
    }
    if (next >= due.length) return resolve();
    setTimeout(tick, Math.max(0, due[next]!.at - nowMs()));
  };
  tick();
});
while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
await store.close();
finish({ latencies, lateness, errors, lostRenewals });
