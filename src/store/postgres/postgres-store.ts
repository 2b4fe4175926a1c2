/**
 * The PostgreSQL backend of the Store contract (store/store.ts), on node-postgres with a pool.
 *
 * - Every object lives in the store's own schema (default `cns`); connections set search_path.
 * - Time: the injected clock's now() when given, else the database server's clock (`now_ms()`),
 *   passed to every statement as `$1` (NULL meaning "the server's").
 * - Hot paths (claim, complete, progress, fail, release, heartbeats) are single statements with
 *   data-modifying CTEs (sql.ts); the rest run in short transactions.
 * - Wake-ups: LISTEN/NOTIFY plus a polling backstop (change-listener.ts).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { NormalizedBatch } from '../../core/batch.js';
import { CnsError, ConflictError, InvalidInputError, NotFoundError } from '../../core/errors.js';
import { newLeaseToken, newSessionId } from '../../core/ids.js';
import { TASK_STATUSES, type TaskStatus } from '../../core/status.js';
import type {
  Agent,
  Attempt,
  AttemptOutcome,
  ClaimedTask,
  CnsEvent,
  DependencyResult,
  Json,
  Millis,
  Question,
  Task,
  TokenRecord,
  TokenRole,
  Workflow,
} from '../../core/types.js';
import type {
  AgentRef,
  AgentRegistration,
  ChangeHint,
  LeaderInfo,
  Leadership,
  CreateTasksResult,
  Decision,
  EventFilter,
  EventSpec,
  NewToken,
  Page,
  ProgressInput,
  QuestionFilter,
  QuestionWrite,
  Store,
  StoreCapabilities,
  StoreOptions,
  TaskChange,
  TaskFilter,
  TaskSelection,
  TaskState,
} from '../store.js';
import { ChangeListener } from './change-listener.js';
import { PostgresCampaign } from './leadership.js';
import { StatementBatcher, type BatchOutcome } from './statement-batcher.js';
import {
  DEFAULT_SCHEMA,
  isConnectionError,
  runMigrations,
  unavailable,
  validateSchemaName,
} from './migrate.js';
import {
  toAgent,
  toAttempt,
  toDependency,
  toEvent,
  toTask,
  toQuestion,
  toTaskState,
  toWorkflow,
  type Row,
} from './rows.js';
import * as SQL from './sql.js';
import { validateNewToken } from '../token-input.js';
import { translatingEntryPoints } from '../entry-points.js';

export { migratePostgres } from './migrate.js';

/** int8 → number (ids and ms times fit easily), int8[] → number[]; everything else as pg does. Pool-local. */
const defaultParser = pg.types.getTypeParser as (oid: number, format?: string) => unknown;
const PG_TYPES = {
  getTypeParser(oid: number, format?: string): unknown {
    if (oid === 20) return (v: string) => Number(v);
    if (oid === 1016) {
      const parseArray = defaultParser(1016, 'text') as (v: string) => unknown[];
      return (v: string) => parseArray(v).map((x) => (x === null ? null : Number(x)));
    }
    return defaultParser(oid, format);
  },
} as unknown as pg.CustomTypesConfig;

type Queryable = pg.Pool | pg.PoolClient;

interface ClaimCall {
  agent: AgentRef;
  leaseMs: Millis;
  token: string;
  event: EventSpec;
}

/** Opens (and migrates) the store in `options.schema` (default `cns`) of the database at `url`. */
export async function openPostgresStore(
  url: string,
  options: StoreOptions & { schema?: string },
): Promise<Store> {
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const pool = new pg.Pool({
    ...sessionOptions(url, schema),
    connectionTimeoutMillis: 10_000,
    types: PG_TYPES,
    max: options.poolSize ?? 10,
    // Keep an idle agent's connection between heartbeats (every 10 s by default) instead of
    // opening a new one each time.
    idleTimeoutMillis: 60_000,
  });
  // Idle clients that lose their connection (server restart, pg_terminate_backend) are discarded by
  // the pool; without a handler the error would crash the process.
  pool.on('error', () => undefined);
  // A client may emit 'error' more than once as its server goes away (the FATAL "terminating
  // connection" message, then the lost socket), and pool.query listens only once: the second would
  // be an unhandled 'error' event that ends the process (seen in the chaos run, PostgreSQL restarted
  // under load). Every client keeps a listener of its own from its first connection; the pool, the
  // statement under way and tx() still see each failure through theirs.
  pool.on('connect', (client) => client.on('error', () => undefined));
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw unavailable(url, err);
  }
  // As in tx(): a checked-out client needs its own error listener (the migration's statement fails).
  const ignore = () => undefined;
  client.on('error', ignore);
  try {
    await runMigrations(client, schema);
    client.off('error', ignore);
    client.release();
  } catch (err) {
    client.off('error', ignore);
    client.release(true);
    await pool.end().catch(() => undefined);
    if (isConnectionError(err)) throw unavailable(url, err);
    throw err;
  }
  const store = new PostgresStore(url, pool, schema, options);
  return translatingEntryPoints(store, (err, operation) => store.mapError(err, operation));
}

class PostgresStore implements Store {
  readonly backend = 'postgres' as const;
  readonly capabilities: StoreCapabilities;
  private readonly changes: ChangeListener;
  private readonly campaigns = new Set<PostgresCampaign>();
  private closed = false;
  /** Concurrent claims of agents with the same type and capabilities share one statement. */
  private readonly claims = new StatementBatcher<ClaimCall, ClaimedTask | null>(
    (calls) => this.claimBatch(calls),
    {
      keyOf: (c) => JSON.stringify([c.agent.type, [...c.agent.capabilities].sort()]),
      idOf: (c) => c.agent.id,
    },
  );
  /** Concurrent decided changes (agents' completions, failures, releases) share one statement. */
  private readonly changeBatches = new StatementBatcher<TaskChange, Task | null>((calls) =>
    this.applyBatch(calls),
  );

  constructor(
    private readonly url: string,
    private readonly pool: pg.Pool,
    readonly schema: string,
    private readonly options: StoreOptions,
  ) {
    this.capabilities = { crossProcessWatch: true, serverClock: !options.clock };
    this.changes = new ChangeListener(
      { connectionString: url, connectionTimeoutMillis: 10_000 },
      `cns_${schema}`,
      !options.clock,
    );
  }

  // ── plumbing ──────────────────────────────────────────────────────────────────────────────────

  /** `$1` of every statement: the injected clock's time, or null for the server's clock. */
  private clockNow(): Millis | null {
    return this.options.clock ? this.options.clock.now() : null;
  }

  private get policy() {
    return this.options.policy;
  }

  private async q(sql: string, values: unknown[], on: Queryable = this.pool, name?: string): Promise<Row[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await on.query<Row>(name ? { name, text: sql, values } : { text: sql, values });
        return res.rows;
      } catch (err) {
        // A deadlock victim changed nothing: retry it (outside a transaction only). Errors are
        // translated once, at the entry point (mapError via translatingEntryPoints).
        if (on === this.pool && attempt < 4 && pgCode(err) === '40P01') continue;
        throw err;
      }
    }
  }

  private async tx<T>(fn: (c: pg.PoolClient, now: Millis) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      // Errors are translated once, at the entry point (mapError via translatingEntryPoints).
      const client = await this.pool.connect();
      let broken = false;
      // A checked-out client has no error listener of the pool's: a server that goes away between
      // two statements (a restart, pg_terminate_backend) would otherwise crash the process with an
      // unhandled 'error' event. The statement under way fails on its own; the client is discarded.
      const onError = () => {
        broken = true;
      };
      client.on('error', onError);
      try {
        const begin = await client.query<Row>(this.options.clock ? 'BEGIN' : 'BEGIN; SELECT now_ms() AS now');
        const rows = Array.isArray(begin) ? (begin[1] as pg.QueryResult<Row>).rows : [];
        const now = this.options.clock ? this.options.clock.now() : Number(rows[0]?.now);
        const result = await fn(client, now);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        const code = pgCode(err);
        if ((code === '40P01' || code === '40001' || err instanceof RetryTransaction) && attempt < 4)
          continue;
        throw err;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    }
  }

  /**
   * The one translation of this backend's driver errors (every entry point of the store goes
   * through it, naming its operation: translatingEntryPoints), so none reaches a caller raw:
   *
   * - a lost or refused connection, or a closed store: store_unavailable (migrate.ts unavailable);
   * - an illegal status change (the transition trigger, check_violation): ConflictError;
   * - a value the database refuses (SQLSTATE class 22, data exception; class 23, integrity):
   *   InvalidInputError;
   * - any other failure of the database: store_unavailable.
   *
   * Each names the operation. The store's own errors (CnsError) pass as they are.
   */
  mapError(err: unknown, operation?: string): unknown {
    if (err instanceof CnsError) return err;
    const during = operation ? ` (${operation})` : '';
    const details = operation ? { operation } : {};
    if (
      isConnectionError(err) ||
      (err instanceof Error && /after calling end on the pool/i.test(err.message))
    ) {
      const down = unavailable(this.url, err);
      return new CnsError(down.code, `${down.message}${during}`, { ...down.details, ...details });
    }
    const code = pgCode(err);
    if (code === '23514' && err instanceof Error) return new ConflictError(err.message, details);
    if (err instanceof pg.DatabaseError && code !== undefined) {
      if (code.startsWith('22') || code.startsWith('23')) {
        return new InvalidInputError(`PostgreSQL refused the input${during}: ${err.message}`, {
          ...details,
          sqlState: code,
        });
      }
      return new CnsError('store_unavailable', `PostgreSQL failed${during}: ${err.message}`, {
        ...details,
        sqlState: code,
      });
    }
    return err;
  }

  private changed(): void {
    this.changes.notify();
  }

  async now(): Promise<Millis> {
    const clock = this.clockNow();
    if (clock !== null) return clock;
    const [row] = await this.q('SELECT now_ms() AS now', []);
    return Number(row!.now);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.campaigns].map((c) => c.stop()));
    await this.changes.close();
    await this.pool.end();
  }

  // ── agents ──────────────────────────────────────────────────────────────────────────────────

  private agentFrom(row: Row): Agent {
    return toAgent(row, Number(row.now), this.policy.offlineAfterMs);
  }

  async registerAgent(input: AgentRegistration, event: EventSpec): Promise<Agent> {
    const caps = [...new Set(input.capabilities ?? [])];
    const rows = await this.q(SQL.REGISTER_AGENT, [
      this.clockNow(),
      input.name,
      input.type,
      caps,
      input.host ?? null,
      input.pid ?? null,
      jsonParam(input.clientInfo),
      newSessionId(),
      JSON.stringify(event),
    ]);
    this.changed();
    return this.agentFrom(rows[0]!);
  }

  async heartbeatAgent(
    agentId: number,
    session: string | null,
  ): Promise<{ agent: Agent; renewed: number[] }> {
    const rows = await this.q(
      SQL.HEARTBEAT_AGENT,
      [this.clockNow(), agentId, this.policy.leaseMs, session],
      this.pool,
      `cns_heartbeat_agent`,
    );
    const row = rows[0];
    if (!row) throw new NotFoundError('agent', agentId);
    return { agent: this.agentFrom(row), renewed: ((row.renewed as number[] | null) ?? []).map(Number) };
  }

  async endSession(agentId: number, session: string | null, event: EventSpec): Promise<boolean> {
    const [row] = await this.q(SQL.END_SESSION, [this.clockNow(), agentId, session, JSON.stringify(event)]);
    if (Number(row!.found) === 0) throw new NotFoundError('agent', agentId);
    const marked = Number(row!.marked) > 0;
    if (marked) this.changed();
    return marked;
  }

  async markOffline(offlineAfterMs: Millis, event: EventSpec): Promise<Agent[]> {
    const rows = await this.q(SQL.MARK_OFFLINE, [this.clockNow(), offlineAfterMs, JSON.stringify(event)]);
    if (rows.length > 0) this.changed();
    return rows.map((r) => this.agentFrom(r));
  }

  async forgetAgents(
    filter: { silentSince: Millis; names: readonly string[] | null },
    event: EventSpec,
  ): Promise<Agent[]> {
    const rows = await this.q(SQL.FORGET_AGENTS, [
      this.clockNow(),
      filter.silentSince,
      this.policy.offlineAfterMs,
      filter.names === null ? null : [...filter.names],
      JSON.stringify(event),
    ]);
    if (rows.length > 0) this.changed();
    return rows.map((r) => this.agentFrom(r));
  }

  async heldBy(agent: Pick<AgentRef, 'id' | 'session'>): Promise<ClaimedTask[]> {
    if (agent.session === null) return [];
    const rows = await this.q(SQL.HELD_BY_SESSION, [agent.id, agent.session]);
    return rows.map((row) => {
      const task = toTask(row);
      return {
        task,
        leaseToken: task.lease!.token,
        leaseExpiresAt: task.lease!.expiresAt,
        dependencies: ((row.deps as Row[] | null) ?? []).map(toDependency),
        handoff: ((row.handoff as Row[] | null) ?? []).map(toAttempt),
        questions: ((row.questions as Row[] | null) ?? []).map(toQuestion),
      };
    });
  }

  async getAgent(ref: number | string): Promise<Agent | null> {
    const where = typeof ref === 'number' ? 'WHERE a.id = $2' : 'WHERE a.name = $2';
    const rows = await this.q(`${SQL.AGENT_SELECT} ${where}`, [this.clockNow(), ref]);
    return rows[0] ? this.agentFrom(rows[0]) : null;
  }

  async listAgents(): Promise<Agent[]> {
    const rows = await this.q(`${SQL.AGENT_SELECT} WHERE a.forgotten_at IS NULL ORDER BY a.id`, [
      this.clockNow(),
    ]);
    return rows.map((r) => this.agentFrom(r));
  }

  // ── creating and reading tasks ──────────────────────────────────────────────────────────────

  async createTasks(
    batch: NormalizedBatch,
    events: { workflow: EventSpec | null; tasks: EventSpec[] },
  ): Promise<CreateTasksResult> {
    const plain =
      batch.workflow === null &&
      batch.tasks.every(
        (t) => t.dependsOnIds.length === 0 && t.dependsOnIndices.length === 0 && t.idempotencyKey === null,
      );
    if (plain) return this.createPlainTasks(batch, events.tasks);
    const result = await this.tx(async (c, now) => {
      let workflowId = batch.workflowId;
      if (workflowId !== null) {
        const wf = await c.query('SELECT id FROM workflows WHERE id = $1', [workflowId]);
        if (wf.rowCount === 0) throw new NotFoundError('workflow', workflowId);
      }

      // Existing tasks the batch refers to (dependencies by id, idempotency matches), locked so that
      // a concurrent completion either is seen here or sees the new dependents (unblock_dependents).
      const depIds = [...new Set(batch.tasks.flatMap((t) => t.dependsOnIds))];
      const keys = [
        ...new Set(batch.tasks.flatMap((t) => (t.idempotencyKey === null ? [] : [t.idempotencyKey]))),
      ];
      const existing =
        depIds.length + keys.length === 0
          ? []
          : (
              await c.query<Row>(
                `SELECT * FROM tasks WHERE id = ANY ($1::bigint[]) OR idempotency_key = ANY ($2::text[])
                 ORDER BY id FOR SHARE`,
                [depIds, keys],
              )
            ).rows;
      const byId = new Map(existing.map((r) => [Number(r.id), r]));
      const byKey = new Map(
        existing.filter((r) => r.idempotency_key !== null).map((r) => [String(r.idempotency_key), r]),
      );
      // Only the tasks to insert need their dependencies: one whose idempotency key exists is that task.
      for (const t of batch.tasks) {
        if (t.idempotencyKey !== null && byKey.has(t.idempotencyKey)) continue;
        for (const id of t.dependsOnIds) if (!byId.has(id)) throw new NotFoundError('task', id);
      }

      let workflowRow: Row | null = null;
      if (batch.workflow) {
        const wf = await c.query<Row>(
          `WITH w AS (
             INSERT INTO workflows (name, review, metadata, created_by, created_at)
             VALUES ($1, $2, $3::jsonb, $4, $5) RETURNING *
           ), ev AS (
             INSERT INTO events (at, kind, workflow_id, agent_id, actor, message, data)
             SELECT w.created_at, $6::jsonb->>'kind', w.id, ${SQL.specColumns('$6::jsonb', 'NULL', 'NULL')}
             FROM w WHERE $6::jsonb IS NOT NULL
           )
           SELECT * FROM w`,
          [
            batch.workflow.name.trim(),
            batch.workflow.review ?? false,
            JSON.stringify(batch.workflow.metadata ?? {}),
            batch.actor,
            now,
            events.workflow === null ? null : JSON.stringify(events.workflow),
          ],
        );
        workflowRow = wf.rows[0]!;
        workflowId = Number(workflowRow.id);
      }

      // Resolve each normalized task: an existing one (idempotency key), an earlier task of this
      // batch with the same key, or a new id.
      const n = batch.tasks.length;
      const matched: (Row | null)[] = [];
      const keysInBatch = new Set<string>();
      let fresh = 0;
      for (const t of batch.tasks) {
        const key = t.idempotencyKey;
        const hit = key === null ? null : (byKey.get(key) ?? null);
        matched.push(hit);
        if (hit) continue;
        if (key !== null) {
          if (keysInBatch.has(key)) continue;
          keysInBatch.add(key);
        }
        fresh++;
      }
      const ids =
        fresh === 0
          ? []
          : (
              await c.query<Row>(`SELECT nextval('tasks_id_seq') AS id FROM generate_series(1, $1::int)`, [
                fresh,
              ])
            ).rows.map((r) => Number(r.id));

      const resolvedId: number[] = [];
      const statusOf = new Map<number, TaskStatus>();
      for (const r of existing) statusOf.set(Number(r.id), r.status as TaskStatus);
      const created: boolean[] = [];
      const inserts: Record<string, Json>[] = [];
      const firstWithKey = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        const t = batch.tasks[i]!;
        const hit = matched[i];
        if (hit) {
          resolvedId.push(Number(hit.id));
          created.push(false);
          continue;
        }
        if (t.idempotencyKey !== null && firstWithKey.has(t.idempotencyKey)) {
          // The same key twice in one batch: the later one is the earlier one.
          resolvedId.push(resolvedId[firstWithKey.get(t.idempotencyKey)!]!);
          created.push(false);
          continue;
        }
        const id = ids.shift()!;
        if (t.idempotencyKey !== null) firstWithKey.set(t.idempotencyKey, i);
        const deps = [...new Set([...t.dependsOnIndices.map((j) => resolvedId[j]!), ...t.dependsOnIds])].sort(
          (a, b) => a - b,
        );
        const status: TaskStatus = deps.some((d) => statusOf.get(d) !== 'completed') ? 'blocked' : 'pending';
        statusOf.set(id, status);
        resolvedId.push(id);
        created.push(true);
        inserts.push({
          ...taskColumns(t),
          event: (events.tasks[i] ?? null) as Json,
          id,
          workflow_id: workflowId,
          run_after: t.runAfter ?? now,
          depends_on: deps,
          status,
          idempotency_key: t.idempotencyKey,
        });
      }

      const insertedRows = new Map<number, Row>();
      if (inserts.length > 0) {
        const res = await c
          .query<Row>(
            `WITH x AS (
             SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
               id bigint, workflow_id bigint, ref text, type text, requires text[], title text, spec text,
               input jsonb, priority integer, run_after bigint, depends_on bigint[], status text,
               max_attempts integer, review boolean, max_review_rounds integer, idempotency_key text, metadata jsonb,
               event jsonb)
           ), ins AS (
             INSERT INTO tasks (id, workflow_id, ref, type, requires, title, spec, input, priority, run_after,
               depends_on, status, max_attempts, review, max_review_rounds, idempotency_key, metadata,
               created_by, created_at, updated_at)
             SELECT id, workflow_id, ref, type, requires, title, spec, input, priority, run_after,
               depends_on, status, max_attempts, review, max_review_rounds, idempotency_key, metadata,
               $2, $3::bigint, $3::bigint
             FROM x ORDER BY id
             RETURNING *
           ), deps AS (
             INSERT INTO task_dependencies (task_id, depends_on_id)
             SELECT x.id, d FROM x, unnest(x.depends_on) AS d
           ), ev AS (
             INSERT INTO events (at, kind, task_id, workflow_id, agent_id, actor, message, data, to_status)
             SELECT ins.created_at, x.event->>'kind', ins.id, ins.workflow_id,
                    ${SQL.specColumns('x.event', 'NULL', 'NULL')}, ins.status
             FROM ins JOIN x ON x.id = ins.id WHERE x.event IS NOT NULL ORDER BY ins.id
           )
           SELECT * FROM ins`,
            [JSON.stringify(inserts), batch.actor, now],
          )
          .catch((err: unknown) => {
            // Another transaction inserted the same idempotency key meanwhile: run again to return it.
            if (pgCode(err) === '23505' && constraintOf(err) === 'tasks_idempotency_key_key') {
              throw new RetryTransaction('idempotency key race');
            }
            throw err;
          });
        for (const r of res.rows) insertedRows.set(Number(r.id), r);
      }

      const tasks: Task[] = new Array<Task>(n);
      const createdOut: boolean[] = new Array<boolean>(n);
      for (let i = 0; i < n; i++) {
        const id = resolvedId[i]!;
        const row = insertedRows.get(id) ?? byId.get(id);
        if (!row) throw new Error(`internal: task ${id} neither inserted nor found`);
        const inputPos = batch.inputIndex[i]!;
        tasks[inputPos] = toTask(row);
        createdOut[inputPos] = created[i]!;
      }
      return { workflowId, tasks, created: createdOut };
    }).catch((err: unknown) => {
      if (pgCode(err) === '23505' && constraintOf(err) === 'tasks_ref_unique') {
        throw new ConflictError('a task with this ref already exists in the workflow', {
          detail: detailOf(err),
        });
      }
      throw err;
    });
    this.changed();
    const workflow = result.workflowId === null ? null : await this.getWorkflow(result.workflowId);
    return { workflow, tasks: result.tasks, created: result.created };
  }

  /**
   * A batch with nothing to look up first (no workflow to create, no dependencies, no idempotency
   * keys): one statement, one round trip (sql.ts INSERT_PLAIN_TASKS), instead of a transaction of four.
   */
  private async createPlainTasks(batch: NormalizedBatch, events: EventSpec[]): Promise<CreateTasksResult> {
    const rows = batch.tasks.map((t, i) => ({
      ...taskColumns(t),
      ord: i + 1,
      run_after: t.runAfter,
      event: (events[i] ?? null) as Json,
    }));
    let inserted: Row[];
    try {
      inserted = await this.q(
        SQL.INSERT_PLAIN_TASKS,
        [this.clockNow(), JSON.stringify(rows), batch.actor, batch.workflowId],
        this.pool,
        'cns_insert_plain_tasks',
      );
    } catch (err) {
      if (pgCode(err) === '23503' && batch.workflowId !== null)
        throw new NotFoundError('workflow', batch.workflowId);
      if (pgCode(err) === '23505' && constraintOf(err) === 'tasks_ref_unique') {
        throw new ConflictError('a task with this ref already exists in the workflow', {
          detail: detailOf(err),
        });
      }
      throw err;
    }
    this.changed();
    const tasks = new Array<Task>(inserted.length);
    for (const row of inserted) tasks[batch.inputIndex[Number(row.ord) - 1]!] = toTask(row);
    const workflow = batch.workflowId === null ? null : await this.getWorkflow(batch.workflowId);
    return { workflow, tasks, created: tasks.map(() => true) };
  }

  async getTask(id: number): Promise<Task | null> {
    const rows = await this.q('SELECT * FROM tasks WHERE id = $1', [id]);
    return rows[0] ? toTask(rows[0]) : null;
  }

  async peekClaimable(agent: Pick<AgentRef, 'id' | 'type' | 'capabilities'>): Promise<Task | null> {
    const rows = await this.q(SQL.PEEK_CLAIMABLE, [
      this.clockNow(),
      agent.id,
      agent.type,
      [...agent.capabilities],
    ]);
    return rows[0] ? toTask(rows[0]) : null;
  }

  async listTasks(filter: TaskFilter = {}): Promise<Page<Task>> {
    const limit = clampLimit(filter.limit, 50, 500);
    const where: string[] = [];
    const values: unknown[] = [];
    const p = (v: unknown) => {
      values.push(v);
      return `$${values.length}`;
    };
    if (filter.status && filter.status.length > 0) where.push(`status = ANY (${p(filter.status)}::text[])`);
    if (filter.type !== undefined) where.push(`type = ${p(filter.type)}`);
    if (filter.workflowId !== undefined) where.push(`workflow_id = ${p(filter.workflowId)}`);
    if (filter.agentId !== undefined) {
      const a = p(filter.agentId);
      where.push(
        `((status = 'in_progress' AND lease_agent_id = ${a}) OR (status = 'assigned' AND assigned_to = ${a}))`,
      );
    }
    if (filter.search !== undefined && filter.search !== '') {
      where.push(`title ILIKE ${p(`%${filter.search.replace(/[\\%_]/g, (m) => `\\${m}`)}%`)}`);
    }
    if (filter.after !== undefined) where.push(`id ${filter.newestFirst ? '<' : '>'} ${p(filter.after)}`);
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY id ${filter.newestFirst ? 'DESC' : 'ASC'} LIMIT ${limit + 1}`;
    const rows = await this.q(sql, values);
    const items = rows.slice(0, limit).map(toTask);
    return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null };
  }

  async getDependencies(taskId: number): Promise<DependencyResult[]> {
    const rows = await this.q(
      `SELECT d.id, d.ref, d.title, d.status, d.result, d.result_data
       FROM task_dependencies x JOIN tasks d ON d.id = x.depends_on_id
       WHERE x.task_id = $1 ORDER BY d.id`,
      [taskId],
    );
    return rows.map(toDependency);
  }

  async getDependents(taskId: number): Promise<number[]> {
    const rows = await this.q(
      'SELECT task_id FROM task_dependencies WHERE depends_on_id = $1 ORDER BY task_id',
      [taskId],
    );
    return rows.map((r) => Number(r.task_id));
  }

  async listAttempts(taskId: number): Promise<Attempt[]> {
    const rows = await this.q('SELECT * FROM attempts WHERE task_id = $1 ORDER BY seq', [taskId]);
    return rows.map(toAttempt);
  }

  async countTasks(filter: { workflowId?: number } = {}): Promise<Record<TaskStatus, number>> {
    const rows =
      filter.workflowId === undefined
        ? await this.q('SELECT status, count(*) AS n FROM tasks GROUP BY status', [])
        : await this.q('SELECT status, count(*) AS n FROM tasks WHERE workflow_id = $1 GROUP BY status', [
            filter.workflowId,
          ]);
    const counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
    for (const r of rows) counts[r.status as TaskStatus] = Number(r.n);
    return counts;
  }

  // ── the lifecycle ───────────────────────────────────────────────────────────────────────────

  claim(agent: AgentRef, leaseMs: Millis, event: EventSpec): Promise<ClaimedTask | null> {
    return this.claims.submit({ agent, leaseMs, token: newLeaseToken(), event });
  }

  /** One CLAIM statement for a batch of agents of one type and capability set (at most one call each). */
  private async claimBatch(calls: ClaimCall[]): Promise<BatchOutcome<ClaimedTask | null>[]> {
    const { type, capabilities } = calls[0]!.agent;
    const rows = await this.q(
      SQL.CLAIM,
      [
        this.clockNow(),
        calls.map((c) => c.agent.id),
        calls.map((c) => c.agent.name),
        calls.map((c) => c.token),
        calls.map((c) => c.leaseMs),
        type,
        capabilities,
        calls.map((c) => c.agent.session),
        calls.map((c) => JSON.stringify(c.event)),
      ],
      this.pool,
      'cns_claim',
    );
    if (rows.length > 0) this.changed();
    const byOrd = new Map(rows.map((r) => [Number(r.ord), r]));
    return calls.map((call, i): BatchOutcome<ClaimedTask | null> => {
      const row = byOrd.get(i + 1);
      if (!row) return { ok: true, value: null };
      const task = toTask(row);
      return {
        ok: true,
        value: {
          task,
          leaseToken: call.token,
          leaseExpiresAt: task.lease!.expiresAt,
          dependencies: ((row.deps as Row[] | null) ?? []).map(toDependency),
          handoff: ((row.handoff as Row[] | null) ?? []).map(toAttempt),
          questions: ((row.questions as Row[] | null) ?? []).map(toQuestion),
        },
      };
    });
  }

  async untilNextScheduled(type: string): Promise<Millis | null> {
    const [row] = await this.q(SQL.NEXT_SCHEDULED, [this.clockNow(), type], this.pool, 'cns_next_scheduled');
    return row?.delay === null || row?.delay === undefined ? null : Number(row.delay);
  }

  async heartbeatTask(taskId: number, leaseToken: string): Promise<Task | null> {
    const rows = await this.q(
      SQL.HEARTBEAT_TASK,
      [this.clockNow(), taskId, leaseToken, this.policy.leaseMs],
      this.pool,
      'cns_heartbeat_task',
    );
    return rows[0] ? toTask(rows[0]) : null;
  }

  async progress(
    taskId: number,
    leaseToken: string,
    input: ProgressInput,
    event: EventSpec,
  ): Promise<Task | null> {
    const has = (k: keyof ProgressInput) => input[k] !== undefined;
    const rows = await this.q(
      SQL.PROGRESS,
      [
        this.clockNow(),
        taskId,
        leaseToken,
        has('note'),
        input.note ?? null,
        has('percent'),
        input.percent ?? null,
        has('checkpoint'),
        jsonParam(input.checkpoint),
        this.policy.leaseMs,
        JSON.stringify(event),
      ],
      this.pool,
      'cns_progress',
    );
    if (!rows[0]) return null;
    this.changed();
    return toTask(rows[0]);
  }

  apply(change: TaskChange): Promise<Task | null> {
    // Review feedback is written beside the change (FEEDBACK), in one transaction: not the agents'
    // hot path, which never carries any.
    if (change.feedback !== null) return this.tx((c) => this.applyIn(c, [change])).then(([t]) => t ?? null);
    return this.changeBatches.submit(change);
  }

  /** Decided changes on a transaction's connection: one APPLY, then their feedback; null: a guard failed. */
  private async applyIn(c: pg.PoolClient, changes: TaskChange[]): Promise<(Task | null)[]> {
    const res = await c.query<Row>({ name: 'cns_apply', text: SQL.APPLY, values: this.applyParams(changes) });
    const byOrd = new Map(res.rows.map((r) => [Number(r.ord), r]));
    const withFeedback = changes.filter((ch, i) => ch.feedback !== null && byOrd.has(i + 1));
    if (withFeedback.length > 0) {
      await c.query({
        name: 'cns_feedback',
        text: SQL.FEEDBACK,
        values: [withFeedback.map((ch) => ch.taskId), withFeedback.map((ch) => ch.feedback)],
      });
    }
    if (res.rows.length > 0) this.changed();
    return changes.map((_, i) => {
      const row = byOrd.get(i + 1);
      return row ? toTask(row) : null;
    });
  }

  /** One APPLY statement for a batch of decided changes (rows locked in task id order). */
  private async applyBatch(calls: TaskChange[]): Promise<BatchOutcome<Task | null>[]> {
    const order = calls.map((_, i) => i).sort((a, b) => calls[a]!.taskId - calls[b]!.taskId);
    const rows = await this.q(
      SQL.APPLY,
      this.applyParams(order.map((i) => calls[i]!)),
      this.pool,
      'cns_apply',
    );
    if (rows.length > 0) this.changed();
    const byOrd = new Map(rows.map((r) => [Number(r.ord), r]));
    const outcomes = new Array<BatchOutcome<Task | null>>(calls.length);
    order.forEach((callIndex, pos) => {
      const row = byOrd.get(pos + 1);
      outcomes[callIndex] = { ok: true, value: row ? toTask(row) : null };
    });
    return outcomes;
  }

  /** The parameters of SQL.APPLY for these changes, in this order. */
  private applyParams(changes: TaskChange[]): unknown[] {
    const records = changes.map((c, i) => ({
      ord: i + 1,
      id: c.taskId,
      from_status: c.from,
      token: c.token,
      to_status: c.to,
      attempts_op: c.attempts,
      rounds_op: c.reviewRounds,
      run_after_delay: c.runAfterDelayMs,
      result_op: c.result === 'keep' ? 'keep' : c.result === null ? 'clear' : 'set',
      result: c.result !== 'keep' && c.result !== null ? c.result.text : null,
      result_data: c.result !== 'keep' && c.result !== null ? c.result.data : null,
      error_op: c.error === 'keep' ? 'keep' : 'set',
      error: c.error === 'keep' ? null : c.error,
      assigned_to: c.assignedTo,
      prefer_agent_id: c.prefer?.agentId ?? null,
      prefer_for: c.prefer?.forMs ?? null,
      outcome: c.closeAttempt?.outcome ?? null,
      attempt_result: c.closeAttempt?.result ?? null,
      attempt_error: c.closeAttempt?.error ?? null,
      events: c.events,
      unblock: c.unblock,
    }));
    return [this.clockNow(), JSON.stringify(records)];
  }

  async transition(selection: TaskSelection, decide: (tasks: TaskState[]) => Decision): Promise<Task[]> {
    // The reaper looks before it locks: nothing has expired most of the time.
    if ('expiredLeases' in selection) {
      const [row] = await this.q(SQL.ANY_EXPIRED, [this.clockNow()], this.pool, 'cns_any_expired');
      if (!row?.any) return [];
    }
    const tasks = await this.tx(async (c) => {
      const rows = await this.select(c, selection);
      const decision = decide(rows.map(toTaskState));
      const changed: Task[] = [];
      if (decision.changes.length > 0) {
        const written = await this.applyIn(c, decision.changes);
        decision.changes.forEach((change, i) => {
          const task = written[i];
          if (!task) {
            throw new ConflictError(`task ${change.taskId} changed while the decision was made`, {
              taskId: change.taskId,
            });
          }
          changed.push(task);
        });
      }
      for (const w of decision.questions ?? []) await this.writeQuestion(c, w);
      if (decision.events && decision.events.length > 0) {
        await c.query(
          `INSERT INTO events (at, kind, workflow_id, agent_id, actor, message, data)
           SELECT ${SQL.NOW}, e.spec->>'kind', (e.spec->>'workflowId')::bigint, ${SQL.specColumns('e.spec', 'NULL', 'NULL')}
           FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(spec, n) ORDER BY e.n`,
          [this.clockNow(), JSON.stringify(decision.events)],
        );
      }
      return changed;
    });
    if (tasks.length > 0) this.changed();
    return tasks;
  }

  /** The rows a selection names, locked for the decision (inside the transaction). */
  private async select(c: pg.PoolClient, selection: TaskSelection): Promise<Row[]> {
    const state = `SELECT t.*, (SELECT a.name FROM agents a WHERE a.id = t.completed_by) AS author_name,
        (SELECT count(*) FROM task_dependencies x JOIN tasks d ON d.id = x.depends_on_id
         WHERE x.task_id = t.id AND d.status <> 'completed') AS open_deps
      FROM tasks t`;
    const open = "t.status NOT IN ('completed', 'failed', 'cancelled')";
    const rows = async (sql: string, values: unknown[]) => (await c.query<Row>(sql, values)).rows;
    if ('taskId' in selection) {
      const found = await rows(`${state} WHERE t.id = $1 FOR UPDATE OF t`, [selection.taskId]);
      if (found.length === 0) throw new NotFoundError('task', selection.taskId);
      return found;
    }
    if ('withDependents' in selection) {
      const root = await rows(`${state} WHERE t.id = $1 FOR UPDATE OF t`, [selection.withDependents]);
      if (root.length === 0) throw new NotFoundError('task', selection.withDependents);
      const dependents = await rows(
        `WITH RECURSIVE dep(id) AS (
           SELECT $1::bigint
           UNION
           SELECT x.task_id FROM task_dependencies x JOIN dep ON x.depends_on_id = dep.id
         )
         ${state} JOIN dep ON dep.id = t.id WHERE t.id <> $1 AND ${open} ORDER BY t.id FOR UPDATE OF t`,
        [selection.withDependents],
      );
      return [...root, ...dependents];
    }
    if ('workflowId' in selection) {
      const wf = await c.query('SELECT id FROM workflows WHERE id = $1', [selection.workflowId]);
      if (wf.rowCount === 0) throw new NotFoundError('workflow', selection.workflowId);
      return rows(`${state} WHERE t.workflow_id = $1 AND ${open} ORDER BY t.id FOR UPDATE OF t`, [
        selection.workflowId,
      ]);
    }
    if ('expiredLeases' in selection) {
      return rows(
        `${state} WHERE t.status = 'in_progress' AND t.lease_expires_at <= ${SQL.NOW}
         ORDER BY t.lease_expires_at, t.id FOR UPDATE OF t SKIP LOCKED`,
        [this.clockNow()],
      );
    }
    const { agentId, session } = selection.heldBy;
    const agent = await c.query('SELECT id FROM agents WHERE id = $1', [agentId]);
    if (agent.rowCount === 0) throw new NotFoundError('agent', agentId);
    return rows(
      `${state} WHERE t.status = 'in_progress' AND t.lease_agent_id = $1
         AND ($2::text IS NULL OR t.lease_session = $2::text) ORDER BY t.id FOR UPDATE OF t`,
      [agentId, session],
    );
  }

  /** A question write decided with its task's change (on the transaction's connection). */
  private async writeQuestion(c: pg.PoolClient, w: QuestionWrite): Promise<void> {
    if ('ask' in w) {
      const q = w.ask;
      await c.query(SQL.ASK_QUESTION, [
        this.clockNow(),
        q.taskId,
        q.askedBy.agentId,
        q.askedBy.name,
        q.for,
        q.text,
        q.choices === null ? null : JSON.stringify(q.choices),
        jsonParam(q.context ?? undefined),
      ]);
    } else if ('answer' in w) {
      const a = w.answer;
      const res = await c.query(SQL.ANSWER_QUESTION, [
        this.clockNow(),
        a.questionId,
        a.answer,
        a.by.name,
        a.by.agentId,
      ]);
      if (res.rowCount === 0) {
        throw new ConflictError(`question ${a.questionId} is not open any more`, {
          questionId: a.questionId,
        });
      }
    } else {
      await c.query(
        "UPDATE questions SET status = 'closed', closed_reason = $2 WHERE task_id = $1 AND status = 'open'",
        [w.close.taskId, w.close.reason],
      );
    }
  }

  async listQuestions(filter: QuestionFilter = {}): Promise<Question[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    const p = (v: unknown) => {
      values.push(v);
      return `$${values.length}`;
    };
    if (filter.status && filter.status.length > 0) where.push(`status = ANY (${p(filter.status)}::text[])`);
    if (filter.taskId !== undefined) where.push(`task_id = ${p(filter.taskId)}`);
    if (filter.workflowId !== undefined) where.push(`workflow_id = ${p(filter.workflowId)}`);
    if (filter.for !== undefined) where.push(`for_whom = ${p(filter.for)}`);
    const limit = clampLimit(filter.limit, 50, 500);
    const rows = await this.q(
      `SELECT * FROM questions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id ${filter.order === 'oldest' ? 'ASC' : 'DESC'} LIMIT ${limit}`,
      values,
    );
    return rows.map(toQuestion);
  }

  async getQuestion(id: number): Promise<Question | null> {
    const [row] = await this.q('SELECT * FROM questions WHERE id = $1', [id]);
    return row ? toQuestion(row) : null;
  }

  async leaseState(
    taskId: number,
    leaseToken: string,
  ): Promise<{ status: TaskStatus; tokenOutcome: AttemptOutcome | null } | null> {
    const [row] = await this.q(SQL.LEASE_STATE, [taskId, leaseToken]);
    if (!row) return null;
    return {
      status: row.status as TaskStatus,
      tokenOutcome: (row.token_outcome as AttemptOutcome | null) ?? null,
    };
  }

  // ── workflows and events ────────────────────────────────────────────────────────────────────

  private static readonly WORKFLOW_SELECT = `
    SELECT w.*, (SELECT jsonb_object_agg(c.status, c.n)
                   FROM (SELECT status, count(*) AS n FROM tasks WHERE workflow_id = w.id GROUP BY status) c) AS counts
    FROM workflows w`;

  async getWorkflow(id: number): Promise<Workflow | null> {
    const rows = await this.q(`${PostgresStore.WORKFLOW_SELECT} WHERE w.id = $1`, [id]);
    return rows[0] ? toWorkflow(rows[0]) : null;
  }

  async listWorkflows(filter: { limit?: number; after?: number } = {}): Promise<Page<Workflow>> {
    const limit = clampLimit(filter.limit, 50, 500);
    const rows = await this.q(`${PostgresStore.WORKFLOW_SELECT} WHERE w.id > $1 ORDER BY w.id LIMIT $2`, [
      filter.after ?? 0,
      limit + 1,
    ]);
    const items = rows.slice(0, limit).map(toWorkflow);
    return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null };
  }

  listEvents(filter: EventFilter = {}): Promise<CnsEvent[]> {
    return this.queryEvents(filter, 'oldest');
  }

  /**
   * The events matching `filter`: the first `limit` after the cursor (oldest first), or the latest
   * `limit` (returned oldest first too).
   */
  private async queryEvents(filter: EventFilter, take: 'oldest' | 'latest'): Promise<CnsEvent[]> {
    const limit = clampLimit(filter.limit, 100, 1000);
    const where: string[] = [];
    const values: unknown[] = [];
    const p = (v: unknown) => {
      values.push(v);
      return `$${values.length}`;
    };
    if (filter.after !== undefined) where.push(`id > ${p(filter.after)}`);
    if (filter.taskId !== undefined) where.push(`task_id = ${p(filter.taskId)}`);
    if (filter.workflowId !== undefined) where.push(`workflow_id = ${p(filter.workflowId)}`);
    if (filter.agentId !== undefined) where.push(`agent_id = ${p(filter.agentId)}`);
    if (filter.kinds && filter.kinds.length > 0) where.push(`kind = ANY (${p(filter.kinds)}::text[])`);
    const order = take === 'latest' ? 'DESC' : '';
    const rows = await this.q(
      `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id ${order} LIMIT ${limit}`,
      values,
    );
    const events = rows.map(toEvent);
    return take === 'latest' ? events.reverse() : events;
  }

  watch(listener: (hints: readonly ChangeHint[] | null) => void): () => void {
    return this.changes.add(listener);
  }

  campaign(name: string, options: { checkMs: Millis; onChange: (leading: boolean) => void }): Leadership {
    const campaign = new PostgresCampaign(
      { ...sessionOptions(this.url, this.schema), connectionTimeoutMillis: 10_000, types: PG_TYPES },
      this.schema,
      name,
      options.onChange,
      randomUUID(),
    );
    this.campaigns.add(campaign);
    return {
      get leading() {
        return campaign.leading;
      },
      stop: async () => {
        this.campaigns.delete(campaign);
        await campaign.stop();
      },
    };
  }

  async leader(name: string): Promise<LeaderInfo | null> {
    const [row] = await this.q('SELECT host, pid, since, expires_at FROM leaders WHERE name = $1', [name]);
    return row
      ? {
          name,
          host: String(row.host),
          pid: Number(row.pid),
          since: Number(row.since),
          expiresAt: Number(row.expires_at ?? 0),
        }
      : null;
  }

  // ── latest events and API tokens (appended: cns serve) ────────────────────────────────────────

  listLatestEvents(filter: Omit<EventFilter, 'after'> = {}): Promise<CnsEvent[]> {
    return this.queryEvents(filter, 'latest');
  }

  async createToken(input: NewToken): Promise<TokenRecord> {
    const t = validateNewToken(input);
    try {
      const rows = await this.q(
        `INSERT INTO tokens (name, role, agent_name, agent_type, capabilities, secret_hash, created_at)
         VALUES ($2, $3, $4, $5, $6, $7, COALESCE($1, now_ms())) RETURNING *`,
        [this.clockNow(), t.name, t.role, t.agentName, t.agentType, t.capabilities, t.secretHash],
      );
      return toTokenRecord(rows[0]!);
    } catch (err) {
      if (pgCode(err) === '23505') throw new InvalidInputError('a token with this secret already exists');
      throw err;
    }
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (await this.q('SELECT * FROM tokens ORDER BY id', [])).map(toTokenRecord);
  }

  async revokeToken(id: number): Promise<TokenRecord> {
    const rows = await this.q(
      'UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1, now_ms()) WHERE id = $2 RETURNING *',
      [this.clockNow(), id],
    );
    if (!rows[0]) throw new NotFoundError('token', id);
    return toTokenRecord(rows[0]);
  }

  async findTokenByHash(secretHash: string): Promise<TokenRecord | null> {
    const rows = await this.q('SELECT * FROM tokens WHERE secret_hash = $1', [secretHash]);
    return rows[0] ? toTokenRecord(rows[0]) : null;
  }

  async touchToken(id: number): Promise<void> {
    await this.q('UPDATE tokens SET last_used_at = COALESCE($1, now_ms()) WHERE id = $2', [
      this.clockNow(),
      id,
    ]);
  }
}

function toTokenRecord(r: Row): TokenRecord {
  const n = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  return {
    id: Number(r.id),
    name: String(r.name),
    role: r.role as TokenRole,
    agentName: r.agent_name === null ? null : String(r.agent_name),
    agentType: r.agent_type === null ? null : String(r.agent_type),
    capabilities: (r.capabilities as string[] | null) ?? [],
    createdAt: Number(r.created_at),
    lastUsedAt: n(r.last_used_at),
    revokedAt: n(r.revoked_at),
  };
}

/** The planner settings of every pool session (see sessionOptions). */
export const PLANNER_SETTINGS = '-c plan_cache_mode=force_generic_plan -c enable_seqscan=off';

/**
 * Session settings, sent as startup parameters (no extra round trip):
 * - search_path = the store's schema;
 * - plan_cache_mode = force_generic_plan: the hot paths are named (prepared) statements run
 *   thousands of times a second; planning their CTEs anew on every execution (PostgreSQL's custom
 *   plans, which it kept choosing) cost more server time than running them. Statements without a
 *   name (the reads, the dashboard's queries) are planned per execution whatever this says.
 * - enable_seqscan = off: a generic plan is built once per connection, from the table sizes of
 *   that moment, and kept; built while attempts or tasks were nearly empty it would scan them
 *   sequentially for as long as the connection lives, however large they grow. With sequential
 *   scans disabled the planner takes an index wherever one fits (every statement here has one)
 *   and still scans a table when nothing else can answer.
 * A URL's own `options` parameter is kept and extended.
 */
export function sessionOptions(url: string, schema: string): pg.PoolConfig {
  const setting = `-c search_path=${schema} ${PLANNER_SETTINGS}`;
  if (/[?&]options=/.test(url)) {
    try {
      const u = new URL(url);
      u.searchParams.set('options', `${u.searchParams.get('options') ?? ''} ${setting}`.trim());
      return { connectionString: u.toString() };
    } catch {
      // Not a URL we can rewrite: fall through (its options win; queries would miss the schema).
    }
  }
  return { connectionString: url, options: setting };
}

/** A transaction that must run again (reserved for conflicts detected in code). */
class RetryTransaction extends Error {}

function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function constraintOf(err: unknown): string | undefined {
  const c = (err as { constraint?: unknown } | null)?.constraint;
  return typeof c === 'string' ? c : undefined;
}

function detailOf(err: unknown): string | undefined {
  const d = (err as { detail?: unknown } | null)?.detail;
  return typeof d === 'string' ? d : undefined;
}

/** A new task's own columns, as the insert statements read them from JSON. */
function taskColumns(t: NormalizedBatch['tasks'][number]): Record<string, Json> {
  return {
    ref: t.ref,
    type: t.type,
    requires: t.requires,
    title: t.title,
    spec: t.spec,
    input: t.input,
    priority: t.priority,
    max_attempts: t.maxAttempts,
    review: t.review,
    max_review_rounds: t.maxReviewRounds,
    metadata: t.metadata,
  };
}

/** A Json value as a jsonb parameter; undefined and null are SQL NULL. */
function jsonParam(value: Json | undefined): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

function clampLimit(limit: number | undefined, fallback: number, max: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.max(1, Math.min(max, Math.floor(limit)));
}
