import { normalizeBatch, type NewTask, type NewWorkflow } from '../core/batch.js';
import type { CnsConfig } from '../core/config.js';
import { InvalidInputError, NotFoundError } from '../core/errors.js';
import { type TaskStatus, TASK_STATUSES } from '../core/status.js';
import type {
  Agent,
  Attempt,
  ClaimedTask,
  CnsEvent,
  DependencyResult,
  Json,
  Millis,
  Task,
  Workflow,
} from '../core/types.js';
import type {
  AgentRef,
  AgentRegistration,
  CreateTasksResult,
  EventFilter,
  Page,
  ProgressInput,
  ReapResult,
  Store,
  TaskChange,
  TaskFilter,
  TaskState,
} from '../store/store.js';
import { ChangeSignal } from './change-signal.js';
import type { CnsApi } from './cns-api.js';
import { events } from './events.js';
import { explainEmptyClaim, explainTask, type Explanation } from './explain.js';
import { LeaseReaper } from './lease-reaper.js';
import {
  decideAssign,
  decideCancel,
  decideComplete,
  decideFail,
  decideRelease,
  decideRetry,
  decideReview,
  leaseLost as leaseLostError,
  type Reviewer,
} from './lifecycle.js';

/** Lease snapshots kept for the agents' writes (see Coordinator.leases); the oldest go first. */
const LEASES_KEPT = 10_000;

export interface ClaimOptions {
  /** How long to wait for a claimable task, in ms. 0 (default) returns at once. Capped by config.waitMaxMs. */
  waitMs?: number;
  /** Ends the wait early (the call then returns without claiming). */
  signal?: AbortSignal;
  /** Called about once a second while waiting, with the time waited so far (MCP progress notifications). */
  onWaiting?: (waitedMs: number) => void;
  /** Lease length for this claim. Default config.policy.leaseMs. */
  leaseMs?: number;
}

export type ClaimOutcome =
  | {
      claimed: ClaimedTask;
      /** True when the task was already held by this session (returned again, not claimed anew). */
      resumed?: boolean;
      reason?: undefined;
    }
  | { claimed: null; reason: string; resumed?: undefined };

export interface TaskDetail {
  task: Task;
  dependencies: DependencyResult[];
  dependents: number[];
  attempts: Attempt[];
  events: CnsEvent[];
  explanation: Explanation;
}

export interface FleetStatus {
  at: Millis;
  backend: Store['backend'];
  agents: Agent[];
  counts: Record<TaskStatus, number>;
  /** Non-final tasks that are not moving, with the reason (held by an offline agent, no live agent, …). */
  stuck: Explanation[];
}

/**
 * The service layer: everything the fronts (CLI, MCP, HTTP) do goes through here. Backend-agnostic:
 * it adds waits and wake-ups, the lease reaper, validation and explanations on top of a Store.
 */
export class Coordinator implements CnsApi {
  readonly changes: ChangeSignal;
  readonly reaper: LeaseReaper;
  private closed = false;
  /**
   * The state of each task as claimed through this coordinator, by lease token: what the decision
   * of the holder's complete/fail/release needs (attempts, limits, review flag), none of which can
   * change while the lease is valid. So the write is one guarded statement, with no read before it;
   * a token not found here (claimed elsewhere) costs a read of the task.
   */
  private readonly leases = new Map<string, TaskState>();

  constructor(
    readonly store: Store,
    readonly config: Readonly<CnsConfig>,
    options: { reaper?: boolean; onError?: (err: unknown) => void } = {},
  ) {
    this.changes = new ChangeSignal(store);
    this.reaper = new LeaseReaper(store, config, options.onError);
    if (options.reaper ?? true) this.reaper.start();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.reaper.stop();
    this.changes.close();
    await this.store.close();
  }

  // ── agents ──────────────────────────────────────────────────────────────────────────────────

  registerAgent(input: AgentRegistration): Promise<Agent> {
    requireName('agent name', input.name);
    requireName('agent type', input.type);
    for (const c of input.capabilities ?? []) requireName('capability', c);
    const capabilities = [...new Set(input.capabilities ?? [])].sort();
    return this.store.registerAgent(
      { ...input, capabilities },
      events.agentRegistered({
        name: input.name,
        type: input.type,
        capabilities,
        host: input.host ?? null,
        pid: input.pid ?? null,
      }),
    );
  }

  heartbeat(agentId: number, session: string | null): Promise<{ agent: Agent; renewed: number[] }> {
    return this.store.heartbeatAgent(agentId, session);
  }

  /**
   * A session ends: the tasks it holds go back to the queue (the attempt not counted), and the agent
   * is deregistered if this was its current session (a null session: every session).
   */
  async deregisterAgent(
    agentId: number,
    session: string | null,
    actor = 'agent',
  ): Promise<{ released: number[] }> {
    const agent = await this.getAgent(agentId);
    const released = await this.store.transition({ heldBy: { agentId, session } }, (tasks) => ({
      changes: tasks.map((t) =>
        decideRelease(
          t,
          t.lease?.token ?? null,
          events.releasedByDeregistration({ id: agentId, name: actor }),
        ),
      ),
    }));
    const ids = released.map((t) => t.id);
    for (const t of released) this.forget(t.id);
    await this.store.endSession(agentId, session, events.agentDeregistered(agent, actor, ids));
    return { released: ids };
  }

  /** The tasks this session of the agent holds, as their claims handed them out (token, handoff). */
  heldTasks(agent: Pick<AgentRef, 'id' | 'session'>): Promise<ClaimedTask[]> {
    return this.store.heldBy(agent);
  }

  async getAgent(ref: number | string): Promise<Agent> {
    const agent = await this.store.getAgent(ref);
    if (!agent) throw new NotFoundError('agent', ref);
    return agent;
  }

  listAgents(): Promise<Agent[]> {
    return this.store.listAgents();
  }

  // ── creating tasks ──────────────────────────────────────────────────────────────────────────

  /** Create one task (optionally inside an existing workflow). */
  async createTask(
    task: NewTask & { workflowId?: number },
    actor: string,
  ): Promise<{ task: Task; created: boolean }> {
    const { workflowId, ...rest } = task;
    const res = await this.createTasks({ tasks: [rest], workflowId, actor });
    return { task: res.tasks[0]!, created: res.created[0]! };
  }

  /** Create a workflow and its tasks (dependencies by local refs) in one transaction. */
  createWorkflow(workflow: NewWorkflow & { tasks: NewTask[] }, actor: string): Promise<CreateTasksResult> {
    const { tasks, ...wf } = workflow;
    return this.createTasks({ workflow: wf, tasks, actor });
  }

  createTasks(input: {
    workflow?: NewWorkflow;
    workflowId?: number;
    tasks: NewTask[];
    actor: string;
  }): Promise<CreateTasksResult> {
    const batch = normalizeBatch(input, this.config.policy);
    return this.store.createTasks(batch, {
      workflow: batch.workflow ? events.workflowCreated(batch.actor, batch.workflow.name.trim()) : null,
      tasks: batch.tasks.map((t) => events.taskCreated(batch.actor, t.title)),
    });
  }

  // ── reading ─────────────────────────────────────────────────────────────────────────────────

  async getTask(id: number): Promise<Task> {
    const task = await this.store.getTask(id);
    if (!task) throw new NotFoundError('task', id);
    return task;
  }

  async getTaskDetail(id: number, options: { eventLimit?: number } = {}): Promise<TaskDetail> {
    const task = await this.getTask(id);
    const [dependencies, dependents, attempts, events, explanation] = await Promise.all([
      this.store.getDependencies(id),
      this.store.getDependents(id),
      this.store.listAttempts(id),
      this.store.listEvents({ taskId: id, limit: options.eventLimit ?? 200 }),
      this.explainTask(task),
    ]);
    return { task, dependencies, dependents, attempts, events, explanation };
  }

  listTasks(filter: TaskFilter = {}): Promise<Page<Task>> {
    if (filter.status)
      for (const s of filter.status)
        if (!TASK_STATUSES.includes(s))
          throw new InvalidInputError(`unknown status "${s}" (one of ${TASK_STATUSES.join(', ')})`);
    return this.store.listTasks(filter);
  }

  async getWorkflow(id: number): Promise<Workflow> {
    const wf = await this.store.getWorkflow(id);
    if (!wf) throw new NotFoundError('workflow', id);
    return wf;
  }

  listWorkflows(filter: { limit?: number; after?: number } = {}): Promise<Page<Workflow>> {
    return this.store.listWorkflows(filter);
  }

  listEvents(filter: EventFilter = {}): Promise<CnsEvent[]> {
    return this.store.listEvents(filter);
  }

  async explain(id: number): Promise<Explanation> {
    return this.explainTask(await this.getTask(id));
  }

  private async explainTask(task: Task): Promise<Explanation> {
    return explainTask(this.store, task, await this.store.now());
  }

  /** The fleet, task counts, and the non-final tasks that are not moving (with why). */
  async status(options: { stuckLimit?: number } = {}): Promise<FleetStatus> {
    const [agents, counts, now] = await Promise.all([
      this.store.listAgents(),
      this.store.countTasks(),
      this.store.now(),
    ]);
    const stuck: Explanation[] = [];
    const limit = options.stuckLimit ?? 20;
    const candidates = await this.store.listTasks({
      status: ['pending', 'assigned', 'in_progress'],
      limit: 200,
    });
    for (const t of candidates.items) {
      if (stuck.length >= limit) break;
      const ex = await explainTask(this.store, t, now);
      const notMoving = ex.reasons.some(
        (r) =>
          r.code === 'no_live_agent' ||
          (r.code === 'held' && (r.expired || r.agentStatus === 'offline')) ||
          (r.code === 'assigned' && r.agentStatus !== 'idle' && r.agentStatus !== 'working'),
      );
      if (notMoving) stuck.push(ex);
    }
    return { at: now, backend: this.store.backend, agents, counts, stuck };
  }

  // ── the agent's side ────────────────────────────────────────────────────────────────────────

  /**
   * Claim the next task for `agent`, waiting up to `waitMs` for one to become claimable. The claim
   * happens only when a task is there, and a claim made just as the signal aborted is released
   * again, so an aborted wait strands nothing. Returns the reason when nothing matched.
   *
   * While it waits it costs nothing but a timer: it tries again only when the store signals a
   * change (a hint: this process's commits, NOTIFY, another process's commit to the SQLite file),
   * when a task of its type scheduled for later (a delayed task, a retry's backoff) becomes
   * claimable, or at the backstop (config claimBackstopMs: a missed hint). `onWaiting` ticks do
   * not claim. Expired leases are the lease reaper's to sweep (it signals what it requeues).
   */
  async claimNext(agent: AgentRef, options: ClaimOptions = {}): Promise<ClaimOutcome> {
    const waitMs = Math.min(Math.max(0, options.waitMs ?? 0), this.config.waitMaxMs);
    const started = Date.now();
    const deadline = started + waitMs;
    const leaseMs = options.leaseMs ?? this.config.policy.leaseMs;
    if (!Number.isSafeInteger(leaseMs) || leaseMs < 1) {
      throw new InvalidInputError(
        `the lease length must be a whole number of milliseconds ≥ 1 (got ${leaseMs})`,
      );
    }
    const signal = options.signal;
    let lastProgress = started;
    for (;;) {
      const version = waitMs > 0 ? this.changes.watchFromNow() : 0;
      const claimed = await this.store.claim(agent, leaseMs, events.claimed(agent, leaseMs));
      if (claimed) {
        this.remember(claimed);
        if (signal?.aborted) {
          // The caller went away as the claim was made: it would never see the task. Give it back
          // (if even that fails, the lease expires, or the session hands the task back next time).
          await this.release(
            claimed.task.id,
            claimed.leaseToken,
            'the claim was cancelled as it was made',
          ).catch(() => undefined);
          return { claimed: null, reason: 'the call was cancelled' };
        }
        return { claimed };
      }
      const tried = Date.now();
      // Try again at the backstop, or when a task scheduled for later becomes claimable.
      const scheduled = tried < deadline ? await this.store.untilNextScheduled(agent.type) : null;
      const recheckAt = tried + Math.min(this.config.claimBackstopMs, scheduled ?? Infinity);
      // Wait for a change, that time, the deadline or the abort; tick onWaiting meanwhile.
      for (;;) {
        const now = Date.now();
        if (now >= deadline || signal?.aborted) {
          return {
            claimed: null,
            reason: await explainEmptyClaim(this.store, agent, await this.store.now()),
          };
        }
        if (options.onWaiting && now - lastProgress >= 1_000) {
          lastProgress = now;
          options.onWaiting(now - started);
        }
        const untilBackstop = recheckAt - now;
        if (untilBackstop <= 0) break;
        const untilTick = options.onWaiting ? lastProgress + 1_000 - now : Infinity;
        const changed = await this.changes.waitSince(
          version,
          Math.max(1, Math.min(deadline - now, untilBackstop, untilTick)),
          signal,
        );
        if (changed) break;
      }
    }
  }

  async assign(taskId: number, agentRef: number | string, actor: string): Promise<Task> {
    const agent = await this.getAgent(agentRef);
    const [task] = await this.store.transition({ taskId }, ([t]) => ({
      changes: [decideAssign(t!, agent, actor)],
    }));
    return task!;
  }

  /** Renews one lease by its length; its holder is evidently alive, so that is recorded too. */
  async heartbeatTask(taskId: number, leaseToken: string): Promise<Task> {
    const task =
      (await this.store.heartbeatTask(taskId, leaseToken)) ?? (await this.leaseLost(taskId, leaseToken));
    // No session: an agent heartbeat without one renews nothing else.
    await this.store.heartbeatAgent(task.lease!.agentId, null).catch(() => undefined);
    return task;
  }

  async progress(taskId: number, leaseToken: string, input: ProgressInput): Promise<Task> {
    if (
      input.percent !== undefined &&
      (typeof input.percent !== 'number' ||
        !Number.isFinite(input.percent) ||
        input.percent < 0 ||
        input.percent > 100)
    ) {
      throw new InvalidInputError(
        `percent must be a number from 0 to 100 (got ${JSON.stringify(input.percent)})`,
      );
    }
    if (input.note !== undefined && typeof input.note !== 'string')
      throw new InvalidInputError('note must be text');
    const task = await this.store.progress(
      taskId,
      leaseToken,
      input,
      events.progress(input.note, input.percent),
    );
    return task ?? this.leaseLost(taskId, leaseToken);
  }

  complete(taskId: number, leaseToken: string, input: { result: string; data?: Json }): Promise<Task> {
    if (typeof input.result !== 'string') throw new InvalidInputError('result must be text');
    return this.finish(taskId, leaseToken, (t) => decideComplete(t, leaseToken, input));
  }

  fail(taskId: number, leaseToken: string, input: { error: string; retryable?: boolean }): Promise<Task> {
    if (typeof input.error !== 'string' || input.error.trim() === '')
      throw new InvalidInputError('say what went wrong: error must be non-empty text');
    return this.finish(taskId, leaseToken, (t) => decideFail(t, leaseToken, input, this.config.policy));
  }

  release(taskId: number, leaseToken: string, reason?: string): Promise<Task> {
    return this.finish(taskId, leaseToken, (t) =>
      decideRelease(t, leaseToken, events.released(reason ?? null)),
    );
  }

  // ── the supervisor's side ───────────────────────────────────────────────────────────────────

  async review(
    taskId: number,
    input: { reviewer: string; reviewerAgentId?: number | null; approve: boolean; feedback?: string },
  ): Promise<Task> {
    if (!input.approve && (!input.feedback || input.feedback.trim() === '')) {
      throw new InvalidInputError('requesting changes needs feedback: say what to change');
    }
    const reviewer: Reviewer = { name: input.reviewer, agentId: input.reviewerAgentId ?? null };
    const [task] = await this.store.transition({ taskId }, ([t]) => ({
      changes: [decideReview(t!, { reviewer, approve: input.approve, feedback: input.feedback })],
    }));
    return task!;
  }

  cancel(taskId: number, actor: string, reason?: string): Promise<Task[]> {
    return this.store.transition({ withDependents: taskId }, (tasks) => ({
      changes: tasks.map((t) => decideCancel(t, { actor, reason: reason ?? null, rootId: taskId })),
    }));
  }

  async cancelWorkflow(workflowId: number, actor: string, reason?: string): Promise<Task[]> {
    return this.store.transition({ workflowId }, (tasks) => ({
      changes: tasks.map((t) => decideCancel(t, { actor, reason: reason ?? null, rootId: null })),
      events: [
        {
          ...events.workflowCancelled(
            actor,
            reason ?? null,
            tasks.map((t) => t.id),
          ),
          workflowId,
        },
      ],
    }));
  }

  async retry(taskId: number, actor: string): Promise<Task> {
    const [task] = await this.store.transition({ taskId }, ([t]) => ({ changes: [decideRetry(t!, actor)] }));
    return task!;
  }

  /** One sweep of the lease reaper now (its failure thrown): expired leases, silent agents. */
  reap(): Promise<ReapResult> {
    return this.reaper.reapNow();
  }

  // ── leases ──────────────────────────────────────────────────────────────────────────────────

  /** Keeps what the holder's decisions will need of a task this coordinator handed out. */
  private remember(claimed: ClaimedTask): void {
    const t = claimed.task;
    if (this.leases.size >= LEASES_KEPT) this.leases.delete(this.leases.keys().next().value!);
    this.leases.set(claimed.leaseToken, taskState(t));
  }

  private forget(taskId: number, token?: string): void {
    if (token !== undefined) {
      this.leases.delete(token);
      return;
    }
    for (const [k, v] of this.leases) if (v.id === taskId) this.leases.delete(k);
  }

  /**
   * The holder's write that ends its attempt: decided from the task as claimed (read when this
   * coordinator did not hand it out), written in one guarded statement.
   */
  private async finish(taskId: number, token: string, decide: (t: TaskState) => TaskChange): Promise<Task> {
    let state = this.leases.get(token);
    if (state === undefined || state.id !== taskId) {
      const task = await this.getTask(taskId);
      if (task.status !== 'in_progress' || task.lease?.token !== token) return this.leaseLost(taskId, token);
      state = taskState(task);
    }
    const written = await this.store.apply(decide(state));
    this.leases.delete(token);
    return written ?? this.leaseLost(taskId, token);
  }

  /** The LeaseLostError that says why this token no longer fences the task. */
  private async leaseLost(taskId: number, token: string): Promise<never> {
    this.leases.delete(token);
    const state = await this.store.leaseState(taskId, token);
    if (!state) throw new NotFoundError('task', taskId);
    throw leaseLostError(taskId, state);
  }

  /**
   * Re-evaluate `check` whenever something changes (or at least every poll interval) until it
   * returns a value, the timeout passes, or the signal aborts. Returns null on timeout/abort.
   */
  async waitUntil<T>(
    check: () => Promise<T | null>,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<T | null> {
    const deadline = Date.now() + Math.min(Math.max(0, timeoutMs), this.config.waitMaxMs);
    for (;;) {
      const version = this.changes.current;
      const value = await check();
      if (value !== null) return value;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal?.aborted) return null;
      await this.changes.waitSince(version, Math.min(remaining, this.config.pollBackstopMs), signal);
    }
  }

  /** Deliver events after `after` as they are appended, until the signal aborts. */
  async followEvents(after: number, onEvent: (e: CnsEvent) => void, signal: AbortSignal): Promise<void> {
    let cursor = after;
    while (!signal.aborted) {
      const version = this.changes.current;
      const events = await this.store.listEvents({ after: cursor, limit: 500 });
      for (const e of events) {
        onEvent(e);
        cursor = e.id;
      }
      if (events.length === 500) continue;
      await this.changes.waitSince(version, this.config.pollBackstopMs, signal);
    }
  }
}

/** What a holder's decisions read of a task (the author and open dependencies do not matter there). */
function taskState(t: Task): TaskState {
  return {
    id: t.id,
    workflowId: t.workflowId,
    status: t.status,
    attempts: t.attempts,
    maxAttempts: t.maxAttempts,
    review: t.review,
    reviewRounds: t.reviewRounds,
    maxReviewRounds: t.maxReviewRounds,
    lease: t.lease ? { token: t.lease.token, agentId: t.lease.agentId, agentName: t.lease.agentName } : null,
    assignedTo: t.assignedTo,
    completedBy: t.completedBy,
    authorName: null,
    openDependencies: 0,
  };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,127}$/;

function requireName(what: string, value: unknown): void {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new InvalidInputError(
      `${what} must be 1-128 letters, digits or _.:/@- (got ${JSON.stringify(value)})`,
    );
  }
}
