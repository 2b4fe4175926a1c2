/**
 * Claim cost must not grow with finished work: with 100,000 completed tasks in the table, the
 * claim statement reads the partial index of the claimable set, never scans the table.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../src/core/policy.js';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import { CLAIM } from '../src/store/postgres/sql.js';
import type { Store } from '../src/store/store.js';
import { freshPostgresSchema, type FreshPostgresSchema } from './support/postgres.js';

describe('postgres: the claim plan with 100,000 finished tasks', () => {
  let s: FreshPostgresSchema;
  let store: Store;
  let client: pg.Client;

  beforeAll(async () => {
    s = await freshPostgresSchema();
    store = await openPostgresStore(s.url, { policy: DEFAULT_POLICY, schema: s.schema });
    client = new pg.Client({ connectionString: s.url });
    await client.connect();
    await client.query(`SET search_path TO "${s.schema}"`);
    await client.query(`
      INSERT INTO tasks (type, title, run_after, status, max_attempts, max_review_rounds, attempts,
                         completed_by, result, created_at, updated_at, started_at, finished_at)
      SELECT 'backend', 'done ' || g, 0, 'completed', 3, 3, 1, 1, 'ok', g, g, g, g
      FROM generate_series(1, 100000) AS g`);
    await client.query('ANALYZE tasks');
  }, 120_000);

  afterAll(async () => {
    await client?.end();
    await store?.close();
    await s?.drop();
  });

  it('uses the partial indexes of the claimable set and no sequential scan of tasks', async () => {
    await store.createTasks({
      workflow: null,
      workflowId: null,
      actor: 'test',
      inputIndex: [0],
      tasks: [
        {
          ref: null,
          type: 'backend',
          title: 'the one to claim',
          spec: '',
          input: null,
          requires: [],
          priority: 0,
          runAfter: null,
          dependsOnIndices: [],
          dependsOnIds: [],
          maxAttempts: 3,
          review: false,
          maxReviewRounds: 3,
          idempotencyKey: null,
          metadata: {},
        },
      ],
    });
    const agent = await store.registerAgent({ name: 'planner', type: 'backend' });
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${CLAIM}`, [
      null,
      agent.id,
      'backend',
      [],
      'planner',
      'token',
      30_000,
    ]);
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    console.log(`claim plan with 100,000 completed tasks:\n${plan}`);
    expect(plan).toContain('tasks_pending_claim_idx');
    expect(plan).toContain('tasks_assigned_idx');
    expect(plan).not.toMatch(/Seq Scan on tasks/);
    // And the claim itself works on that table.
    const claimed = await store.claim(agent);
    expect(claimed?.task.title).toBe('the one to claim');
  }, 60_000);
});
