/**
 * A process for test/reaper-failover.test.ts: opens a coordinator (reaper on) on the database given
 * in argv and prints a line `lead <pid> <ms since epoch>` when its reaper becomes the database's
 * leader, `follow <pid>` when it starts. Runs until killed.
 */
import { openCoordinator } from '../../src/coordinator/open-coordinator.js';

const [db, intervalArg, schema] = process.argv.slice(2);
if (!db || !intervalArg) throw new Error('usage: reaper-node DB INTERVAL_MS [SCHEMA]');
const cns = await openCoordinator({ db, schema, reaperIntervalMs: Number(intervalArg), leaseMs: 400 });
process.stdout.write(`follow ${process.pid}\n`);
let leading = false;
setInterval(() => {
  if (cns.reaper.leading && !leading) process.stdout.write(`lead ${process.pid} ${Date.now()}\n`);
  leading = cns.reaper.leading;
}, 10);
