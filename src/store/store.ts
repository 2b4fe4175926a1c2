/**
 * The Store contract: one interface every backend implements (SQLite, PostgreSQL), proven by one
 * conformance suite (test/conformance/). Every method that changes state is one transaction that
 * also appends its events; a claim is one atomic statement. Backends import their driver; nothing
 * above this layer does.
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
  ClaimedTask,
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
   * one's). Event agent.registered.
   */
  registerAgent(input: AgentRegistration): Promise<Agent>;
  /**
   * Record a heartbeat and renew the leases of the tasks this session of the agent holds, each by
   * its own lease length (now + Lease.lengthMs). Leases of other sessions (a crashed predecessor
   * under the same name) are not renewed. A null session renews nothing. Returns the renewed task
   * ids. NotFoundError for an unknown agent.
   */
  heartbeatAgent(agentId: number, session: string | null): Promise<{ agent: Agent; renewed: number[] }>;
  /**
   * A session ends: release the tasks it holds (to pending, attempt given back) and, when it is the
   * agent's current session, mark the agent deregistered (event agent.deregistered). A null session
   * ends every session of the agent.
   */
  deregisterAgent(agentId: number, session: string | null, actor: string): Promise<{ released: number[] }>;
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
   * if any, then the tasks (status blocked when a dependency is not completed, else pending), their
   * dependencies, and events. A task whose idempotency key exists is not inserted: the existing one
   * is returned with created=false (and batch tasks depending on it depend on the existing one).
   * Dependencies on existing ids that do not exist: NotFoundError, nothing inserted.
   */
  createTasks(batch: NormalizedBatch): Promise<CreateTasksResult>;
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
   * renewal), attempts + 1, a new Attempt row, event task.claimed. Returns the task with its
   * dependencies' results and the handoff (earlier attempts), or null.
   */
  claim(agent: AgentRef, leaseMs?: Millis): Promise<ClaimedTask | null>;
  /**
   * How long until the earliest pending task of this type that is scheduled for later (runAfter in
   * the future: a delayed task, a retry's backoff) becomes claimable, in ms by the store's clock;
   * null when there is none. A waiting claim sleeps until then instead of polling.
   */
  untilNextScheduled(type: string): Promise<Millis | null>;
  /** Reserve a pending (or assigned) task for a named agent: status assigned. ConflictError otherwise. */
  assign(taskId: number, agentId: number, actor: string): Promise<Task>;
  /** Renew one task's lease by its length (now + Lease.lengthMs). LeaseLostError if the token is not current. */
  heartbeatTask(taskId: number, leaseToken: string): Promise<Task>;
  /** Record progress and renew the lease by its length. Fields not given keep their value. Event task.progress. */
  progress(taskId: number, leaseToken: string, input: ProgressInput): Promise<Task>;
  /**
   * Finish the attempt with a result. review=false: completed; dependents whose dependencies are
   * now all completed become pending (event task.unblocked). review=true: awaiting_review.
   */
  complete(taskId: number, leaseToken: string, input: { result: string; data?: Json }): Promise<Task>;
  /**
   * Fail the attempt. retryable and attempts < maxAttempts: pending with runAfter = now + backoff.
   * Otherwise failed.
   */
  fail(taskId: number, leaseToken: string, input: { error: string; retryable?: boolean }): Promise<Task>;
  /** Give the task back without penalty: pending, attempts − 1, no backoff. Event task.released. */
  release(taskId: number, leaseToken: string, input?: { reason?: string }): Promise<Task>;
  /**
   * Review an awaiting_review task. The reviewer must not be its author (ForbiddenError).
   * approve: completed (dependents unblock). Otherwise reviewRounds + 1, the feedback is stored on
   * the attempt (the handoff), and the task returns to pending (attempt given back) — or fails when
   * reviewRounds reaches maxReviewRounds.
   */
  review(
    taskId: number,
    input: { reviewer: string; reviewerAgentId?: number | null; approve: boolean; feedback?: string },
  ): Promise<Task>;
  /**
   * Cancel a task and, transitively, its non-final dependents; or every non-final task of a
   * workflow. A holder's lease becomes invalid. Returns the tasks that changed (already-final ones
   * are left alone; cancelling a final task is a ConflictError).
   */
  cancel(
    target: { taskId: number } | { workflowId: number },
    actor: string,
    reason?: string,
  ): Promise<Task[]>;
  /** A failed or cancelled task starts over: pending (or blocked), attempts 0, reviewRounds 0. Event task.retried. */
  retry(taskId: number, actor: string): Promise<Task>;
  /**
   * The lease reaper's sweep: in_progress tasks whose lease expired go back to pending (attempts
   * kept, runAfter = now + backoff) or to failed when attempts are exhausted (event task.expired);
   * agents silent past the threshold are marked offline once (event agent.offline).
   */
  reap(): Promise<ReapResult>;

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
   * Returns the function that stops listening.
   */
  watch(listener: () => void): () => void;
}
