/**
 * An agent process for the clock-skew test (run with skew-clock.ts imported): sweeps expired
 * leases like any cns process does, claims one task of type "skew", and reports what it saw.
 * Prints one JSON line: { localNow, taskId, leaseExpiresAt, reaped }.
 */
import { openCoordinator } from '../../src/coordinator/open-coordinator.js';

const [url, schema, name] = process.argv.slice(2);
if (!url || !schema || !name) throw new Error('usage: skewed-agent URL SCHEMA NAME');
const cns = await openCoordinator({ db: url, schema, reaper: false, leaseMs: 60_000 });
const reaped = await cns.reap();
const agent = await cns.registerAgent({ name, type: 'skew' });
const out = await cns.claimNext(agent);
process.stdout.write(
  JSON.stringify({
    localNow: Date.now(),
    taskId: out.claimed?.task.id ?? null,
    leaseExpiresAt: out.claimed?.leaseExpiresAt ?? null,
    reaped: reaped.expired.map((t) => t.id),
  }) + '\n',
);
await cns.close();
