/**
 * The SQLite backend of the Store contract (store.ts), on better-sqlite3. One connection per store;
 * every state change is one `BEGIN IMMEDIATE` transaction that also appends its events; a claim is
 * one `UPDATE … RETURNING` inside it. The methods are async by contract but do their work
 * synchronously (better-sqlite3 is synchronous, and each transaction is short).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../../core/clock.js';
import { CnsError, ConflictError, InvalidInputError, NotFoundError } from '../../core/errors.js';
import { newLeaseToken, newSessionId } from '../../core/ids.js';
import type { Policy } from '../../core/policy.js';
import { isFinal, TASK_STATUSES, type TaskStatus } from '../../core/status.js';
import { deriveAgentStatus, deriveWorkflowStatus } from '../../core/derive.js';
import type {
  Agent,
  Attempt,
  AttemptOutcome,
  ClaimedTask,
  CnsEvent,
  DependencyResult,
  EventKind,
  Json,
  Millis,
  Question,
  Task,
  TokenRecord,
  TokenRole,
  Workflow,
} from '../../core/types.js';
import type { NormalizedBatch } from '../../core/batch.js';
import type {
  AgentRef,
  AgentRegistration,
  ChangeHint,
  CreateTasksResult,
  Decision,
  EventFilter,
  EventSpec,
  LeaderInfo,
  Leadership,
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
import { loadMigrations, migrate, sqliteFileError } from './migrate.js';
import { validateNewToken } from '../token-input.js';
import {
  likeContains,
  parseJson,
  TASK_COLUMNS,
  taskRowFromRaw,
  toAttempt,
  toDependency,
  toEvent,
  toJson,
  toTask,
  toQuestion,
  type AgentRow,
  type AttemptRow,
  type DependencyRow,
  type EventRow,
  type QuestionRow,
  type TaskRow,
  type WorkflowRow,
} from './sqlite-rows.js';
import { SqliteWatch } from './sqlite-watch.js';
import { SqliteCampaigns } from './sqlite-leadership.js';
import { translatingEntryPoints } from '../entry-points.js';

/** How long a connection waits for another's write lock before giving up (store_unavailable). */
export const SQLITE_BUSY_TIMEOUT_MS = 10_000;

/**
 * Waiting for the write lock. SQLite's own busy handler sleeps 1, 2, 5, 10… ms between attempts,
 * while a cns write transaction holds the lock for well under a millisecond: with several processes
 * most of that sleep is idle lock. So the connection's busy timeout is 0 and `BEGIN IMMEDIATE` is
 * retried here, sleeping from BUSY_RETRY_MIN_MS, doubling (with jitter) up to BUSY_RETRY_MAX_MS,
 * until SQLITE_BUSY_TIMEOUT_MS has passed. (Readers never wait for writers in WAL mode.)
 * Measured with 8 processes draining one file on 2 cores: 0.05–2 ms kept a waiting agent's wake-up
 * p99 at ~6 ms but spent the cores on retries (~4,000 tasks/s); 0.1–4 ms gave ~4,400–5,300 tasks/s
 * with wake-up p99 of 7–10 ms; SQLite's own handler ~5,400–7,000 tasks/s but p99 of 35–80 ms.
 */
const BUSY_RETRY_MIN_MS = 0.1;
const BUSY_RETRY_MAX_MS = 4;

/**
 * WAL pages written before a commit checkpoints them into the database file (SQLite's default is
 * 1,000). Each checkpoint syncs the WAL and the database file; a claim and a completion write about
 * a dozen pages between them, so the default would checkpoint every few dozen tasks. At 10,000
 * pages (~40 MB of WAL) the sync cost is spread over many more; the WAL file keeps that size.
 */
const WAL_AUTOCHECKPOINT_PAGES = 10_000;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks this thread for `ms` (sub-millisecond): the lock is what everyone here waits for anyway. */
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

function isBusy(err: unknown): boolean {
  return err instanceof Database.SqliteError && err.code.startsWith('SQLITE_BUSY');
}

/** Page sizes (TaskFilter, EventFilter documents them). */
const TASK_PAGE_DEFAULT = 50;
const TASK_PAGE_MAX = 500;
const EVENT_PAGE_DEFAULT = 100;
const EVENT_PAGE_MAX = 1_000;

type SqlValue = string | number | bigint | Buffer | null;
type Params = Record<string, SqlValue>;

/** What the write itself determines of an event (the rest is the coordinator's EventSpec). */
interface EventPlace {
  taskId?: number | null;
  workflowId?: number | null;
  agentId?: number | null;
  fromStatus?: TaskStatus | null;
  toStatus?: TaskStatus | null;
  /** The lease holder the write ends or renews: an EventSpec's null actor. */
  holder?: { id: number; name: string } | null;
}

/** Opens (creating its directory if needed) and migrates the SQLite store at `path`. */
export async function openSqliteStore(path: string, options: StoreOptions): Promise<Store> {
  // The CLI refuses a --db path whose folder does not exist before it gets here (src/cli/context.ts);
  // the TypeScript API keeps creating it.
  if (path !== ':memory:' && path !== '') mkdirSync(dirname(path), { recursive: true });
  const clock = options.clock ?? systemClock;
  // Processes that open a new file at once (a fleet's first start) may find it locked in ways the
  // busy handler does not wait out (a journal-mode change, a lock upgrade that SQLite refuses at
  // once to avoid a deadlock): such an open is tried again a few times before it is an error.
  // Only a refusal that came at once is tried again: one that waited out the busy timeout (a lock
  // held for long) is reported as it is.
  for (let attempt = 1; ; attempt++) {
    const started = Date.now();
    try {
      return openSqliteStoreOnce(path, options, clock);
    } catch (err) {
      const code = err instanceof CnsError ? err.details.sqliteCode : undefined;
      const busy = typeof code === 'string' && code.startsWith('SQLITE_BUSY');
      if (!busy || attempt >= OPEN_ATTEMPTS || Date.now() - started > 2_000) throw err;
      await new Promise((r) => setTimeout(r, 50 * attempt * (0.5 + Math.random())));
    }
  }
}

/** How many times a busy open is tried (see openSqliteStore). */
const OPEN_ATTEMPTS = 6;

function openSqliteStoreOnce(path: string, options: StoreOptions, clock: Clock): Store {
  let db: Database.Database;
  try {
    db = new Database(path);
  } catch (err) {
    throw translate(err, path);
  }
  try {
    db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    // Writes only when a migration is pending: a read-only file with a current schema opens.
    migrate(db, loadMigrations(), () => clock.now());
    // Preparing the statements reads the schema, which another process may hold locked while it
    // opens or migrates the same new file: the constructor still runs under the busy timeout.
    const store = new SqliteStore(db, options.policy, clock);
    // From here on every statement runs inside SqliteStore.immediate or SqliteStore.read, which
    // retry a busy lock in short steps (BUSY_RETRY_MIN_MS doubling to BUSY_RETRY_MAX_MS); the change
    // watch's data_version check keeps its last value when busy. SQLite's own busy handler would
    // sleep 1, 2, 5, 10 … 100 ms between attempts: tens of milliseconds of idle lock per write.
    db.pragma('busy_timeout = 0');
    return translatingEntryPoints(store, (err, operation) => translate(err, path, operation));
  } catch (err) {
    db.close();
    throw translate(err, path);
  }
}

/**
 * The one translation of this backend's driver errors (every entry point of the store goes through
 * it, naming its operation: translatingEntryPoints), so none reaches a caller raw:
 *
 * - SQLITE_BUSY after the busy timeout: the database is locked by someone else for too long;
 * - a read-only file or folder, or a file that cannot be opened: an error naming `file` (migrate.ts);
 * - a value the database refuses (a constraint, a type mismatch, too big): InvalidInputError;
 * - any other failure of the database, or a closed store: store_unavailable.
 *
 * Each names the operation. The store's own errors (CnsError) pass as they are.
 */
function translate(err: unknown, file: string, operation?: string): unknown {
  if (err instanceof CnsError) return err;
  const during = operation ? ` (${operation})` : '';
  const details = operation ? { operation } : {};
  if (err instanceof Database.SqliteError && err.code.startsWith('SQLITE_BUSY')) {
    return new CnsError(
      'store_unavailable',
      `the SQLite database is busy (locked by another process)${during}: ${err.message}`,
      { ...details, sqliteCode: err.code },
    );
  }
  const fileError = sqliteFileError(err, file);
  if (fileError instanceof CnsError)
    return new CnsError(fileError.code, `${fileError.message}${during}`, {
      ...fileError.details,
      ...details,
    });
  if (err instanceof Database.SqliteError) {
    if (/^SQLITE_(CONSTRAINT|MISMATCH|RANGE|TOOBIG)/.test(err.code)) {
      return new InvalidInputError(`the SQLite database refused the input${during}: ${err.message}`, {
        ...details,
        sqliteCode: err.code,
      });
    }
    return new CnsError('store_unavailable', `the SQLite database failed${during}: ${err.message}`, {
      ...details,
      sqliteCode: err.code,
    });
  }
  if (err instanceof TypeError && /database connection is not open/i.test(err.message))
    return new CnsError('store_unavailable', `the SQLite store is closed${during}`, details);
  return err;
}

function clampLimit(limit: number | undefined, def: number, max: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return def;
  return Math.max(1, Math.min(max, Math.floor(limit)));
}

/** The columns a decided change may write (TaskChange), besides updated_at. */
const CHANGEABLE_COLUMNS = [
  'status',
  'attempts',
  'review_rounds',
  'run_after',
  'result',
  'result_data',
  'completed_by',
  'error',
  'assigned_to',
  'finished_at',
  'lease_token',
  'lease_agent_id',
  'lease_agent_name',
  'lease_expires_at',
  'lease_session',
  'lease_ms',
  'prefer_agent_id',
  'prefer_until',
] as const satisfies readonly (keyof TaskRow)[];

/** A renewal: the lease's own length (lease_ms; @defaultMs for a lease taken before it was kept). */
const RENEWED_EXPIRY = 'lease_expires_at = @now + COALESCE(lease_ms, @defaultMs)';
const TOKEN_GUARD = "WHERE id = @id AND status = 'in_progress' AND lease_token = @token";
const CLAIM_SET = `status = 'in_progress', attempts = attempts + 1, started_at = COALESCE(started_at, @now),
  lease_token = @token, lease_agent_id = @agentId, lease_agent_name = @agentName, lease_expires_at = @expires,
  lease_session = @session, lease_ms = @leaseMs, assigned_to = NULL, prefer_agent_id = NULL, prefer_until = NULL,
  updated_at = @now`;
const NOT_FINAL = "status NOT IN ('completed', 'failed', 'cancelled')";

class SqliteStore implements Store {
  readonly backend = 'sqlite' as const;
  readonly capabilities: StoreCapabilities = { crossProcessWatch: true, serverClock: false };

  private readonly watcher: SqliteWatch;
  private readonly campaigns: SqliteCampaigns;
  private readonly txn: Database.Transaction<(fn: () => unknown) => unknown>;
  private readonly cache = new Map<string, Database.Statement<[Params], unknown>>();
  private readonly s;
  /** Hot-path writes waiting for the next group commit (writeBatched). */
  private batch: {
    fn: () => unknown;
    /** Whether the committed operation changed something watchers may wait for. */
    notify: (value: unknown) => boolean;
    resolve: (v: unknown) => void;
    reject: (e: unknown) => void;
  }[] = [];
  private batchScheduled = false;

  constructor(
    private readonly db: Database.Database,
    private readonly policy: Policy,
    private readonly clock: Clock,
  ) {
    this.watcher = new SqliteWatch(db);
    this.txn = db.transaction((fn: () => unknown) => fn());
    this.campaigns = new SqliteCampaigns(db, clock, (fn) => this.immediate(fn));
    const p = <R>(sql: string) => db.prepare<[Params], R>(sql);
    const p1 = <R>(sql: string) => db.prepare<[SqlValue], R>(sql);
    this.s = {
      // tasks
      taskById: p1<TaskRow>('SELECT * FROM tasks WHERE id = ?'),
      /** The hot path's read of a whole row (see TASK_COLUMNS). */
      taskRaw: db.prepare<[number], unknown[]>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ?`).raw(),
      taskByKey: p1<TaskRow>('SELECT * FROM tasks WHERE idempotency_key = ?'),
      taskStatus: p1<{ status: TaskStatus; workflow_id: number | null }>(
        'SELECT status, workflow_id FROM tasks WHERE id = ?',
      ),
      refTaken: db
        .prepare<[number, string], number>('SELECT 1 FROM tasks WHERE workflow_id = ? AND ref = ?')
        .pluck(),
      insertTask:
        p<TaskRow>(`INSERT INTO tasks (workflow_id, ref, type, requires, title, spec, input, priority,
          run_after, has_deps, status, max_attempts, review, max_review_rounds, idempotency_key, metadata,
          created_by, created_at, updated_at)
        VALUES (@workflowId, @ref, @type, @requires, @title, @spec, @input, @priority, @runAfter, @hasDeps,
          @status, @maxAttempts, @review, @maxReviewRounds, @idempotencyKey, @metadata, @actor, @now, @now)
        RETURNING *`),
      insertDep: db.prepare<[number, number], unknown>(
        'INSERT OR IGNORE INTO task_deps (task_id, depends_on) VALUES (?, ?)',
      ),
      depIds: p1<number>('SELECT depends_on FROM task_deps WHERE task_id = ? ORDER BY depends_on').pluck(),
      depIdsMany: p1<{ task_id: number; depends_on: number }>(
        'SELECT task_id, depends_on FROM task_deps WHERE task_id IN (SELECT value FROM json_each(?)) ORDER BY task_id, depends_on',
      ),
      dependencies:
        p1<DependencyRow>(`SELECT d.task_id, d.depends_on, t.ref, t.title, t.status, t.result, t.result_data
        FROM task_deps d JOIN tasks t ON t.id = d.depends_on WHERE d.task_id = ? ORDER BY d.depends_on`),
      dependents: p1<number>('SELECT task_id FROM task_deps WHERE depends_on = ? ORDER BY task_id').pluck(),
      hasDependents: p1<number>('SELECT 1 FROM task_deps WHERE depends_on = ? LIMIT 1').pluck(),
      openDeps: p1<number>(`SELECT COUNT(*) FROM task_deps d JOIN tasks t ON t.id = d.depends_on
        WHERE d.task_id = ? AND t.status <> 'completed'`).pluck(),
      unblock: p<TaskRow>(`UPDATE tasks SET status = 'pending', updated_at = @now
        WHERE status = 'blocked' AND id IN (SELECT task_id FROM task_deps WHERE depends_on = @id)
          AND NOT EXISTS (SELECT 1 FROM task_deps d JOIN tasks p ON p.id = d.depends_on
                          WHERE d.task_id = tasks.id AND p.status <> 'completed')
        RETURNING *`),
      // The claims and the completion return only the id (RETURNING * makes SQLite materialise every
      // column into a temporary table): the row is read afterwards with taskRaw.
      // A task assigned to the agent comes first. Most claims find none: a read probes for one (an
      // UPDATE that matches nothing still opens every index for writing), then the UPDATE takes it
      // inside the same IMMEDIATE transaction, so nobody can take it in between.
      assignedFor: p1<number>(`SELECT id FROM tasks WHERE status = 'assigned' AND assigned_to = ?
        ORDER BY priority DESC, id ASC LIMIT 1`).pluck(),
      claimAssigned: p<number>(`UPDATE tasks SET ${CLAIM_SET}
        WHERE id = @id AND status = 'assigned' AND assigned_to = @agentId
        RETURNING id`).pluck(),
      // A pending task kept for this agent (it asked a question, now answered) comes next.
      preferredFor: p<number>(`SELECT id FROM tasks WHERE prefer_agent_id = @agentId AND status = 'pending'
        AND prefer_until > @now AND run_after <= @now ORDER BY priority DESC, id ASC LIMIT 1`).pluck(),
      claimPreferred: p<number>(`UPDATE tasks SET ${CLAIM_SET}
        WHERE id = @id AND status = 'pending' AND prefer_agent_id = @agentId RETURNING id`).pluck(),
      // Then the queue: tasks kept for another agent wait until their time is up.
      pendingFor: p<number>(`SELECT t.id FROM tasks t
                    WHERE t.status = 'pending' AND t.type = @type AND t.run_after <= @now
                      AND (t.prefer_agent_id IS NULL OR t.prefer_until <= @now)
                      AND (t.requires = '[]' OR NOT EXISTS (SELECT 1 FROM json_each(t.requires) r
                                      WHERE r.value NOT IN (SELECT value FROM json_each(@caps))))
                    ORDER BY t.priority DESC, t.id ASC LIMIT 1`).pluck(),
      claimPending: p<number>(`UPDATE tasks SET ${CLAIM_SET}
        WHERE id = (SELECT t.id FROM tasks t
                    WHERE t.status = 'pending' AND t.type = @type AND t.run_after <= @now
                      AND (t.prefer_agent_id IS NULL OR t.prefer_until <= @now)
                      AND (t.requires = '[]' OR NOT EXISTS (SELECT 1 FROM json_each(t.requires) r
                                      WHERE r.value NOT IN (SELECT value FROM json_each(@caps))))
                    ORDER BY t.priority DESC, t.id ASC LIMIT 1)
        RETURNING id`).pluck(),
      nextScheduled: db
        .prepare<[{ type: string; now: number }], number | null>(
          `SELECT MIN(MAX(run_after, COALESCE(prefer_until, 0))) FROM tasks
             WHERE status = 'pending' AND type = @type AND MAX(run_after, COALESCE(prefer_until, 0)) > @now`,
        )
        .pluck(),
      heartbeatTask: p<TaskRow>(`UPDATE tasks SET ${RENEWED_EXPIRY} ${TOKEN_GUARD} RETURNING *`),
      progress: p<TaskRow>(`UPDATE tasks SET progress_note = COALESCE(@note, progress_note),
          progress_percent = COALESCE(@percent, progress_percent),
          progress_checkpoint = COALESCE(@checkpoint, progress_checkpoint), progress_at = @now,
          ${RENEWED_EXPIRY}, updated_at = @now
        ${TOKEN_GUARD} RETURNING *`),
      expiredLeases: p1<TaskRow>(
        "SELECT * FROM tasks WHERE status = 'in_progress' AND lease_expires_at <= ? ORDER BY lease_expires_at, id",
      ),
      heldBySession:
        p<TaskRow>(`SELECT * FROM tasks WHERE status = 'in_progress' AND lease_agent_id = @agentId
          AND (@session IS NULL OR lease_session = @session) ORDER BY id`),
      heldIds: p1<number>(
        "SELECT id FROM tasks WHERE status = 'in_progress' AND lease_agent_id = ? ORDER BY id",
      ).pluck(),
      allHeld: db.prepare<[], { id: number; lease_agent_id: number }>(
        "SELECT id, lease_agent_id FROM tasks WHERE status = 'in_progress' ORDER BY id",
      ),
      // A renewal is no change of the task (updated_at stays), as on PostgreSQL.
      renewLeases: p<number>(`UPDATE tasks SET ${RENEWED_EXPIRY}
        WHERE status = 'in_progress' AND lease_agent_id = @agentId AND lease_session = @session
        RETURNING id`).pluck(),
      subtree: p1<TaskRow>(`WITH RECURSIVE sub(id) AS (
          SELECT ? UNION SELECT d.task_id FROM task_deps d JOIN sub ON d.depends_on = sub.id)
        SELECT t.* FROM tasks t JOIN sub ON t.id = sub.id WHERE t.${NOT_FINAL} ORDER BY t.id`),
      openInWorkflow: p1<TaskRow>(`SELECT * FROM tasks WHERE workflow_id = ? AND ${NOT_FINAL} ORDER BY id`),
      countAll: db.prepare<[], { status: TaskStatus; n: number }>(
        'SELECT status, COUNT(*) AS n FROM tasks GROUP BY status',
      ),
      countWorkflow: p1<{ status: TaskStatus; n: number }>(
        'SELECT status, COUNT(*) AS n FROM tasks WHERE workflow_id = ? GROUP BY status',
      ),
      countWorkflows: p1<{ workflow_id: number; status: TaskStatus; n: number }>(`SELECT workflow_id, status,
          COUNT(*) AS n FROM tasks WHERE workflow_id IN (SELECT value FROM json_each(?)) GROUP BY workflow_id, status`),
      // attempts
      insertAttempt: db.prepare<[number, number, number, string, number, string], unknown>(
        `INSERT INTO attempts (task_id, seq, agent_id, agent_name, started_at, outcome, lease_token)
        VALUES (?, ?, ?, ?, ?, 'running', ?)`,
      ),
      tokenOutcome: db
        .prepare<[number, string], AttemptOutcome>(
          'SELECT outcome FROM attempts WHERE task_id = ? AND lease_token = ?',
        )
        .pluck(),
      attemptsOf: p1<AttemptRow>('SELECT * FROM attempts WHERE task_id = ? ORDER BY seq'),
      // No RETURNING (SQLite buffers returned rows in a temporary table, which cost more than the
      // rest of this update): the holder is known from the task's lease.
      closeAttempt: p<unknown>(`UPDATE attempts SET ended_at = @now, outcome = @outcome,
          result = COALESCE(@result, result), error = COALESCE(@error, error)
        WHERE task_id = @taskId AND outcome = 'running'`),
      agentName: p1<string>('SELECT name FROM agents WHERE id = ?').pluck(),
      // questions
      questionsOf: p1<QuestionRow>('SELECT * FROM questions WHERE task_id = ? ORDER BY id'),
      questionById: p1<QuestionRow>('SELECT * FROM questions WHERE id = ?'),
      insertQuestion: p<unknown>(`INSERT INTO questions (task_id, workflow_id, attempt_seq, asked_by_agent_id,
          asked_by_name, for_whom, text, choices, context, asked_at, status)
        VALUES (@taskId, @workflowId, (SELECT MAX(seq) FROM attempts WHERE task_id = @taskId), @agentId, @agentName,
          @for, @text, @choices, @context, @now, 'open')`),
      answerQuestion:
        p<unknown>(`UPDATE questions SET status = 'answered', answer = @answer, answered_by = @by,
          answered_by_agent_id = @byAgentId, answered_at = @now
        WHERE id = @id AND status = 'open'`),
      closeQuestions: p<unknown>(`UPDATE questions SET status = 'closed', closed_reason = @reason
        WHERE task_id = @taskId AND status = 'open'`),
      progressAttempt: p<unknown>(`UPDATE attempts SET note = COALESCE(@note, note),
          percent = COALESCE(@percent, percent), checkpoint = COALESCE(@checkpoint, checkpoint)
        WHERE task_id = @id AND outcome = 'running'`),
      feedback: db.prepare<[string, number, number], unknown>(
        'UPDATE attempts SET feedback = ? WHERE task_id = ? AND seq = (SELECT MAX(seq) FROM attempts WHERE task_id = ?)',
      ),
      // agents
      upsertAgent: p<AgentRow>(`INSERT INTO agents (name, type, capabilities, host, pid, client_info,
          registered_at, last_heartbeat_at, session)
        VALUES (@name, @type, @capabilities, @host, @pid, @clientInfo, @now, @now, @session)
        ON CONFLICT (name) DO UPDATE SET type = excluded.type, capabilities = excluded.capabilities,
          host = excluded.host, pid = excluded.pid, client_info = excluded.client_info,
          last_heartbeat_at = excluded.last_heartbeat_at, session = excluded.session,
          deregistered_at = NULL, offline_marked_at = NULL, forgotten_at = NULL
        RETURNING *`),
      agentById: p1<AgentRow>('SELECT * FROM agents WHERE id = ?'),
      agentByName: p1<AgentRow>('SELECT * FROM agents WHERE name = ?'),
      agents: db.prepare<[], AgentRow>('SELECT * FROM agents WHERE forgotten_at IS NULL ORDER BY id'),
      heartbeatAgent: p<AgentRow>(`UPDATE agents SET last_heartbeat_at = @now, offline_marked_at = NULL,
        forgotten_at = NULL WHERE id = @id RETURNING *`),
      forgetAgents: p<AgentRow>(`UPDATE agents SET forgotten_at = @now
        WHERE forgotten_at IS NULL AND last_heartbeat_at <= @cutoff
          AND (deregistered_at IS NOT NULL OR last_heartbeat_at < @now - @offlineAfterMs)
          AND (@names IS NULL OR name IN (SELECT value FROM json_each(@names)))
          AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.status = 'in_progress' AND t.lease_agent_id = agents.id)
        RETURNING *`),
      /** Marks the agent deregistered when the ending session is its current one (or for any session). */
      endSession: p<unknown>(
        'UPDATE agents SET deregistered_at = @now WHERE id = @id AND (@session IS NULL OR session = @session)',
      ),
      markOffline: p<AgentRow>(`UPDATE agents SET offline_marked_at = @now
        WHERE deregistered_at IS NULL AND offline_marked_at IS NULL AND last_heartbeat_at < @cutoff
        RETURNING *`),
      // workflows
      insertWorkflow: p<WorkflowRow>(`INSERT INTO workflows (name, review, created_by, created_at, metadata)
        VALUES (@name, @review, @actor, @now, @metadata) RETURNING *`),
      workflowById: p1<WorkflowRow>('SELECT * FROM workflows WHERE id = ?'),
      // events
      insertEvent: db.prepare<
        [
          number,
          EventKind,
          number | null,
          number | null,
          number | null,
          string,
          string | null,
          string | null,
          string | null,
          string | null,
        ],
        unknown
      >(`INSERT INTO events (at, kind, task_id, workflow_id, agent_id, actor, from_status, to_status, message, data)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    };
  }

  async now(): Promise<Millis> {
    return this.clock.now();
  }

  async close(): Promise<void> {
    if (this.batch.length > 0 && this.db.open) this.flushBatch();
    this.campaigns.closeAll();
    this.watcher.close();
    if (this.db.open) this.db.close();
  }

  watch(listener: (hints: readonly ChangeHint[] | null) => void): () => void {
    return this.watcher.watch(listener);
  }

  campaign(name: string, options: { checkMs: Millis; onChange: (leading: boolean) => void }): Leadership {
    return this.campaigns.campaign(name, options.checkMs, options.onChange);
  }

  async leader(name: string): Promise<LeaderInfo | null> {
    return this.read(() => this.campaigns.leader(name));
  }

  // ── plumbing ──────────────────────────────────────────────────────────────────────────────────

  /** Runs `fn` in one BEGIN IMMEDIATE transaction; wakes watchers after a commit when `notify`. */
  private write<R>(fn: () => R, notify = true): R {
    // Errors are translated once, at the entry point (translatingEntryPoints).
    const result = this.immediate(fn);
    if (notify) this.watcher.notify();
    return result;
  }

  /** `BEGIN IMMEDIATE`, `fn`, `COMMIT`, waiting for the write lock with short sleeps (see BUSY_RETRY_MIN_MS). */
  private immediate<R>(fn: () => R): R {
    let deadline = 0;
    let delay = BUSY_RETRY_MIN_MS;
    for (;;) {
      try {
        return this.txn.immediate(fn) as R;
      } catch (err) {
        if (!isBusy(err)) throw err;
        const now = Date.now();
        if (deadline === 0) deadline = now + SQLITE_BUSY_TIMEOUT_MS;
        else if (now >= deadline) throw err;
        sleepSync(delay * (0.5 + Math.random()));
        delay = Math.min(BUSY_RETRY_MAX_MS, delay * 2);
      }
    }
  }

  /**
   * The agents' hot path (claim, complete, progress, …): like `write`, but the operations called in
   * the same turn of the event loop share one transaction (group commit), each inside its own
   * savepoint, so one that fails changes nothing and the others still commit. Each still returns
   * only after the commit: durable, and atomic on its own. Concurrent workers in one process thus
   * pay one commit (and write each touched page once) per round instead of one per operation.
   * `notify` says, from the operation's result, whether watchers are woken after the commit: an
   * operation that changed nothing a waiter could want (a claim that found no task) must not wake
   * them, or every waiting agent would claim again at once, for ever.
   */
  private writeBatched<R>(fn: () => R, notify: boolean | ((value: R) => boolean) = true): Promise<R> {
    const wakes = typeof notify === 'function' ? (notify as (value: unknown) => boolean) : () => notify;
    return new Promise<R>((resolve, reject) => {
      this.batch.push({ fn, notify: wakes, resolve: resolve as (v: unknown) => void, reject });
      if (!this.batchScheduled) {
        this.batchScheduled = true;
        setImmediate(() => this.flushBatch());
      }
    });
  }

  private flushBatch(): void {
    this.batchScheduled = false;
    const ops = this.batch;
    this.batch = [];
    if (ops.length === 0) return;
    if (!this.db.open) {
      for (const op of ops) op.reject(new CnsError('store_unavailable', 'the SQLite store is closed'));
      return;
    }
    if (ops.length === 1) {
      const op = ops[0]!;
      let value: unknown;
      try {
        value = this.write(op.fn, false);
      } catch (err) {
        op.reject(err);
        return;
      }
      if (op.notify(value)) this.watcher.notify();
      op.resolve(value);
      return;
    }
    let outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    // First without savepoints (each costs two statements): if an operation throws, the whole
    // transaction rolls back and the batch runs again with a savepoint around each operation.
    const run = (savepoints: boolean) =>
      this.immediate(() => {
        outcomes = [];
        for (const op of ops) {
          if (!savepoints) {
            outcomes.push({ ok: true, value: op.fn() });
            continue;
          }
          try {
            outcomes.push({ ok: true, value: this.txn(op.fn) });
          } catch (error) {
            // A failure that ended the whole transaction (I/O, full disk): nothing committed.
            if (!this.db.inTransaction) throw error;
            outcomes.push({ ok: false, error });
          }
        }
      });
    try {
      try {
        run(false);
      } catch (err) {
        if (isBusy(err)) throw err;
        run(true);
      }
    } catch (err) {
      for (const op of ops) op.reject(err);
      return;
    }
    let notify = false;
    ops.forEach((op, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) {
        notify ||= op.notify(outcome.value);
        op.resolve(outcome.value);
      } else {
        op.reject(outcome.error);
      }
    });
    if (notify) this.watcher.notify();
  }

  /** Runs `fn` in one read transaction (a consistent snapshot across several statements). */
  private read<R>(fn: () => R): R {
    let deadline = 0;
    let delay = BUSY_RETRY_MIN_MS;
    for (;;) {
      try {
        return this.txn.deferred(fn) as R;
      } catch (err) {
        const now = Date.now();
        if (!isBusy(err) || (deadline !== 0 && now >= deadline)) throw err;
        if (deadline === 0) deadline = now + SQLITE_BUSY_TIMEOUT_MS;
        sleepSync(delay * (0.5 + Math.random()));
        delay = Math.min(BUSY_RETRY_MAX_MS, delay * 2);
      }
    }
  }

  /** Appends an event: the coordinator's spec, placed by this write (ids, statuses, the holder). */
  private event(spec: EventSpec, place: EventPlace, at: Millis): void {
    const byHolder = spec.actor === null;
    this.s.insertEvent.run(
      at,
      spec.kind,
      place.taskId ?? null,
      place.workflowId ?? null,
      spec.agentId ?? (byHolder ? (place.holder?.id ?? null) : (place.agentId ?? null)),
      spec.actor ?? place.holder?.name ?? 'agent',
      place.fromStatus ?? null,
      place.toStatus ?? null,
      spec.message,
      toJson(spec.data),
    );
  }

  private stmt<R>(sql: string): Database.Statement<[Params], R> {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare<[Params], unknown>(sql);
      this.cache.set(sql, s);
    }
    return s as Database.Statement<[Params], R>;
  }

  private task(row: TaskRow): Task {
    return toTask(row, row.has_deps === 1 ? this.s.depIds.all(row.id) : []);
  }

  private tasks(rows: TaskRow[]): Task[] {
    const withDeps = rows.filter((r) => r.has_deps === 1).map((r) => r.id);
    const deps = new Map<number, number[]>();
    if (withDeps.length > 0) {
      for (const d of this.s.depIdsMany.all(JSON.stringify(withDeps))) {
        const list = deps.get(d.task_id);
        if (list) list.push(d.depends_on);
        else deps.set(d.task_id, [d.depends_on]);
      }
    }
    return rows.map((r) => toTask(r, deps.get(r.id) ?? []));
  }

  private mustTask(id: number): TaskRow {
    const row = this.s.taskById.get(id);
    if (!row) throw new NotFoundError('task', id);
    return row;
  }

  private mustAgent(id: number): AgentRow {
    const row = this.s.agentById.get(id);
    if (!row) throw new NotFoundError('agent', id);
    return row;
  }

  private agent(row: AgentRow, held: number[], now: Millis): Agent {
    return {
      id: row.id,
      name: row.name,
      type: row.type,
      capabilities: JSON.parse(row.capabilities) as string[],
      host: row.host,
      pid: row.pid,
      clientInfo: parseJson(row.client_info),
      registeredAt: row.registered_at,
      lastHeartbeatAt: row.last_heartbeat_at,
      deregisteredAt: row.deregistered_at,
      session: row.session,
      status: deriveAgentStatus(
        {
          lastHeartbeatAt: row.last_heartbeat_at,
          deregisteredAt: row.deregistered_at,
          heldCount: held.length,
        },
        now,
        this.policy.offlineAfterMs,
      ),
      heldTasks: held,
    };
  }

  private workflow(row: WorkflowRow, counts: Partial<Record<TaskStatus, number>>): Workflow {
    return {
      id: row.id,
      name: row.name,
      createdBy: row.created_by,
      createdAt: row.created_at,
      metadata: JSON.parse(row.metadata) as Record<string, Json>,
      counts,
      status: deriveWorkflowStatus(counts),
    };
  }

  private workflowCounts(id: number): Partial<Record<TaskStatus, number>> {
    const counts: Partial<Record<TaskStatus, number>> = {};
    for (const c of this.s.countWorkflow.all(id)) counts[c.status] = c.n;
    return counts;
  }

  /** The lifecycle's view of a task row (the author's name and open dependencies looked up). */
  private taskState(row: TaskRow): TaskState {
    return {
      id: row.id,
      workflowId: row.workflow_id,
      status: row.status,
      attempts: row.attempts,
      maxAttempts: row.max_attempts,
      review: row.review === 1,
      reviewRounds: row.review_rounds,
      maxReviewRounds: row.max_review_rounds,
      lease:
        row.status === 'in_progress' && row.lease_token !== null
          ? { token: row.lease_token, agentId: row.lease_agent_id!, agentName: row.lease_agent_name ?? '' }
          : null,
      assignedTo: row.assigned_to,
      completedBy: row.completed_by,
      authorName: row.completed_by === null ? null : (this.s.agentName.get(row.completed_by) ?? null),
      openDependencies: row.has_deps === 1 ? this.s.openDeps.get(row.id)! : 0,
    };
  }

  /**
   * Writes one decided change inside the current write transaction: the task row (if it is still in
   * `from` under `token`), the attempt's end, feedback, events, and the dependents it unblocks.
   * Returns the row as written, or null when a guard failed (nothing written).
   */
  private applyChange(c: TaskChange, now: Millis): TaskRow | null {
    const raw = this.s.taskRaw.get(c.taskId);
    if (raw === undefined) return null;
    const before = taskRowFromRaw(raw);
    if (before.status !== c.from || (c.token !== null && before.lease_token !== c.token)) return null;
    const holder =
      before.lease_agent_id !== null
        ? { id: before.lease_agent_id, name: before.lease_agent_name ?? 'agent' }
        : null;
    const result =
      c.result === 'keep'
        ? { result: before.result, resultData: before.result_data, completedBy: before.completed_by }
        : c.result === null
          ? { result: null, resultData: null, completedBy: null }
          : { result: c.result.text, resultData: toJson(c.result.data), completedBy: holder?.id ?? null };
    const after: TaskRow = {
      ...before,
      status: c.to,
      attempts:
        c.attempts === 'give_back'
          ? Math.max(before.attempts - 1, 0)
          : c.attempts === 'reset'
            ? 0
            : before.attempts,
      review_rounds:
        c.reviewRounds === 'increment'
          ? before.review_rounds + 1
          : c.reviewRounds === 'reset'
            ? 0
            : before.review_rounds,
      run_after: c.runAfterDelayMs === null ? before.run_after : now + c.runAfterDelayMs,
      result: result.result,
      result_data: result.resultData,
      completed_by: result.completedBy,
      error: c.error === 'keep' ? before.error : c.error,
      assigned_to: c.to === 'assigned' ? c.assignedTo : null,
      finished_at: isFinal(c.to) ? now : null,
      lease_token: null,
      lease_agent_id: null,
      lease_agent_name: null,
      lease_expires_at: null,
      lease_session: null,
      lease_ms: null,
      prefer_agent_id: c.prefer?.agentId ?? null,
      prefer_until: c.prefer ? now + c.prefer.forMs : null,
      updated_at: now,
    };
    this.writeRow(before, after);
    if (c.closeAttempt) {
      this.s.closeAttempt.run({
        taskId: c.taskId,
        now,
        outcome: c.closeAttempt.outcome,
        result: c.closeAttempt.result,
        error: c.closeAttempt.error,
      });
    }
    if (c.feedback !== null) this.s.feedback.run(c.feedback, c.taskId, c.taskId);
    const place = {
      taskId: c.taskId,
      workflowId: before.workflow_id,
      fromStatus: before.status,
      toStatus: after.status,
      holder,
    };
    for (const spec of c.events) this.event(spec, place, now);
    if (after.status === 'completed' && c.unblock) this.unblockDependents(c.taskId, now, c.unblock, holder);
    return after;
  }

  /**
   * Writes the columns a change changed (every column named in an UPDATE costs: SQLite maintains
   * each index on a column named, changed or not); one prepared statement per set of columns.
   */
  private writeRow(before: TaskRow, after: TaskRow): void {
    const params: Params = { id: after.id, updated_at: after.updated_at };
    const set: string[] = [];
    for (const col of CHANGEABLE_COLUMNS) {
      if (before[col] === after[col]) continue;
      set.push(`${col} = @${col}`);
      params[col] = after[col];
    }
    set.push('updated_at = @updated_at');
    this.stmt(`UPDATE tasks SET ${set.join(', ')} WHERE id = @id`).run(params);
  }

  /**
   * The questions of a task, oldest first: read only when one of its attempts asked (most tasks
   * never ask, and a claim should not pay for a query it does not need).
   */
  private questionsOf(taskId: number, attempts: { outcome: string }[]): Question[] {
    if (!attempts.some((a) => a.outcome === 'asked')) return [];
    return this.s.questionsOf.all(taskId).map(toQuestion);
  }

  /** A question write decided with its task's change (inside the same write transaction). */
  private writeQuestion(w: QuestionWrite, now: Millis): void {
    if ('ask' in w) {
      const q = w.ask;
      const task = this.s.taskStatus.get(q.taskId);
      this.s.insertQuestion.run({
        taskId: q.taskId,
        workflowId: task?.workflow_id ?? null,
        agentId: q.askedBy.agentId,
        agentName: q.askedBy.name,
        for: q.for,
        text: q.text,
        choices: q.choices === null ? null : JSON.stringify(q.choices),
        context: toJson(q.context),
        now,
      });
    } else if ('answer' in w) {
      const a = w.answer;
      const written = this.s.answerQuestion.run({
        id: a.questionId,
        answer: a.answer,
        by: a.by.name,
        byAgentId: a.by.agentId,
        now,
      });
      if (written.changes === 0) {
        throw new ConflictError(`question ${a.questionId} is not open any more`, {
          questionId: a.questionId,
        });
      }
    } else {
      this.s.closeQuestions.run({ taskId: w.close.taskId, reason: w.close.reason });
    }
  }

  /** Dependents of `taskId` whose dependencies are now all completed: blocked → pending. */
  private unblockDependents(
    taskId: number,
    now: Millis,
    spec: EventSpec,
    holder: { id: number; name: string } | null,
  ): void {
    if (this.s.hasDependents.get(taskId) === undefined) return;
    for (const row of this.s.unblock.all({ id: taskId, now })) {
      this.event(
        spec,
        { taskId: row.id, workflowId: row.workflow_id, fromStatus: 'blocked', toStatus: 'pending', holder },
        now,
      );
    }
  }

  // ── agents ────────────────────────────────────────────────────────────────────────────────────

  async registerAgent(input: AgentRegistration, event: EventSpec): Promise<Agent> {
    return this.write(() => {
      const now = this.clock.now();
      const row = this.s.upsertAgent.get({
        name: input.name,
        type: input.type,
        capabilities: JSON.stringify(input.capabilities ?? []),
        host: input.host ?? null,
        pid: input.pid ?? null,
        clientInfo: toJson(input.clientInfo ?? null),
        now,
        session: newSessionId(),
      })!;
      this.event(event, { agentId: row.id }, now);
      return this.agent(row, this.s.heldIds.all(row.id), now);
    });
  }

  async heartbeatAgent(
    agentId: number,
    session: string | null,
  ): Promise<{ agent: Agent; renewed: number[] }> {
    return this.write(() => {
      const now = this.clock.now();
      const row = this.s.heartbeatAgent.get({ id: agentId, now });
      if (!row) throw new NotFoundError('agent', agentId);
      const renewed =
        session === null
          ? []
          : this.s.renewLeases
              .all({ agentId, session, now, defaultMs: this.policy.leaseMs })
              .sort((a, b) => a - b);
      return { agent: this.agent(row, this.s.heldIds.all(agentId), now), renewed };
    }, false);
  }

  async endSession(agentId: number, session: string | null, event: EventSpec): Promise<boolean> {
    return this.write(() => {
      const now = this.clock.now();
      this.mustAgent(agentId);
      const marked = this.s.endSession.run({ id: agentId, now, session }).changes > 0;
      if (marked) this.event(event, { agentId }, now);
      return marked;
    });
  }

  async markOffline(offlineAfterMs: Millis, event: EventSpec): Promise<Agent[]> {
    const offline = this.write(() => {
      const now = this.clock.now();
      return this.s.markOffline.all({ now, cutoff: now - offlineAfterMs }).map((a) => {
        this.event(event, { agentId: a.id }, now);
        return this.agent(a, this.s.heldIds.all(a.id), now);
      });
    }, false);
    if (offline.length > 0) this.watcher.notify();
    return offline;
  }

  async forgetAgents(
    filter: { silentSince: Millis; names: readonly string[] | null },
    event: EventSpec,
  ): Promise<Agent[]> {
    return this.write(() => {
      const now = this.clock.now();
      return this.s.forgetAgents
        .all({
          now,
          cutoff: filter.silentSince,
          offlineAfterMs: this.policy.offlineAfterMs,
          names: filter.names === null ? null : JSON.stringify(filter.names),
        })
        .map((a) => {
          this.event(event, { agentId: a.id }, now);
          return this.agent(a, [], now);
        });
    });
  }

  async heldBy(agent: Pick<AgentRef, 'id' | 'session'>): Promise<ClaimedTask[]> {
    if (agent.session === null) return [];
    return this.read(() =>
      this.s.heldBySession.all({ agentId: agent.id, session: agent.session }).map((row) => {
        const attempts = this.s.attemptsOf.all(row.id);
        const dependencies = row.has_deps === 1 ? this.s.dependencies.all(row.id).map(toDependency) : [];
        return {
          task: this.task(row),
          leaseToken: row.lease_token!,
          leaseExpiresAt: row.lease_expires_at!,
          dependencies,
          // The earlier attempts: all but the running one (this lease's).
          handoff: attempts.filter((a) => a.outcome !== 'running').map(toAttempt),
          questions: this.questionsOf(
            row.id,
            attempts.map((a) => ({ outcome: a.outcome })),
          ),
        };
      }),
    );
  }

  async getAgent(ref: number | string): Promise<Agent | null> {
    return this.read(() => {
      const row = typeof ref === 'number' ? this.s.agentById.get(ref) : this.s.agentByName.get(ref);
      return row ? this.agent(row, this.s.heldIds.all(row.id), this.clock.now()) : null;
    });
  }

  async listAgents(): Promise<Agent[]> {
    return this.read(() => {
      const now = this.clock.now();
      const held = new Map<number, number[]>();
      for (const h of this.s.allHeld.all()) {
        const list = held.get(h.lease_agent_id);
        if (list) list.push(h.id);
        else held.set(h.lease_agent_id, [h.id]);
      }
      return this.s.agents.all().map((row) => this.agent(row, held.get(row.id) ?? [], now));
    });
  }

  // ── creating and reading tasks ────────────────────────────────────────────────────────────────

  async createTasks(
    batch: NormalizedBatch,
    events: { workflow: EventSpec | null; tasks: EventSpec[] },
  ): Promise<CreateTasksResult> {
    return this.write(() => {
      const now = this.clock.now();
      const actor = batch.actor;
      let workflowId = batch.workflowId;
      if (batch.workflow) {
        const wf = this.s.insertWorkflow.get({
          name: batch.workflow.name,
          review: batch.workflow.review ? 1 : 0,
          actor,
          now,
          metadata: JSON.stringify(batch.workflow.metadata ?? {}),
        })!;
        workflowId = wf.id;
        if (events.workflow) this.event(events.workflow, { workflowId }, now);
      } else if (workflowId !== null && !this.s.workflowById.get(workflowId)) {
        throw new NotFoundError('workflow', workflowId);
      }

      const ids: number[] = [];
      const statuses: TaskStatus[] = [];
      const rows: TaskRow[] = [];
      const deps: number[][] = [];
      const created: boolean[] = [];
      batch.tasks.forEach((t, k) => {
        if (t.idempotencyKey !== null) {
          const existing = this.s.taskByKey.get(t.idempotencyKey);
          if (existing) {
            ids.push(existing.id);
            statuses.push(existing.status);
            rows.push(existing);
            deps.push(existing.has_deps === 1 ? this.s.depIds.all(existing.id) : []);
            created.push(false);
            return;
          }
        }
        if (workflowId !== null && t.ref !== null && this.s.refTaken.get(workflowId, t.ref) !== undefined) {
          throw new ConflictError(`workflow ${workflowId} already has a task with ref "${t.ref}"`, {
            workflowId,
            ref: t.ref,
          });
        }
        const depIds = new Set<number>();
        let blocked = false;
        for (const i of t.dependsOnIndices) {
          depIds.add(ids[i]!);
          if (statuses[i] !== 'completed') blocked = true;
        }
        for (const id of t.dependsOnIds) {
          const dep = this.s.taskStatus.get(id);
          if (!dep) throw new NotFoundError('task', id);
          depIds.add(id);
          if (dep.status !== 'completed') blocked = true;
        }
        const status: TaskStatus = blocked ? 'blocked' : 'pending';
        const row = this.s.insertTask.get({
          workflowId,
          ref: t.ref,
          type: t.type,
          requires: JSON.stringify(t.requires),
          title: t.title,
          spec: t.spec,
          input: toJson(t.input),
          priority: t.priority,
          runAfter: t.runAfter ?? now,
          hasDeps: depIds.size > 0 ? 1 : 0,
          status,
          maxAttempts: t.maxAttempts,
          review: t.review ? 1 : 0,
          maxReviewRounds: t.maxReviewRounds,
          idempotencyKey: t.idempotencyKey,
          metadata: JSON.stringify(t.metadata),
          actor,
          now,
        })!;
        const sorted = [...depIds].sort((a, b) => a - b);
        for (const d of sorted) this.s.insertDep.run(row.id, d);
        ids.push(row.id);
        statuses.push(status);
        rows.push(row);
        deps.push(sorted);
        created.push(true);
        const spec = events.tasks[k];
        if (spec) this.event(spec, { taskId: row.id, workflowId, toStatus: status }, now);
      });

      const tasks = new Array<Task>(rows.length);
      const createdInOrder = new Array<boolean>(rows.length);
      rows.forEach((row, k) => {
        const at = batch.inputIndex[k] ?? k;
        tasks[at] = toTask(row, deps[k]!);
        createdInOrder[at] = created[k]!;
      });
      let workflow: Workflow | null = null;
      if (workflowId !== null) {
        const wf = this.s.workflowById.get(workflowId)!;
        workflow = this.workflow(wf, this.workflowCounts(workflowId));
      }
      return { workflow, tasks, created: createdInOrder };
    });
  }

  async peekClaimable(agent: Pick<AgentRef, 'id' | 'type' | 'capabilities'>): Promise<Task | null> {
    return this.read(() => {
      const params = {
        now: this.clock.now(),
        agentId: agent.id,
        type: agent.type,
        caps: JSON.stringify(agent.capabilities),
      };
      const id =
        this.s.assignedFor.get(agent.id) ?? this.s.preferredFor.get(params) ?? this.s.pendingFor.get(params);
      const row = id === undefined ? undefined : this.s.taskById.get(id);
      return row ? this.task(row) : null;
    });
  }

  async getTask(id: number): Promise<Task | null> {
    return this.read(() => {
      const row = this.s.taskById.get(id);
      return row ? this.task(row) : null;
    });
  }

  async listTasks(filter: TaskFilter = {}): Promise<Page<Task>> {
    const where: string[] = [];
    const params: Params = {};
    if (filter.status && filter.status.length > 0) {
      where.push('status IN (SELECT value FROM json_each(@statuses))');
      params.statuses = JSON.stringify(filter.status);
    }
    if (filter.type !== undefined) {
      where.push('type = @type');
      params.type = filter.type;
    }
    if (filter.workflowId !== undefined) {
      where.push('workflow_id = @workflowId');
      params.workflowId = filter.workflowId;
    }
    if (filter.agentId !== undefined) {
      where.push(
        "((status = 'in_progress' AND lease_agent_id = @agentId) OR (status = 'assigned' AND assigned_to = @agentId))",
      );
      params.agentId = filter.agentId;
    }
    if (filter.search !== undefined && filter.search !== '') {
      where.push("title LIKE @search ESCAPE '\\'");
      params.search = likeContains(filter.search);
    }
    const newest = filter.newestFirst === true;
    if (filter.after !== undefined && filter.after !== null) {
      where.push(newest ? 'id < @after' : 'id > @after');
      params.after = filter.after;
    }
    const limit = clampLimit(filter.limit, TASK_PAGE_DEFAULT, TASK_PAGE_MAX);
    params.limit = limit + 1;
    const sql =
      `SELECT * FROM tasks${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}` +
      ` ORDER BY id ${newest ? 'DESC' : 'ASC'} LIMIT @limit`;
    return this.read(() => {
      const rows = this.stmt<TaskRow>(sql).all(params);
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return { items: this.tasks(page), nextCursor: more ? page[page.length - 1]!.id : null };
    });
  }

  async getDependencies(taskId: number): Promise<DependencyResult[]> {
    return this.read(() => this.s.dependencies.all(taskId).map(toDependency));
  }

  async getDependents(taskId: number): Promise<number[]> {
    return this.read(() => this.s.dependents.all(taskId));
  }

  async listAttempts(taskId: number): Promise<Attempt[]> {
    return this.read(() => this.s.attemptsOf.all(taskId).map(toAttempt));
  }

  async countTasks(filter: { workflowId?: number } = {}): Promise<Record<TaskStatus, number>> {
    const counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
    const rows = this.read(() =>
      filter.workflowId !== undefined ? this.s.countWorkflow.all(filter.workflowId) : this.s.countAll.all(),
    );
    for (const r of rows) counts[r.status] = r.n;
    return counts;
  }

  // ── the lifecycle ─────────────────────────────────────────────────────────────────────────────

  async claim(agent: AgentRef, leaseMs: Millis, event: EventSpec): Promise<ClaimedTask | null> {
    const length = leaseMs;
    return this.writeBatched(
      () => {
        const now = this.clock.now();
        const token = newLeaseToken();
        const params: Params = {
          now,
          token,
          agentId: agent.id,
          agentName: agent.name,
          session: agent.session,
          leaseMs: length,
          expires: now + length,
          type: agent.type,
          caps: JSON.stringify(agent.capabilities),
        };
        let from: TaskStatus = 'assigned';
        const assigned = this.s.assignedFor.get(agent.id);
        let id = assigned === undefined ? undefined : this.s.claimAssigned.get({ ...params, id: assigned });
        if (id === undefined) {
          from = 'pending';
          const preferred = this.s.preferredFor.get(params);
          id = preferred === undefined ? undefined : this.s.claimPreferred.get({ ...params, id: preferred });
          id ??= this.s.claimPending.get(params);
          if (id === undefined) return null;
        }
        const row = taskRowFromRaw(this.s.taskRaw.get(id)!);
        // The earlier attempts (the handoff); this claim's attempt is the next in sequence.
        const earlier = this.s.attemptsOf.all(id);
        const seq = earlier.length === 0 ? 1 : earlier[earlier.length - 1]!.seq + 1;
        this.s.insertAttempt.run(id, seq, agent.id, agent.name, now, token);
        this.event(
          event,
          {
            taskId: row.id,
            workflowId: row.workflow_id,
            fromStatus: from,
            toStatus: 'in_progress',
            holder: { id: agent.id, name: agent.name },
          },
          now,
        );
        const dependencies = row.has_deps === 1 ? this.s.dependencies.all(row.id).map(toDependency) : [];
        const handoff = earlier.map(toAttempt);
        return {
          task: toTask(
            row,
            dependencies.map((d) => d.taskId),
          ),
          leaseToken: token,
          leaseExpiresAt: row.lease_expires_at!,
          dependencies,
          handoff,
          questions: this.questionsOf(id, handoff),
        };
      },
      (claimed) => claimed !== null,
    );
  }

  async untilNextScheduled(type: string): Promise<Millis | null> {
    return this.read(() => {
      const now = this.clock.now();
      const at = this.s.nextScheduled.get({ type, now });
      return at === null || at === undefined ? null : at - now;
    });
  }

  async heartbeatTask(taskId: number, leaseToken: string): Promise<Task | null> {
    return this.writeBatched(() => {
      const now = this.clock.now();
      const row = this.s.heartbeatTask.get({
        id: taskId,
        token: leaseToken,
        now,
        defaultMs: this.policy.leaseMs,
      });
      return row ? this.task(row) : null;
    }, false);
  }

  async progress(
    taskId: number,
    leaseToken: string,
    input: ProgressInput,
    event: EventSpec,
  ): Promise<Task | null> {
    return this.writeBatched(
      () => {
        const now = this.clock.now();
        const values = {
          note: input.note ?? null,
          percent: input.percent ?? null,
          checkpoint: input.checkpoint === undefined ? null : JSON.stringify(input.checkpoint),
        };
        const row = this.s.progress.get({
          id: taskId,
          token: leaseToken,
          now,
          defaultMs: this.policy.leaseMs,
          ...values,
        });
        if (!row) return null;
        this.s.progressAttempt.run({ id: taskId, ...values });
        this.event(
          event,
          {
            taskId,
            workflowId: row.workflow_id,
            fromStatus: 'in_progress',
            toStatus: 'in_progress',
            holder: { id: row.lease_agent_id!, name: row.lease_agent_name ?? 'agent' },
          },
          now,
        );
        return this.task(row);
      },
      (task) => task !== null,
    );
  }

  async apply(change: TaskChange): Promise<Task | null> {
    return this.writeBatched(
      () => {
        const row = this.applyChange(change, this.clock.now());
        return row ? this.task(row) : null;
      },
      (task) => task !== null,
    );
  }

  async transition(selection: TaskSelection, decide: (tasks: TaskState[]) => Decision): Promise<Task[]> {
    const written = this.write(() => {
      const now = this.clock.now();
      const rows = this.select(selection, now);
      const decision = decide(rows.map((r) => this.taskState(r)));
      const changed: TaskRow[] = [];
      for (const change of decision.changes) {
        const row = this.applyChange(change, now);
        if (!row) {
          throw new ConflictError(`task ${change.taskId} changed while the decision was made`, {
            taskId: change.taskId,
          });
        }
        changed.push(row);
      }
      for (const w of decision.questions ?? []) this.writeQuestion(w, now);
      for (const spec of decision.events ?? []) this.event(spec, { workflowId: spec.workflowId }, now);
      return this.tasks(changed);
    }, false);
    if (written.length > 0) this.watcher.notify();
    return written;
  }

  /** The rows a selection names (inside the write transaction, which locks the whole file). */
  private select(selection: TaskSelection, now: Millis): TaskRow[] {
    if ('taskId' in selection) return [this.mustTask(selection.taskId)];
    if ('withDependents' in selection) {
      const root = this.mustTask(selection.withDependents);
      // The root first (a final root is the decision's to refuse), then its open dependents.
      return [root, ...this.s.subtree.all(root.id).filter((r) => r.id !== root.id)];
    }
    if ('workflowId' in selection) {
      if (!this.s.workflowById.get(selection.workflowId))
        throw new NotFoundError('workflow', selection.workflowId);
      return this.s.openInWorkflow.all(selection.workflowId);
    }
    if ('expiredLeases' in selection) return this.s.expiredLeases.all(now);
    this.mustAgent(selection.heldBy.agentId);
    return this.s.heldBySession.all(selection.heldBy);
  }

  async listQuestions(filter: QuestionFilter = {}): Promise<Question[]> {
    const where: string[] = [];
    const params: Params = {};
    if (filter.status && filter.status.length > 0) {
      where.push('status IN (SELECT value FROM json_each(@statuses))');
      params.statuses = JSON.stringify(filter.status);
    }
    if (filter.taskId !== undefined) {
      where.push('task_id = @taskId');
      params.taskId = filter.taskId;
    }
    if (filter.workflowId !== undefined) {
      where.push('workflow_id = @workflowId');
      params.workflowId = filter.workflowId;
    }
    if (filter.for !== undefined) {
      where.push('for_whom = @for');
      params.for = filter.for;
    }
    params.limit = clampLimit(filter.limit, TASK_PAGE_DEFAULT, TASK_PAGE_MAX);
    const sql =
      `SELECT * FROM questions${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}` +
      ` ORDER BY id ${filter.order === 'oldest' ? 'ASC' : 'DESC'} LIMIT @limit`;
    return this.read(() => this.stmt<QuestionRow>(sql).all(params).map(toQuestion));
  }

  async getQuestion(id: number): Promise<Question | null> {
    return this.read(() => {
      const row = this.s.questionById.get(id);
      return row ? toQuestion(row) : null;
    });
  }

  async leaseState(
    taskId: number,
    leaseToken: string,
  ): Promise<{ status: TaskStatus; tokenOutcome: AttemptOutcome | null } | null> {
    return this.read(() => {
      const row = this.s.taskStatus.get(taskId);
      if (!row) return null;
      return { status: row.status, tokenOutcome: this.s.tokenOutcome.get(taskId, leaseToken) ?? null };
    });
  }

  // ── workflows and events ──────────────────────────────────────────────────────────────────────

  async getWorkflow(id: number): Promise<Workflow | null> {
    return this.read(() => {
      const row = this.s.workflowById.get(id);
      return row ? this.workflow(row, this.workflowCounts(id)) : null;
    });
  }

  async listWorkflows(filter: { limit?: number; after?: number } = {}): Promise<Page<Workflow>> {
    const limit = clampLimit(filter.limit, TASK_PAGE_DEFAULT, TASK_PAGE_MAX);
    return this.read(() => {
      const rows = this.stmt<WorkflowRow>(
        'SELECT * FROM workflows WHERE id > @after ORDER BY id LIMIT @limit',
      ).all({
        after: filter.after ?? 0,
        limit: limit + 1,
      });
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      const counts = new Map<number, Partial<Record<TaskStatus, number>>>();
      if (page.length > 0) {
        for (const c of this.s.countWorkflows.all(JSON.stringify(page.map((w) => w.id)))) {
          const m = counts.get(c.workflow_id) ?? {};
          m[c.status] = c.n;
          counts.set(c.workflow_id, m);
        }
      }
      return {
        items: page.map((w) => this.workflow(w, counts.get(w.id) ?? {})),
        nextCursor: more ? page[page.length - 1]!.id : null,
      };
    });
  }

  async listEvents(filter: EventFilter = {}): Promise<CnsEvent[]> {
    return this.read(() => this.queryEvents(filter, 'oldest'));
  }

  /**
   * The events matching `filter`: the first `limit` after the cursor (oldest first), or the latest
   * `limit` (returned oldest first too).
   */
  private queryEvents(filter: EventFilter, take: 'oldest' | 'latest'): CnsEvent[] {
    const where: string[] = [];
    const params: Params = {};
    if (filter.after !== undefined && filter.after !== null) {
      where.push('id > @after');
      params.after = filter.after;
    }
    if (filter.taskId !== undefined) {
      where.push('task_id = @taskId');
      params.taskId = filter.taskId;
    }
    if (filter.workflowId !== undefined) {
      where.push('workflow_id = @workflowId');
      params.workflowId = filter.workflowId;
    }
    if (filter.agentId !== undefined) {
      where.push('agent_id = @agentId');
      params.agentId = filter.agentId;
    }
    if (filter.kinds && filter.kinds.length > 0) {
      where.push('kind IN (SELECT value FROM json_each(@kinds))');
      params.kinds = JSON.stringify(filter.kinds);
    }
    params.limit = clampLimit(filter.limit, EVENT_PAGE_DEFAULT, EVENT_PAGE_MAX);
    const sql = `SELECT * FROM events${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id ${take === 'latest' ? 'DESC' : ''} LIMIT @limit`;
    const events = this.stmt<EventRow>(sql).all(params).map(toEvent);
    return take === 'latest' ? events.reverse() : events;
  }

  // ── latest events and API tokens (appended: cns serve) ────────────────────────────────────────

  async listLatestEvents(filter: Omit<EventFilter, 'after'> = {}): Promise<CnsEvent[]> {
    return this.read(() => this.queryEvents(filter, 'latest'));
  }

  async createToken(input: NewToken): Promise<TokenRecord> {
    const t = validateNewToken(input);
    return this.write(() => {
      try {
        const row = this.stmt<TokenRow>(
          `INSERT INTO tokens (name, role, agent_name, agent_type, capabilities, secret_hash, created_at)
           VALUES (@name, @role, @agentName, @agentType, @capabilities, @secretHash, @now) RETURNING *`,
        ).get({
          name: t.name,
          role: t.role,
          agentName: t.agentName,
          agentType: t.agentType,
          capabilities: JSON.stringify(t.capabilities),
          secretHash: t.secretHash,
          now: this.clock.now(),
        })!;
        return toTokenRecord(row);
      } catch (err) {
        if (err instanceof Database.SqliteError && err.code.startsWith('SQLITE_CONSTRAINT_UNIQUE'))
          throw new InvalidInputError('a token with this secret already exists');
        throw err;
      }
    }, false);
  }

  async listTokens(): Promise<TokenRecord[]> {
    return this.read(() =>
      this.stmt<TokenRow>('SELECT * FROM tokens ORDER BY id').all({}).map(toTokenRecord),
    );
  }

  async revokeToken(id: number): Promise<TokenRecord> {
    return this.write(() => {
      const row = this.stmt<TokenRow>(
        'UPDATE tokens SET revoked_at = COALESCE(revoked_at, @now) WHERE id = @id RETURNING *',
      ).get({ id, now: this.clock.now() });
      if (!row) throw new NotFoundError('token', id);
      return toTokenRecord(row);
    }, false);
  }

  async findTokenByHash(secretHash: string): Promise<TokenRecord | null> {
    const row = this.read(() =>
      this.stmt<TokenRow>('SELECT * FROM tokens WHERE secret_hash = @secretHash').get({ secretHash }),
    );
    return row ? toTokenRecord(row) : null;
  }

  async touchToken(id: number): Promise<void> {
    this.write(() => {
      this.stmt('UPDATE tokens SET last_used_at = @now WHERE id = @id').run({ id, now: this.clock.now() });
    }, false);
  }
}

interface TokenRow {
  id: number;
  name: string;
  role: TokenRole;
  agent_name: string | null;
  agent_type: string | null;
  capabilities: string;
  secret_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

function toTokenRecord(r: TokenRow): TokenRecord {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    agentName: r.agent_name,
    agentType: r.agent_type,
    capabilities: JSON.parse(r.capabilities) as string[],
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}
