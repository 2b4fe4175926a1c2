/**
 * For test/ops-faults.test.ts: a process that keeps a coordinator busy on PostgreSQL (32 concurrent
 * loops of create, claim and complete; every error caught, as a store failure is expected while the
 * server restarts) until it is killed. It prints "ready" once working. If it exits by itself, an
 * error escaped every handler (an unhandled 'error' event of a pg client), which is the bug the
 * test looks for.
 *
 * argv: URL
 */
import { openCoordinator } from '../../src/coordinator/open-coordinator.js';

const [url] = process.argv.slice(2);
if (!url) throw new Error('usage: pg-restart-worker URL');
const cns = await openCoordinator({ db: url, reaperIntervalMs: 100, onError: () => undefined });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let said = false;

async function loop(i: number): Promise<never> {
  let agent = null;
  for (;;) {
    try {
      agent ??= await cns.registerAgent({ name: `race-${i}`, type: 'race' });
      await cns.createTask({ type: 'race', title: `t${i}` }, 'race');
      const { claimed } = await cns.claimNext(agent);
      if (claimed) await cns.complete(claimed.task.id, claimed.leaseToken, { result: 'ok' });
      if (!said) {
        said = true;
        process.stdout.write('ready\n');
      }
    } catch {
      await sleep(20);
    }
  }
}

await Promise.all(Array.from({ length: 32 }, (_, i) => loop(i)));
