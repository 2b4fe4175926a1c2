/**
 * The hot statements must not slow down as finished work piles up. With 100,000 completed tasks
 * (each with its attempt row and event), the generic plans the store's sessions cache (see
 * sessionOptions in postgres-store.ts) read the partial index of the claimable set to claim and
 * the primary keys to complete, and never scan a table. A second store whose statements were
 * prepared while the tables were nearly empty still claims and completes on the large tables.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coordinator } from '../src/coordinator/coordinator.js';
import { resolveConfig } from '../src/core/config.js';
import { DEFAULT_POLICY } from '../src/core/policy.js';
import { openPostgresStore, PLANNER_SETTINGS } from '../src/store/postgres/postgres-store.js';
import { APPLY, CLAIM } from '../src/store/postgres/sql.js';
import { freshPostgresSchema, type FreshPostgresSchema } from './support/postgres.js';

/** One plain task to create. */
function oneTask(title: string) {
  return { actor: 'test', tasks: [{ type: 'backend', title }] };
}

describe('postgres: hot statement plans with 100,000 finished tasks', () => {
  let s: FreshPostgresSchema;
  let early: Coordinator;
  let client: pg.Client;

  beforeAll(async () => {
    s = await freshPostgresSchema();
    // Statements prepared on nearly empty tables: their generic plans are cached per session.
    early = new Coordinator(
      await openPostgresStore(s.url, { policy: DEFAULT_POLICY, schema: s.schema }),
      resolveConfig({ ...DEFAULT_POLICY }, {}, '/'),
      { reaper: false },
    );
    const worker = await early.registerAgent({ name: 'early', type: 'backend' });
    for (let i = 0; i < 6; i++) {
      await early.createTasks(oneTask(`early ${i}`));
      const c = (await early.claimNext(worker)).claimed;
      await early.complete(c!.task.id, c!.leaseToken, { result: 'ok' });
    }
    client = new pg.Client({ connectionString: s.url, options: PLANNER_SETTINGS });
    await client.connect();
    await client.query(`SET search_path TO "${s.schema}"`);
    await client.query(`
      INSERT INTO tasks (type, title, run_after, status, max_attempts, max_review_rounds, attempts,
                         completed_by, result, created_at, updated_at, started_at, finished_at)
      SELECT 'backend', 'done ' || g, 0, 'completed', 3, 3, 1, 1, 'ok', g, g, g, g
      FROM generate_series(1, 100000) AS g`);
    await client.query(`
      INSERT INTO attempts (task_id, seq, agent_id, agent_name, started_at, ended_at, outcome, result)
      SELECT id, 1, 1, 'old', 0, 0, 'completed', 'ok' FROM tasks WHERE title LIKE 'done %'`);
    await client.query(`
      INSERT INTO events (at, kind, task_id, agent_id, actor, from_status, to_status)
      SELECT 0, 'task.completed', id, 1, 'old', 'in_progress', 'completed' FROM tasks WHERE title LIKE 'done %'`);
    await client.query('ANALYZE tasks, attempts, events');
  }, 120_000);

  afterAll(async () => {
    await client?.end();
    await early?.close();
    await s?.drop();
  });

  async function genericPlan(sql: string): Promise<string> {
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (GENERIC_PLAN) ${sql}`);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  }

  it('claims through the partial indexes of the claimable set, with no sequential scan', async () => {
    const plan = await genericPlan(CLAIM);
    console.log(`claim plan with 100,000 completed tasks:\n${plan}`);
    expect(plan).toContain('tasks_pending_claim_idx');
    expect(plan).toContain('tasks_assigned_idx');
    expect(plan).not.toMatch(/Seq Scan/);
  });

  it('completes (a decided change) through the primary key and the running-attempt index, with no sequential scan', async () => {
    const plan = await genericPlan(APPLY);
    console.log(`complete plan with 100,000 completed tasks:\n${plan}`);
    expect(plan).toContain('tasks_pkey');
    // The running attempts are looked up by task id, not found by reading the whole index.
    expect(plan).toMatch(/using attempts_one_running_idx on attempts a\b.*\n\s+Index Cond: \(task_id = ANY/);
    expect(plan).not.toMatch(/Seq Scan/);
  });

  it('a store whose plans were cached on nearly empty tables still claims and completes', async () => {
    await early.createTasks(oneTask('the one to claim'));
    const agent = await early.registerAgent({ name: 'planner', type: 'backend' });
    const claimed = (await early.claimNext(agent)).claimed;
    expect(claimed?.task.title).toBe('the one to claim');
    const done = await early.complete(claimed!.task.id, claimed!.leaseToken, { result: 'ok' });
    expect(done.status).toBe('completed');
    const attempts = (await early.getTaskDetail(done.id)).attempts;
    expect(attempts.map((a) => a.outcome)).toEqual(['completed']);
  }, 60_000);
});
