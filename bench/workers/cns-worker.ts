/**
 * A cns worker process (bench/systems/cns.ts). Modes:
 * - `drain DB NAME`: after "go", claims and completes tasks of type "bench" until none is left;
 *   prints {"completed":[ids]}.
 * - `wake DB NAME`: after "go", waits in claimNext for tasks of type "wake" and prints
 *   {"held":key,"at":ms} the moment it holds one (then completes it), until "stop".
 */
import { openCoordinator } from '../../src/coordinator/open-coordinator.js';
import { finish, nextStdinLine, send } from '../lib/children.js';
import { nowMs } from '../lib/stats.js';

const [mode, db, name] = process.argv.slice(2);
if (!mode || !db || !name) throw new Error('usage: cns-worker drain|wake DB NAME');

const cns = await openCoordinator({ db, reaper: mode === 'drain' });
const agent = await cns.registerAgent({ name, type: mode === 'drain' ? 'bench' : 'wake', pid: process.pid });
send({ ready: true });
await nextStdinLine();

const completed: number[] = [];
if (mode === 'drain') {
  for (;;) {
    const out = await cns.claimNext(agent);
    if (!out.claimed) break;
    await cns.complete(out.claimed.task.id, out.claimed.leaseToken, { result: 'ok' });
    completed.push(out.claimed.task.id);
  }
} else {
  const stop = new AbortController();
  void nextStdinLine().then(() => stop.abort());
  while (!stop.signal.aborted) {
    const out = await cns.claimNext(agent, { waitMs: 5_000, signal: stop.signal });
    if (!out.claimed) continue;
    const at = nowMs();
    const key = (out.claimed.task.input as { key: number }).key;
    send({ held: key, at });
    await cns.complete(out.claimed.task.id, out.claimed.leaseToken, { result: 'ok' });
    completed.push(key);
  }
}
await cns.close();
finish({ completed });
