/**
 * Scenario 4, fleet (cns on PostgreSQL): 10,000 simulated agents heartbeating every 10 s for 60 s,
 * from several processes (each its own store and pool) through `store.heartbeatAgent`. 1,000 of them
 * hold a task with a 20 s lease; a coordinator with the lease reaper (every second) runs throughout.
 * Reports heartbeat latency p50/p99 and whether any lease was wrongly lost: every held task must
 * still be in progress under the same token, with no task.expired and no agent.offline event.
 */
import pg from 'pg';
import { openCoordinator } from '../../src/coordinator/open-coordinator.js';
import { spawnWorker, type Child } from '../lib/children.js';
import { nowMs, percentile } from '../lib/stats.js';
import type { BenchEnv } from '../lib/types.js';

export interface FleetOptions {
  runs: number;
  agents: number;
  held: number;
  intervalMs: number;
  durationMs: number;
  leaseMs: number;
  processes: number;
}

export interface FleetRunResult {
  heartbeats: number;
  p50: number;
  p99: number;
  max: number;
  /** How late heartbeats started against their schedule (the driver's own lag), p99 ms. */
  lateP99: number;
  errors: number;
  /** Heartbeats of a holder that renewed nothing. */
  lostRenewals: number;
  /** Held tasks not still in progress under their original token at the end. */
  leasesLost: number;
  expiredEvents: number;
  offlineEvents: number;
}

export interface FleetResult {
  options: FleetOptions;
  runs: FleetRunResult[];
  errors: string[];
}

async function once(env: BenchEnv, o: FleetOptions): Promise<FleetRunResult> {
  const target = await env.pg.fresh('fleet');
  const cns = await openCoordinator({ db: target.url, leaseMs: o.leaseMs });
  const children: Child[] = [];
  const client = new pg.Client({ connectionString: target.url, options: '-c search_path=cns' });
  await client.connect();
  try {
    // The fleet is registered in bulk with SQL (registration is not what is measured).
    const ids = (
      await client.query<{ id: string }>(
        `INSERT INTO agents (name, type, registered_at, last_heartbeat_at)
         SELECT 'fleet-' || lpad(i::text, 5, '0'), 'fleet', now_ms(), now_ms() FROM generate_series(1, $1::int) AS i
         RETURNING id`,
        [o.agents],
      )
    ).rows
      .map((r) => Number(r.id))
      .sort((a, b) => a - b);
    const first = ids[0]!;
    const last = ids[ids.length - 1]!;
    if (last - first + 1 !== o.agents) throw new Error('agent ids are not consecutive');
    // The first `held` agents each claim one task through the store (a real claim and lease).
    for (let i = 0; i < o.held; i += 1000) {
      const tasks = Array.from({ length: Math.min(1000, o.held - i) }, (_, k) => ({
        type: 'fleet',
        title: `held ${i + k}`,
      }));
      await cns.createTasks({ tasks, actor: { name: 'bench', agentId: null, role: 'system' } });
    }
    const tokens = new Map<number, string>();
    for (let g = 0; g < o.held; g++) {
      const id = first + g;
      const { claimed } = await cns.claimNext(
        {
          id,
          name: `fleet-${String(g + 1).padStart(5, '0')}`,
          type: 'fleet',
          capabilities: [],
          // The worker heartbeats as this session (fleet-worker.ts): a lease belongs to its session.
          session: `fleet-${id}`,
        },
        { leaseMs: o.leaseMs },
      );
      if (!claimed) throw new Error('fleet: nothing to claim');
      tokens.set(claimed.task.id, claimed.leaseToken);
    }
    for (let p = 0; p < o.processes; p++) {
      children.push(
        spawnWorker('fleet-worker.ts', [
          target.url,
          String(first),
          String(last),
          String(o.processes),
          String(p),
          String(o.intervalMs),
          String(o.durationMs),
          String(o.leaseMs),
          String(o.held),
        ]),
      );
    }
    await Promise.all(children.map((c) => c.next((m) => (m.ready ? true : undefined))));
    const reports = children.map((c) =>
      c.next((m) =>
        Array.isArray(m.latencies)
          ? (m as { latencies: number[]; lateness: number[]; errors: number; lostRenewals: number })
          : undefined,
      ),
    );
    const start = nowMs() + 200;
    for (const c of children) c.go(`go ${start}`);
    const all = await Promise.all(reports);
    // Give the reaper a last sweep after the run, then check every held lease.
    await cns.reaper.sweep();
    const latencies = all.flatMap((r) => r.latencies);
    const lateness = all.flatMap((r) => r.lateness);
    const rows = (
      await client.query<{ id: string; status: string; lease_token: string | null }>(
        'SELECT id, status, lease_token FROM tasks WHERE id = ANY ($1::bigint[])',
        [[...tokens.keys()]],
      )
    ).rows;
    const leasesLost =
      tokens.size -
      rows.filter((r) => r.status === 'in_progress' && r.lease_token === tokens.get(Number(r.id))).length;
    const ev = (
      await client.query<{ kind: string; n: string }>(
        "SELECT kind, count(*) AS n FROM events WHERE kind IN ('task.expired', 'agent.offline') GROUP BY kind",
      )
    ).rows;
    const count = (k: string) => Number(ev.find((e) => e.kind === k)?.n ?? 0);
    return {
      heartbeats: latencies.length,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: Math.max(...latencies),
      lateP99: percentile(lateness, 99),
      errors: all.reduce((s, r) => s + r.errors, 0),
      lostRenewals: all.reduce((s, r) => s + r.lostRenewals, 0),
      leasesLost,
      expiredEvents: count('task.expired'),
      offlineEvents: count('agent.offline'),
    };
  } finally {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill();
    await client.end();
    await cns.close();
    await target.drop();
  }
}

export async function runFleet(env: BenchEnv, o: FleetOptions): Promise<FleetResult> {
  const result: FleetResult = { options: o, runs: [], errors: [] };
  for (let r = 1; r <= o.runs; r++) {
    try {
      const run = await once(env, o);
      result.runs.push(run);
      env.log(
        `fleet run ${r}/${o.runs}: ${run.heartbeats} heartbeats, p50 ${run.p50.toFixed(2)} p99 ${run.p99.toFixed(2)} max ${run.max.toFixed(1)} ms; leases lost ${run.leasesLost}, lost renewals ${run.lostRenewals}, errors ${run.errors}`,
      );
    } catch (err) {
      result.errors.push(String(err instanceof Error ? (err.stack ?? err.message) : err));
      env.log(`fleet run ${r}: ERROR ${String(err)}`);
    }
  }
  return result;
}
