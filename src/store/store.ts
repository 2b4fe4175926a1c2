/**
 * The Store contract: one interface every backend implements (SQLite, PostgreSQL), proven by one
 * conformance suite (test/conformance/) and a differential test. Every method that changes state is
 * one transaction that also appends its events; a claim is one atomic statement. Backends import
 * their driver; nothing above this layer does.
 *
 * Decide once, store twice: a backend never decides what a transition does. The coordinator's
 * lifecycle (src/coordinator/lifecycle.ts) decides a `TaskChange` — next status, run-after, fields
 * set or cleared, the attempt's outcome, the events (src/coordinator/events.ts) — and the backend
 * writes it atomically under its guards (`apply`, `transition`). What is the backend's own: the
 * atomic claim, the fenced conditional write, finding and locking the tasks a decision is about,
 * unblocking dependents under its database's locking, group commit, busy retry, LISTEN/NOTIFY,
 * migrations and error translation.
 *
 * Conventions:
 * - `actor` is who acts, recorded in events ("supervisor", "cli", an agent name, "reaper").
 * - Time comes from the store's clock (an injected `Clock`, or — PostgreSQL without one — the
 *   database's clock), never from callers, so that skewed clocks cannot steal leases.
 * - Errors are the domain's (`core/errors.ts`): NotFoundError, InvalidInputError, ConflictError,
 *   ForbiddenError, LeaseLostError. A rejected write changes nothing.
 */
import type { CreateTasksInput, NormalizedBatch } from '../core/batch.js';
import type { Clock } from '../core/clock.js';
import type { Policy } from '../core/policy.js';
import type { TaskStatus } from '../core/status.js';
import type {
  Agent,
  Attempt,
  AttemptOutcome,
  ClaimedTask,
  Question,
  QuestionStatus,
  CnsEvent,
  DependencyResult,
  EventKind,
  Json,
  Millis,
  Task,
  TokenRecord,
  TokenRole,
  Workflow,
} from '../core/types.js';

export type { CreateTasksInput };

export interface StoreOptions {
  /** Lease length, backoff, attempts, review rounds, offline threshold. */
  policy: Policy;
  /**
   * The time source. SQLite: default the system clock. PostgreSQL: default the database's clock
   * (`now()`); a clock given here replaces it (tests).
   */
  clock?: Clock;
  /** PostgreSQL: the most connections of the store's pool. Default 10. */
  poolSize?: number;
}

export interface AgentRegistration {
  /** Unique. Registering an existing name updates that agent (a restart keeps its identity). */
  name: string;
  type: string;
  capabilities?: string[];
  host?: string | null;
  pid?: number | null;
  clientInfo?: Json | null;
}

/**
 * The identity a claim is made for: the agent and its session (one run of its process, see
 * Agent.session). The lease belongs to the session; a null session (an agent registered before
 * cns kept sessions) makes a lease that only task heartbeats and progress renew.
 */
export type AgentRef = Pick<Agent, 'id' | 'name' | 'type' | 'capabilities' | 'session'>;

export interface CreateTasksResult {
  workflow: Workflow | null;
  /** In input order. */
  tasks: Task[];
  /** In input order: false when an idempotency key matched an existing task (which is returned). */
  created: boolean[];
}

export interface TaskFilter {
  status?: TaskStatus[];
  type?: string;
  workflowId?: number;
  /** Tasks this agent holds or was assigned. */
  agentId?: number;
  /** Case-insensitive substring of the title. */
  search?: string;
  /** Page size, default 50, at most 500. */
  limit?: number;
  /** Return tasks with id greater than this (the previous page's `nextCursor`). */
  after?: number;
  /** Newest first instead of oldest first; then `after` means "id smaller than". */
  newestFirst?: boolean;
}

export interface Page<T> {
  items: T[];
  /** Pass as `after` to get the next page; null when this was the last. */
  nextCursor: number | null;
}

export interface EventFilter {
  /** Events with id greater than this. */
  after?: number;
  taskId?: number;
  workflowId?: number;
  agentId?: number;
  kinds?: EventKind[];
  /** Default 100, at most 1000. */
  limit?: number;
}

export interface ProgressInput {
  note?: string;
  /** 0–100. */
  percent?: number;
  checkpoint?: Json;
}

export interface ReapResult {
  /** Tasks whose lease expired: now pending again (with backoff) or failed (attempts exhausted). */
  expired: Task[];
  /** Agents newly marked offline (silent past the threshold). */
  offline: Agent[];
}

/**
 * An event as the coordinator built it (src/coordinator/events.ts). The store adds the time, the
 * task's and workflow's ids, the statuses before and after the change it belongs to, and, when
 * `actor` is null, the lease holder whose attempt the write ends or renews (actor and agent id).
 */
export interface EventSpec {
  kind: EventKind;
  actor: string | null;
  /** The agent concerned; filled with the holder's when `actor` is null and this is null. */
  agentId: number | null;
  message: string | null;
  data: Json | null;
}

/** A task as the lifecycle's decisions read it. */
export interface TaskState {
  id: number;
  workflowId: number | null;
  status: TaskStatus;
  attempts: number;
  maxAttempts: number;
  review: boolean;
  reviewRounds: number;
  maxReviewRounds: number;
  /** Present while in progress. */
  lease: { token: string; agentId: number; agentName: string } | null;
  assignedTo: number | null;
  /** The agent whose completion produced the current result (the author, for review). */
  completedBy: number | null;
  /** That agent's name. */
  authorName: string | null;
  /** Dependencies not completed yet. */
  openDependencies: number;
}

/**
 * A decided change of one task (src/coordinator/lifecycle.ts), written atomically by the store: only
 * if the task is still in status `from` (and, when `token` is given, still holds that lease token).
 * Whatever the change, a task that leaves in_progress loses its lease, a task that becomes final
 * gets its finishing time (and one that stops being final loses it), and `assignedTo` is kept only
 * while assigned.
 */
export interface TaskChange {
  taskId: number;
  from: TaskStatus;
  token: string | null;
  to: TaskStatus;
  /** give_back: the attempt does not count (release, changes requested); reset: 0 (retry). */
  attempts: 'keep' | 'give_back' | 'reset';
  reviewRounds: 'keep' | 'increment' | 'reset';
  /** run_after = now + this many ms (a retry's backoff; 0: claimable now); null keeps it. */
  runAfterDelayMs: number | null;
  /** A new result (its author: the lease holder), null to clear result, data and author, or keep. */
  result: 'keep' | null | { text: string; data: Json | null };
  /** The task's error text, null to clear it, or keep. */
  error: 'keep' | string | null;
  /** The agent an assigned task is reserved for (with to = 'assigned'). */
  assignedTo: number | null;
  /**
   * A pending task kept for one agent: only it may claim the task for `forMs` (then anyone of its
   * type). Null clears a preference (every change but the one that sets it, and every claim, does).
   */
  prefer: { agentId: number; forMs: number } | null;
  /** End the running attempt (the lease's) with this outcome, and its result or error if given. */
  closeAttempt: { outcome: AttemptOutcome; result: string | null; error: string | null } | null;
  /** Review feedback, recorded on the latest attempt (where the next claimant reads it). */
  feedback: string | null;
  events: EventSpec[];
  /**
   * When the task becomes completed: its dependents whose dependencies are now all completed
   * become pending, each with this event (actor null: the holder whose attempt completed it).
   */
  unblock: EventSpec | null;
}

/** Which tasks a decision is about; the store finds them and locks them for the decision. */
export type TaskSelection =
  /** One task (NotFoundError when there is none). */
  | { taskId: number }
  /** A task and, transitively, its open dependents (NotFoundError when there is no such task). */
  | { withDependents: number }
  /** Every open task of a workflow (NotFoundError when there is no such workflow). */
  | { workflowId: number }
  /** The tasks in progress whose lease has expired (those another transaction holds are skipped). */
  | { expiredLeases: true }
  /** The tasks a session of an agent holds (every session's when `session` is null). */
  | { heldBy: { agentId: number; session: string | null } };

/** A write to the questions of a task, decided with the change of its task (same transaction). */
export type QuestionWrite =
  /** A new open question, asked by the holder whose attempt the task's change ends (`attempt`). */
  | {
      ask: {
        taskId: number;
        askedBy: { agentId: number; name: string };
        for: string;
        text: string;
        choices: string[] | null;
        context: Json | null;
      };
    }
  /** The answer to an open question (ConflictError if it is not open any more: nothing is written). */
  | { answer: { questionId: number; answer: string; by: { name: string; agentId: number | null } } }
  /** Every open question of the task closes unanswered. */
  | { close: { taskId: number; reason: string } };

/** What a decision over selected tasks writes: task changes, questions, and events about no single task. */
export interface Decision {
  changes: TaskChange[];
  questions?: QuestionWrite[];
  events?: (EventSpec & { workflowId: number | null })[];
}

export interface QuestionFilter {
  status?: QuestionStatus[];
  taskId?: number;
  workflowId?: number;
  /** Whom they are for. */
  for?: string;
  /** Default 50, at most 500. */
  limit?: number;
  /** Newest first (the default) or oldest first. */
  order?: 'newest' | 'oldest';
}

/** A token to store: its secret is never given to the store, only the secret's SHA-256 (hex). */
export interface NewToken {
  name: string;
  role: TokenRole;
  agentName?: string | null;
  agentType?: string | null;
  capabilities?: string[];
  /** SHA-256 of the secret, lower-case hex. Unique. */
  secretHash: string;
}

export interface StoreCapabilities {
  /** Other processes' changes are noticed by `watch` (SQLite: data_version polling; PostgreSQL: LISTEN/NOTIFY). */
  crossProcessWatch: boolean;
  /** Time comes from the database server when no clock was injected. */
  serverClock: boolean;
}

export interface Store {
  readonly backend: 'sqlite' | 'postgres';
  readonly capabilities: StoreCapabilities;
  /** The current time as the store sees it (its clock). */
  now(): Promise<Millis>;
  close(): Promise<void>;

  // ── agents ──────────────────────────────────────────────────────────────────────────────────
  /**
   * Create or update (by name) an agent, mark it alive (heartbeat now, not deregistered) and start a
   * new session (Agent.session, fresh each time: the leases of an earlier session are not this
   * one's). Appends `event` (its agent: this one).
   */
  registerAgent(input: AgentRegistration, event: EventSpec): Promise<Agent>;
  /**
   * Record a heartbeat and renew the leases of the tasks this session of the agent holds, each by
   * its own lease length (now + Lease.lengthMs). Leases of other sessions (a crashed predecessor
   * under the same name) are not renewed. A null session renews nothing. Returns the renewed task
   * ids. NotFoundError for an unknown agent.
   */
  heartbeatAgent(agentId: number, session: string | null): Promise<{ agent: Agent; renewed: number[] }>;
  /**
   * A session ended: when it is the agent's current session (or `session` is null: any), mark the
   * agent deregistered and append `event`; returns whether it did. (The session's tasks are
   * released before, by a transition over `{ heldBy }`.) NotFoundError for an unknown agent.
   */
  endSession(agentId: number, session: string | null, event: EventSpec): Promise<boolean>;
  /**
   * Agents silent for longer than `offlineAfterMs` are marked offline, once each (a heartbeat or a
   * registration clears the mark), each with `event` (its agent: that one). Returns them.
   */
  markOffline(offlineAfterMs: Millis, event: EventSpec): Promise<Agent[]>;
  /**
   * Forget agents that are offline and have not been heard from since `silentSince` (optionally
   * only those `names`), never one holding a task: listAgents leaves them out from then on (their
   * history, events and attempts stay; getAgent still finds them). Registering or heartbeating again
   * brings an agent back. One `event` per agent forgotten. Returns them.
   */
  forgetAgents(
    filter: { silentSince: Millis; names: readonly string[] | null },
    event: EventSpec,
  ): Promise<Agent[]>;
  /**
   * The tasks this session of the agent holds (in progress under its lease), each as its claim
   * handed it out: lease token, dependencies' results and the earlier attempts. Oldest claim first.
   */
  heldBy(agent: Pick<AgentRef, 'id' | 'session'>): Promise<ClaimedTask[]>;
  /** By id, or by name when given a string. Null when unknown. */
  getAgent(ref: number | string): Promise<Agent | null>;
  listAgents(): Promise<Agent[]>;

  // ── creating and reading tasks ──────────────────────────────────────────────────────────────
  /**
   * Insert a validated batch (see core/batch.ts normalizeBatch) in one transaction: the workflow
   * if any (with `events.workflow`), then the tasks (status blocked when a dependency is not
   * completed, else pending), their dependencies, and each new task's event (`events.tasks`, in batch
   * order). A task whose idempotency key exists is not inserted: the existing one is returned with
   * created=false (and batch tasks depending on it depend on the existing one). Dependencies on
   * existing ids that do not exist: NotFoundError, nothing inserted.
   */
  createTasks(
    batch: NormalizedBatch,
    events: { workflow: EventSpec | null; tasks: EventSpec[] },
  ): Promise<CreateTasksResult>;
  getTask(id: number): Promise<Task | null>;
  listTasks(filter?: TaskFilter): Promise<Page<Task>>;
  /** The tasks `taskId` depends on, with status and (when completed) result. */
  getDependencies(taskId: number): Promise<DependencyResult[]>;
  /** Ids of tasks that depend on `taskId`. */
  getDependents(taskId: number): Promise<number[]>;
  /** Every attempt (claim) of the task, oldest first. */
  listAttempts(taskId: number): Promise<Attempt[]>;
  countTasks(filter?: { workflowId?: number }): Promise<Record<TaskStatus, number>>;

  // ── the lifecycle ───────────────────────────────────────────────────────────────────────────
  /**
   * Claim the next task for this agent, atomically: first a task assigned to it, else the pending
   * task of its type whose required capabilities it all has and whose runAfter has passed —
   * highest priority first, then oldest (lowest id). The task becomes in_progress with a fresh lease
   * token held by the agent's session, expiring now + leaseMs (the lease's length for every later
   * renewal), attempts + 1, a new Attempt row (which keeps the token), and `event`. Returns the task
   * with its dependencies' results and the handoff (earlier attempts), or null.
   */
  claim(agent: AgentRef, leaseMs: Millis, event: EventSpec): Promise<ClaimedTask | null>;
  /**
   * The task a claim by this agent would take now (assigned to it, then kept for it, then the best
   * pending task it may take), without taking it; null when there is none. Another agent may
   * claim it first: this only says that work is there (`cns wait`).
   */
  peekClaimable(agent: Pick<AgentRef, 'id' | 'type' | 'capabilities'>): Promise<Task | null>;
  /**
   * How long until the earliest pending task of this type that is scheduled for later (runAfter in
   * the future: a delayed task, a retry's backoff; or kept for another agent until preferUntil)
   * becomes claimable by any agent, in ms by the store's clock; null when there is none. A waiting
   * claim sleeps until then instead of polling.
   */
  untilNextScheduled(type: string): Promise<Millis | null>;
  /** Renew one task's lease by its length (now + Lease.lengthMs). Null when the token is not its lease. */
  heartbeatTask(taskId: number, leaseToken: string): Promise<Task | null>;
  /**
   * Record progress and renew the lease by its length. Fields not given keep their value. Appends
   * `event`. Null when the token is not the task's lease.
   */
  progress(taskId: number, leaseToken: string, input: ProgressInput, event: EventSpec): Promise<Task | null>;
  /**
   * Write one decided change (an agent's complete, fail or release), guarded by its status and lease
   * token; the task as written, or null when a guard failed (nothing changed). The agents' hot path:
   * concurrent calls share a commit.
   */
  apply(change: TaskChange): Promise<Task | null>;
  /**
   * Read the selected tasks, locked; let `decide` decide (it may throw: nothing is written); write
   * its changes and events — all in one transaction. Returns the changed tasks, in the order of the
   * changes. A change whose guard fails here is a ConflictError (nothing is written).
   */
  transition(selection: TaskSelection, decide: (tasks: TaskState[]) => Decision): Promise<Task[]>;
  /** Questions matching the filter (at most `limit`), newest first unless asked otherwise. */
  listQuestions(filter?: QuestionFilter): Promise<Question[]>;
  /** One question, or null. */
  getQuestion(id: number): Promise<Question | null>;
  /**
   * Where a lease token stands: the task's status now and the outcome of the attempt the token was
   * minted for (null: no claim of this task was given that token). Null when there is no such task.
   */
  leaseState(
    taskId: number,
    leaseToken: string,
  ): Promise<{ status: TaskStatus; tokenOutcome: AttemptOutcome | null } | null>;

  // ── workflows and events ────────────────────────────────────────────────────────────────────
  getWorkflow(id: number): Promise<Workflow | null>;
  listWorkflows(filter?: { limit?: number; after?: number }): Promise<Page<Workflow>>;
  listEvents(filter?: EventFilter): Promise<CnsEvent[]>;

  /**
   * The newest events matching the filter (its `after` is ignored), at most `limit` (default 100,
   * at most 1000), oldest first. With limit 1 and no filter: the last event (a cursor for "from now").
   */
  listLatestEvents(filter?: Omit<EventFilter, 'after'>): Promise<CnsEvent[]>;

  // ── API tokens (cns serve) ──────────────────────────────────────────────────────────────────
  /** Store a new token (createdAt = now). InvalidInputError for a bad role or a hash already stored. */
  createToken(input: NewToken): Promise<TokenRecord>;
  /** Every token, revoked ones included, oldest first. */
  listTokens(): Promise<TokenRecord[]>;
  /** Mark a token revoked (revokedAt = now; revoking again keeps the first time). NotFoundError when unknown. */
  revokeToken(id: number): Promise<TokenRecord>;
  /** The token whose secret hashes to `secretHash` (revoked ones included: the caller checks), or null. */
  findTokenByHash(secretHash: string): Promise<TokenRecord | null>;
  /** Record that the token was used now (lastUsedAt). Unknown ids are ignored. */
  touchToken(id: number): Promise<void>;

  /**
   * Call `listener` (coalesced, asynchronously) after changes to tasks — by this process at once,
   * by other processes soon (capabilities.crossProcessWatch). A hint only: listeners re-read.
   * `hints` says what changed when the store can tell (PostgreSQL's notifications carry it), or is
   * null when anything may have changed (SQLite's cross-process signal, a reconnection).
   * Returns the function that stops listening.
   */
  watch(listener: (hints: readonly ChangeHint[] | null) => void): () => void;

  /**
   * Campaign to lead `name` (the lease reaper): of the stores campaigning on one database, one
   * leads at a time, so a periodic job runs once per database rather than once per process. A
   * brief overlap is possible when a leader loses its connection unnoticed, so what runs under
   * leadership must be idempotent. `onChange(true)` when this store becomes the leader,
   * `onChange(false)` when it stops being it. A leader that dies is replaced — on SQLite at the next
   * check of another store (every `checkMs`; a leader on this host is checked alive by its pid, one
   * elsewhere by its lease), on PostgreSQL at once by the standby waiting on the advisory lock.
   */
  campaign(name: string, options: { checkMs: Millis; onChange: (leading: boolean) => void }): Leadership;
  /** Who leads `name`, as the leader recorded it when it took over; null when nobody has yet. */
  leader(name: string): Promise<LeaderInfo | null>;
}

/**
 * What a change made, as far as a store can tell. `claimable`: a task of this type (needing these
 * capabilities) became pending; `assigned`: a task became claimable by this agent only (assigned to
 * it, or kept for it after an answer); `other`: anything else (progress, review, a final status…).
 */
export type ChangeHint =
  /**
   * A task of `type` needing `requires` became pending. `inMs`, when the store can tell: any agent
   * of the type may claim it in that many ms (0: now; later for a delayed task, a retry's backoff,
   * or a task kept for a while for another agent).
   */
  | { kind: 'claimable'; type: string; requires: readonly string[]; inMs?: Millis }
  | { kind: 'assigned'; agentId: number }
  | { kind: 'other' };

/** A campaign for leadership (Store.campaign). */
export interface Leadership {
  /** Whether this store leads now. */
  readonly leading: boolean;
  /** Stop campaigning and give the leadership up (another store may take it at once). */
  stop(): Promise<void>;
}

/** The recorded leader of a campaign. */
export interface LeaderInfo {
  name: string;
  host: string;
  pid: number;
  /** When it took over. */
  since: Millis;
  /** Until when it is known alive (it renews this while it leads; 0 once it stepped down). */
  expiresAt: Millis;
}
