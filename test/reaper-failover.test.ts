/**
 * One lease reaper per database, with failover: three processes open the same database; one leads
 * the reaper. SIGKILL the leader: another takes over (the test prints how fast) and expired leases
 * are still reaped. On SQLite and on PostgreSQL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { openCoordinator } from '../src/coordinator/open-coordinator.js';
import { freshPostgresSchema } from './support/postgres.js';

const NODE = fileURLToPath(new URL('./support/reaper-node.ts', import.meta.url));
const INTERVAL_MS = 500;
const dir = mkdtempSync(join(tmpdir(), 'cns-reaper-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Node {
  child: ChildProcess;
  ledAt: number | null;
}

function startNode(db: string, schema?: string): Node {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', NODE, db, String(INTERVAL_MS), ...(schema ? [schema] : [])],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  const node: Node = { child, ledAt: null };
  let buffered = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      const [word, , at] = line.split(' ');
      if (word === 'lead') node.ledAt = Number(at);
    }
  });
  return node;
}

async function failover(db: string, schema?: string): Promise<void> {
  const cns = await openCoordinator({ db, schema, reaper: false, leaseMs: 400 });
  try {
    const nodes = [startNode(db, schema), startNode(db, schema), startNode(db, schema)];
    await vi.waitFor(() => expect(nodes.filter((n) => n.ledAt !== null)).toHaveLength(1), {
      timeout: 30_000,
      interval: 20,
    });
    const leader = nodes.find((n) => n.ledAt !== null)!;
    const recorded = await cns.reaperLeader();
    expect(recorded?.pid).toBe(leader.child.pid);

    // A lease that will run out after the leader is gone: only a live reaper can give it back.
    const agent = await cns.registerAgent({ name: 'holder', type: 'failover' });
    const { task } = await cns.createTask({ type: 'failover', title: 'held past its lease' }, 'test');
    const claimed = await cns.claimNext(agent, { leaseMs: 300 });
    expect(claimed.claimed?.task.id).toBe(task.id);

    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    await vi.waitFor(() => expect(nodes.filter((n) => n !== leader && n.ledAt !== null)).toHaveLength(1), {
      timeout: 30_000,
      interval: 10,
    });
    const next = nodes.find((n) => n !== leader && n.ledAt !== null)!;
    const takeover = next.ledAt! - killedAt;
    console.log(
      `${cns.backend}: a new reaper leader ${takeover} ms after the leader's SIGKILL (interval ${INTERVAL_MS} ms)`,
    );
    // Within two intervals, with room for a loaded machine (the figure above is the measurement).
    expect(takeover).toBeLessThan(2 * INTERVAL_MS + 3_000);
    await vi.waitFor(
      async () => {
        const t = await cns.getTask(task.id);
        expect(t.status).toBe('pending');
        expect(t.attempts).toBe(1);
      },
      { timeout: 30_000, interval: 50 },
    );
    expect((await cns.reaperLeader())?.pid).toBe(next.child.pid);
  } finally {
    await cns.close();
  }
}

describe('reaper failover', () => {
  it('SQLite: killing the leader hands the reaper to another process, which reaps', async () => {
    await failover(join(dir, 'cns.db'));
  });

  it('PostgreSQL: killing the leader hands the reaper to the standby, which reaps', async () => {
    const s = await freshPostgresSchema();
    try {
      await failover(s.url, s.schema);
    } finally {
      for (const c of children) c.kill('SIGKILL');
      await s.drop();
    }
  });
});
