import { normalizeBatch, type NewTask, type NewWorkflow } from '../core/batch.js';
import type { CnsConfig } from '../core/config.js';
import { ConflictError, InvalidInputError, NotFoundError } from '../core/errors.js';
import {
  checkActorName,
  checkAgentRef,
  checkAnswer,
  checkClaimant,
  checkCompletion,
  checkEventFilter,
  checkFailure,
  checkId,
  checkInt,
  checkLease,
  checkNewToken,
  checkNumber,
  checkOptionalText,
  checkPage,
  checkProgress,
  checkQuestionFilter,
  checkQuestionInput,
  checkRegistration,
  checkReview,
  checkSession,
  checkSupervisorWrite,
  checkTaskFilter,
  checkText,
  ID_MAX,
  TEXT_LIMITS,
  TIME_MAX,
} from '../core/input.js';
import { type TaskStatus, TASK_STATUSES } from '../core/status.js';
import type {
  Agent,
  ClaimedTask,
  CnsEvent,
  Json,
  Millis,
  Question,
  Task,
  TokenRecord,
  Workflow,
} from '../core/types.js';
import type {
  AgentRef,
  AgentRegistration,
  CreateTasksResult,
  EventFilter,
  NewToken,
  Page,
  ProgressInput,
  QuestionFilter,
  QuestionWrite,
  LeaderInfo,
  ReapResult,
  Store,
  TaskChange,
  TaskFilter,
  TaskState,
} from '../store/store.js';
import type {
  Actor,
  ActorRole,
  ClaimOptions,
  ClaimOutcome,
  FleetStatus,
  ReviewInput,
  TaskDetail,
} from './api-types.js';
import { ChangeSignal, type ClaimTicket } from './change-signal.js';
import type { CnsApi } from './cns-api.js';
import { events } from './events.js';
import { explainEmptyClaim, explainTask, type Explanation } from './explain.js';
import { LeaseReaper } from './lease-reaper.js';
import {
  answerRefusal,
  decideAnswer,
  decideAsk,
  decideAssign,
  decideCancel,
  decideComplete,
  decideFail,
  decideRelease,
  decideRetry,
  decideReview,
  leaseLost as leaseLostError,
  type QuestionInput,
} from './lifecycle.js';
import { QuestionWebhook } from './question-webhook.js';

export type {
  Actor,
  ActorRole,
  ClaimOptions,
  ClaimOutcome,
  FleetStatus,
  ReviewInput,
  TaskDetail,
} from './api-types.js';

/** Lease snapshots kept for the agents' writes (see Coordinator.leases); the oldest go first. */
const LEASES_KEPT = 10_000;

/**
 * Who acts, as the Coordinator's methods accept it: an Actor, or — deprecated, for callers not yet
 * moved to Actors — a bare name, which stands for `{ name, agentId: null, role: 'system' }`.
 */
export type ActorLike = Actor | string;

/**
 * The service layer: everything the fronts (CLI, MCP, HTTP) do goes through here — it is the only
 * way in: the Store is private to it, and the fronts import no store module at runtime (ESLint
 * enforces it). Backend-agnostic: it adds waits and wake-ups, the lease reaper, validation and
 * explanations on top of a Store. Methods that record who acts take an `Actor`, which each front
 * resolves once per request (api-types.ts).
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
  /** Calls the question webhooks (config questionWebhookUrl, a workflow's metadata.questionWebhook). */
  private readonly webhook: QuestionWebhook;

  constructor(
    private readonly store: Store,
    readonly config: Readonly<CnsConfig>,
    options: { reaper?: boolean; onError?: (err: unknown) => void } = {},
  ) {
    this.changes = new ChangeSignal(store);
    this.reaper = new LeaseReaper(store, config, options.onError);
    this.webhook = new QuestionWebhook(
      config,
      (id) => this.store.getWorkflow(id),
      options.onError ?? (() => undefined),
    );
    if (options.reaper ?? true) this.reaper.start();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.reaper.stop();
    this.changes.close();
    await this.store.close();
  }

  /** The backend the data lives on. */
  get backend(): Store['backend'] {
    return this.store.backend;
  }

  /** The time as the store keeps it (PostgreSQL without an injected clock: the database server's). */
  now(): Promise<Millis> {
    return this.store.now();
  }

  // ── agents ──────────────────────────────────────────────────────────────────────────────────

  async registerAgent(registration: AgentRegistration): Promise<Agent> {
    checkRegistration(registration);
    const capabilities = [...new Set(registration.capabilities ?? [])].sort();
    return this.store.registerAgent(
      { ...registration, capabilities },
      events.agentRegistered({
        name: registration.name,
        type: registration.type,
        capabilities,
        host: registration.host ?? null,
        pid: registration.pid ?? null,
      }),
    );
  }

  /**
   * Forget agents offline and silent for at least `silentForMs` (only `names` when given), never one
   * holding a task: they leave the fleet's lists (their history stays) until they register again.
   */
  async forgetAgents(
    options: { silentForMs: number; names?: readonly string[] },
    actor: ActorLike,
  ): Promise<Agent[]> {
    checkNumber('the silence (ms)', options.silentForMs, 0, TIME_MAX);
    for (const n of options.names ?? []) requireName('agent name', n);
    checkActorName('actor', actor);
    const now = await this.store.now();
    return this.store.forgetAgents(
      { silentSince: now - options.silentForMs, names: options.names ? [...options.names] : null },
      events.agentForgotten(actorOf(actor).name, options.silentForMs),
    );
  }

  async heartbeat(agentId: number, session: string | null): Promise<{ agent: Agent; renewed: number[] }> {
    checkId('agent id', agentId);
    checkSession(session);
    return this.store.heartbeatAgent(agentId, session);
  }

  /**
   * A session ends: the tasks it holds go back to the queue (the attempt not counted), and the agent
   * is deregistered if this was its current session (a null session: every session).
   */
  async deregisterAgent(
    agentId: number,
    session: string | null,
    actor?: ActorLike,
  ): Promise<{ released: number[] }> {
    checkId('agent id', agentId);
    checkSession(session);
    if (actor !== undefined) checkActorName('actor', actor);
    const agent = await this.getAgent(agentId);
    // By default the agent ends its own session.
    const by = actor === undefined ? agent.name : actorOf(actor).name;
    const released = await this.store.transition({ heldBy: { agentId, session } }, (tasks) => ({
      changes: tasks.map((t) =>
        decideRelease(t, t.lease?.token ?? null, events.releasedByDeregistration({ id: agentId, name: by })),
      ),
    }));
    const ids = released.map((t) => t.id);
    for (const t of released) this.forget(t.id);
    await this.store.endSession(agentId, session, events.agentDeregistered(agent, by, ids));
    return { released: ids };
  }

  /** The tasks this session of the agent holds, as their claims handed them out (token, handoff). */
  async heldTasks(agent: Pick<AgentRef, 'id' | 'session'>): Promise<ClaimedTask[]> {
    checkId('agent id', agent.id);
    checkSession(agent.session);
    return this.store.heldBy(agent);
  }

  async getAgent(ref: number | string): Promise<Agent> {
    const agent = await this.findAgent(ref);
    if (!agent) throw new NotFoundError('agent', ref);
    return agent;
  }

  /** The agent with this id or name (deregistered ones included), or null. */
  async findAgent(ref: number | string): Promise<Agent | null> {
    checkAgentRef('agent', ref);
    return this.store.getAgent(ref);
  }

  /**
   * The actor a name stands for: that name, with the id of the agent of that name if one was ever
   * registered (agent names are unique, and an agent keeps its id), else no agent. The fronts call
   * it once per request for a person or a supervisor named by a flag or a token.
   */
  async resolveActor(name: string, role: ActorRole): Promise<Actor> {
    checkText('who acts', name, TEXT_LIMITS.name, { nonEmpty: true });
    const agent = await this.findAgent(name);
    return { name, agentId: agent?.id ?? null, role };
  }

  listAgents(): Promise<Agent[]> {
    return this.store.listAgents();
  }

  // ── creating tasks ──────────────────────────────────────────────────────────────────────────

  /** Create one task (optionally inside an existing workflow). */
  async createTask(
    task: NewTask & { workflowId?: number },
    actor: ActorLike,
  ): Promise<{ task: Task; created: boolean }> {
    const { workflowId, ...rest } = task;
    const res = await this.createTasks({ tasks: [rest], workflowId, actor });
    return { task: res.tasks[0]!, created: res.created[0]! };
  }

  /** Create a workflow and its tasks (dependencies by local refs) in one transaction. */
  createWorkflow(workflow: NewWorkflow & { tasks: NewTask[] }, actor: ActorLike): Promise<CreateTasksResult> {
    const { tasks, ...wf } = workflow;
    return this.createTasks({ workflow: wf, tasks, actor });
  }

  async createTasks(request: {
    workflow?: NewWorkflow;
    workflowId?: number;
    tasks: NewTask[];
    actor: ActorLike;
  }): Promise<CreateTasksResult> {
    checkActorName('actor', request.actor);
    const batch = normalizeBatch({ ...request, actor: actorOf(request.actor).name }, this.config.policy);
    return this.store.createTasks(batch, {
      workflow: batch.workflow ? events.workflowCreated(batch.actor, batch.workflow.name.trim()) : null,
      tasks: batch.tasks.map((t) => events.taskCreated(batch.actor, t.title)),
    });
  }

  // ── reading ─────────────────────────────────────────────────────────────────────────────────

  async getTask(id: number): Promise<Task> {
    checkId('task id', id);
    const task = await this.store.getTask(id);
    if (!task) throw new NotFoundError('task', id);
    return task;
  }

  async getTaskDetail(id: number, options: { eventLimit?: number } = {}): Promise<TaskDetail> {
    if (options.eventLimit !== undefined) checkInt('event limit', options.eventLimit, 0, 1_000);
    const task = await this.getTask(id);
    const [dependencies, dependents, attempts, events, questions, explanation] = await Promise.all([
      this.store.getDependencies(id),
      this.store.getDependents(id),
      this.store.listAttempts(id),
      this.store.listEvents({ taskId: id, limit: options.eventLimit ?? 200 }),
      this.store.listQuestions({ taskId: id, order: 'oldest', limit: 500 }),
      this.explainTask(task),
    ]);
    return { task, dependencies, dependents, attempts, events, questions, explanation };
  }

  async listTasks(filter: TaskFilter = {}): Promise<Page<Task>> {
    checkTaskFilter(filter);
    if (filter.status)
      for (const s of filter.status)
        if (!TASK_STATUSES.includes(s))
          throw new InvalidInputError(`unknown status "${s}" (one of ${TASK_STATUSES.join(', ')})`);
    return this.store.listTasks(filter);
  }

  async getWorkflow(id: number): Promise<Workflow> {
    checkId('workflow id', id);
    const wf = await this.store.getWorkflow(id);
    if (!wf) throw new NotFoundError('workflow', id);
    return wf;
  }

  async listWorkflows(filter: { limit?: number; after?: number } = {}): Promise<Page<Workflow>> {
    checkPage(filter);
    return this.store.listWorkflows(filter);
  }

  async listEvents(filter: EventFilter = {}): Promise<CnsEvent[]> {
    checkEventFilter(filter);
    return this.store.listEvents(filter);
  }

  /** The newest events matching the filter, oldest first (`limit` of them, default 100). */
  async listLatestEvents(filter: Omit<EventFilter, 'after'> = {}): Promise<CnsEvent[]> {
    checkEventFilter(filter);
    return this.store.listLatestEvents(filter);
  }

  /** The id of the newest event, 0 when there is none: where a feed "from now" starts. */
  async latestEventId(): Promise<number> {
    return (await this.store.listLatestEvents({ limit: 1 }))[0]?.id ?? 0;
  }

  /** Task counts by status (of one workflow, or all). */
  async countTasks(filter: { workflowId?: number } = {}): Promise<Record<TaskStatus, number>> {
    if (filter.workflowId !== undefined) checkId('workflow id', filter.workflowId);
    return this.store.countTasks(filter);
  }

  async explain(id: number): Promise<Explanation> {
    checkId('task id', id);
    return this.explainTask(await this.getTask(id));
  }

  private async explainTask(task: Task): Promise<Explanation> {
    return explainTask(this.store, task, await this.store.now());
  }

  /**
   * The fleet, task counts, and the non-final tasks that are not moving (with why): the first
   * `stuckLimit` of them explained, and how many there are (`stuckTotal`, counted over at most
   * STUCK_SCAN open tasks; `stuckTotalExact` is false when more were left unexamined).
   */
  async status(options: { stuckLimit?: number } = {}): Promise<FleetStatus> {
    if (options.stuckLimit !== undefined) checkInt('stuck limit', options.stuckLimit, 0, 200);
    const [agents, counts, now] = await Promise.all([
      this.store.listAgents(),
      this.store.countTasks(),
      this.store.now(),
    ]);
    const stuck: Explanation[] = [];
    const limit = options.stuckLimit ?? 20;
    // Whether a task may be stuck, from its row and the agents alone (no query): the same reasons
    // as `notMoving` below, which decides for the tasks that are explained.
    const byId = new Map(agents.map((a) => [a.id, a]));
    const alive = (id: number) => {
      const s = byId.get(id)?.status;
      return s === 'idle' || s === 'working';
    };
    const mayBeStuck = (t: Task) =>
      t.status === 'pending'
        ? !agents.some(
            (a) =>
              a.status !== 'offline' &&
              a.type === t.type &&
              t.requires.every((c) => a.capabilities.includes(c)),
          )
        : t.status === 'in_progress'
          ? t.lease !== null && (t.lease.expiresAt <= now || byId.get(t.lease.agentId)?.status === 'offline')
          : t.status === 'assigned' && t.assignedTo !== null && !alive(t.assignedTo);
    const STUCK_SCAN = 2000;
    let stuckTotal = 0;
    let scanned = 0;
    let after: number | undefined;
    let more = true;
    while (more && scanned < STUCK_SCAN) {
      const page = await this.store.listTasks({
        status: ['pending', 'assigned', 'in_progress'],
        limit: 500,
        after,
      });
      for (const t of page.items) {
        scanned++;
        if (!mayBeStuck(t)) continue;
        if (stuck.length >= limit) {
          stuckTotal++;
          continue;
        }
        const ex = await explainTask(this.store, t, now);
        const notMoving = ex.reasons.some(
          (r) =>
            r.code === 'no_live_agent' ||
            (r.code === 'held' && (r.expired || r.agentStatus === 'offline')) ||
            (r.code === 'assigned' && r.agentStatus !== 'idle' && r.agentStatus !== 'working'),
        );
        if (notMoving) {
          stuck.push(ex);
          stuckTotal++;
        }
      }
      more = page.nextCursor !== null;
      after = page.nextCursor ?? undefined;
    }
    return {
      at: now,
      backend: this.store.backend,
      agents,
      counts,
      openQuestions: counts.waiting_input,
      stuck,
      stuckTotal,
      stuckTotalExact: !more,
    };
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
    checkClaimant(agent);
    if (options.waitMs !== undefined) checkNumber('the wait (ms)', options.waitMs, 0, TIME_MAX);
    const waitMs = Math.min(Math.max(0, options.waitMs ?? 0), this.config.waitMaxMs);
    const leaseMs = options.leaseMs ?? this.config.policy.leaseMs;
    if (!Number.isSafeInteger(leaseMs) || leaseMs < 1) {
      throw new InvalidInputError(
        `the lease length must be a whole number of milliseconds ≥ 1 (got ${leaseMs})`,
      );
    }
    const outcome = await this.untilWork(agent, { ...options, waitMs }, async (ticket) => {
      const claimed = await this.store.claim(agent, leaseMs, events.claimed(agent, leaseMs));
      if (claimed) {
        if (ticket) this.changes.passOn(ticket);
        this.remember(claimed);
      }
      return claimed;
    });
    if (outcome.found === null) return { claimed: null, reason: outcome.reason };
    const claimed = outcome.found;
    if (options.signal?.aborted) {
      // The caller went away as the claim was made: it would never see the task. Give it back
      // (if even that fails, the lease expires, or the session hands the task back next time).
      await this.release(claimed.task.id, claimed.leaseToken, 'the claim was cancelled as it was made').catch(
        () => undefined,
      );
      return { claimed: null, reason: 'the call was cancelled' };
    }
    return { claimed };
  }

  /**
   * Waits, without claiming, until there is a task this agent could claim (assigned to it, kept for
   * it, or pending of its type with capabilities it has), then returns it; or the reason there is
   * none when the wait ends. Another agent may claim it first: the caller claims next (`cns wait`,
   * then `task_next`). Costs what a waiting claim costs: nothing while nothing changes.
   */
  async waitForWork(
    agent: Pick<AgentRef, 'id' | 'name' | 'type' | 'capabilities'>,
    options: Pick<ClaimOptions, 'waitMs' | 'signal'> = {},
  ): Promise<{ task: Task; reason?: undefined } | { task: null; reason: string }> {
    // 0: a waiter that is no registered agent (nothing is assigned to it).
    checkInt('agent id', agent.id, 0, ID_MAX);
    if (options.waitMs !== undefined) checkNumber('the wait (ms)', options.waitMs, 0, TIME_MAX);
    const waitMs = Math.min(Math.max(0, options.waitMs ?? 0), this.config.waitMaxMs);
    const outcome = await this.untilWork(agent, { ...options, waitMs }, () =>
      this.store.peekClaimable(agent),
    );
    return outcome.found === null ? { task: null, reason: outcome.reason } : { task: outcome.found };
  }

  /**
   * The waiting loop of claimNext and waitForWork: `look` (a claim, or a peek) now; while it finds
   * nothing and time remains, sleep until this process's ChangeSignal offers work (see
   * change-signal.ts), a task scheduled for later becomes claimable, or the backstop
   * (config.claimBackstopMs) — then look again. `options.waitMs` is already capped.
   */
  private async untilWork<T>(
    agent: Pick<AgentRef, 'id' | 'name' | 'type' | 'capabilities'>,
    options: ClaimOptions & { waitMs: number },
    look: (ticket: ClaimTicket | null) => Promise<T | null>,
  ): Promise<{ found: T; reason?: undefined } | { found: null; reason: string }> {
    const { waitMs, signal } = options;
    const started = Date.now();
    const deadline = started + waitMs;
    let lastProgress = started;
    // Waiting claims queue for work in this process (ChangeSignal): a new task is offered to one
    // of them at a time, so a thousand agents long-polling one `cns serve` do not all try for it.
    const ticket = waitMs > 0 ? this.changes.openTicket(agent) : null;
    try {
      for (;;) {
        if (ticket) ticket.hit = false;
        const found = await look(ticket);
        if (found !== null) return { found };
        const tried = Date.now();
        // Look again at the backstop, or when a task scheduled for later becomes claimable.
        const scheduled = ticket && tried < deadline ? await this.changes.nextScheduled(agent.type) : null;
        let recheckAt = tried + Math.min(this.config.claimBackstopMs, scheduled ?? Infinity);
        // Wait to be offered work, for that time, the deadline or the abort; tick onWaiting meanwhile.
        for (;;) {
          const now = Date.now();
          if (now >= deadline || signal?.aborted || !ticket) {
            return {
              found: null,
              reason: await explainEmptyClaim(this.store, agent, await this.store.now()),
            };
          }
          if (options.onWaiting && now - lastProgress >= 1_000) {
            lastProgress = now;
            options.onWaiting(now - started);
          }
          // A hint may have told of a task of its type scheduled sooner (ChangeSignal.learnScheduled).
          recheckAt = Math.min(recheckAt, this.changes.knownScheduled(agent.type) ?? Infinity);
          const untilBackstop = recheckAt - now;
          if (untilBackstop <= 0) break;
          const untilTick = options.onWaiting ? lastProgress + 1_000 - now : Infinity;
          const offered = await this.changes.waitForWork(
            ticket,
            Math.max(1, Math.min(deadline - now, untilBackstop, untilTick)),
            signal,
          );
          if (offered) break;
        }
      }
    } finally {
      if (ticket) this.changes.closeTicket(ticket);
    }
  }

  async assign(taskId: number, agentRef: number | string, actor: ActorLike): Promise<Task> {
    checkId('task id', taskId);
    checkAgentRef('agent', agentRef);
    checkActorName('actor', actor);
    const agent = await this.getAgent(agentRef);
    const by = actorOf(actor).name;
    const [task] = await this.store.transition({ taskId }, ([t]) => ({
      changes: [decideAssign(t!, agent, by)],
    }));
    return task!;
  }

  /** Renews one lease by its length; its holder is evidently alive, so that is recorded too. */
  async heartbeatTask(taskId: number, leaseToken: string): Promise<Task> {
    checkLease(taskId, leaseToken);
    const task =
      (await this.store.heartbeatTask(taskId, leaseToken)) ?? (await this.leaseLost(taskId, leaseToken));
    // No session: an agent heartbeat without one renews nothing else.
    await this.store.heartbeatAgent(task.lease!.agentId, null).catch(() => undefined);
    return task;
  }

  async progress(taskId: number, leaseToken: string, input: ProgressInput): Promise<Task> {
    checkLease(taskId, leaseToken);
    checkProgress(input);
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

  async complete(taskId: number, leaseToken: string, input: { result: string; data?: Json }): Promise<Task> {
    checkLease(taskId, leaseToken);
    checkCompletion(input);
    return this.finish(taskId, leaseToken, (t) => decideComplete(t, leaseToken, input));
  }

  async fail(
    taskId: number,
    leaseToken: string,
    input: { error: string; retryable?: boolean },
  ): Promise<Task> {
    checkLease(taskId, leaseToken);
    checkFailure(input);
    return this.finish(taskId, leaseToken, (t) => decideFail(t, leaseToken, input, this.config.policy));
  }

  async release(taskId: number, leaseToken: string, reason?: string): Promise<Task> {
    checkLease(taskId, leaseToken);
    checkOptionalText('reason', reason, TEXT_LIMITS.reason);
    return this.finish(taskId, leaseToken, (t) =>
      decideRelease(t, leaseToken, events.released(reason ?? null)),
    );
  }

  // ── the supervisor's side ───────────────────────────────────────────────────────────────────

  /**
   * Approve, or request changes with feedback. The reviewer may not be the task's author (its
   * agent id or name): lifecycle.decideReview.
   */
  async review(
    taskId: number,
    input: Omit<ReviewInput, 'reviewer'> & {
      reviewer: ActorLike;
      /** @deprecated with a bare reviewer name only: its agent id. Pass an Actor instead. */
      reviewerAgentId?: number | null;
    },
  ): Promise<Task> {
    checkReview(taskId, input);
    if (!input.approve && (!input.feedback || input.feedback.trim() === '')) {
      throw new InvalidInputError('requesting changes needs feedback: say what to change');
    }
    const actor = actorOf(input.reviewer);
    const reviewer = {
      name: actor.name,
      agentId: typeof input.reviewer === 'string' ? (input.reviewerAgentId ?? null) : actor.agentId,
    };
    const [task] = await this.store.transition({ taskId }, ([t]) => ({
      changes: [decideReview(t!, { reviewer, approve: input.approve, feedback: input.feedback })],
    }));
    return task!;
  }

  async cancel(taskId: number, actor: ActorLike, reason?: string): Promise<Task[]> {
    checkSupervisorWrite('task id', taskId, actor, reason);
    const by = actorOf(actor).name;
    return this.store.transition({ withDependents: taskId }, (tasks) => ({
      changes: tasks.map((t) => decideCancel(t, { actor: by, reason: reason ?? null, rootId: taskId })),
      questions: closeQuestions(tasks),
    }));
  }

  async cancelWorkflow(workflowId: number, actor: ActorLike, reason?: string): Promise<Task[]> {
    checkSupervisorWrite('workflow id', workflowId, actor, reason);
    const by = actorOf(actor).name;
    return this.store.transition({ workflowId }, (tasks) => ({
      changes: tasks.map((t) => decideCancel(t, { actor: by, reason: reason ?? null, rootId: null })),
      questions: closeQuestions(tasks),
      events: [
        {
          ...events.workflowCancelled(
            by,
            reason ?? null,
            tasks.map((t) => t.id),
          ),
          workflowId,
        },
      ],
    }));
  }

  async retry(taskId: number, actor: ActorLike): Promise<Task> {
    checkSupervisorWrite('task id', taskId, actor);
    const by = actorOf(actor).name;
    const [task] = await this.store.transition({ taskId }, ([t]) => ({ changes: [decideRetry(t!, by)] }));
    return task!;
  }

  /** One sweep of the lease reaper now (its failure thrown): expired leases, silent agents. */
  /** Which process leads the lease reaper of this database (null: none has yet). */
  reaperLeader(): Promise<LeaderInfo | null> {
    return this.store.leader('reaper');
  }

  /** Whether some process's lease reaper sweeps this database now (its leader is known alive). */
  async reaperRunning(): Promise<boolean> {
    const leader = await this.store.leader('reaper');
    return leader !== null && leader.expiresAt > (await this.store.now());
  }

  reap(): Promise<ReapResult> {
    return this.reaper.reapNow();
  }

  // ── API tokens (of `cns serve`; minted and checked by src/http/tokens.ts) ────────────────────

  /** Stores a token (only its secret's hash). */
  async createToken(token: NewToken): Promise<TokenRecord> {
    checkNewToken(token);
    return this.store.createToken(token);
  }

  listTokens(): Promise<TokenRecord[]> {
    return this.store.listTokens();
  }

  /** Revokes a token (NotFoundError for an unknown id); revoking again keeps the first time. */
  async revokeToken(id: number): Promise<TokenRecord> {
    checkId('token id', id);
    return this.store.revokeToken(id);
  }

  /** The token with this secret hash (revoked ones included), or null. */
  findTokenByHash(secretHash: string): Promise<TokenRecord | null> {
    return this.store.findTokenByHash(secretHash);
  }

  /** Records that a token was used now. */
  async touchToken(id: number): Promise<void> {
    checkId('token id', id);
    return this.store.touchToken(id);
  }

  // ── questions ───────────────────────────────────────────────────────────────────────────────

  /**
   * The holder asks a question about its task: the task waits for the answer (waiting_input) and
   * leaves the agent — its lease ends, the attempt does not count — so the agent may take other
   * work. The question is open until someone answers it (or the task is cancelled).
   */
  async ask(
    taskId: number,
    leaseToken: string,
    input: QuestionInput,
  ): Promise<{ task: Task; question: Question }> {
    checkLease(taskId, leaseToken);
    checkQuestionInput(input);
    const question = checkQuestion(input);
    let guard = false;
    let task: Task;
    try {
      [task] = (await this.store.transition({ taskId }, ([t]) => {
        if (t!.status !== 'in_progress' || t!.lease?.token !== leaseToken) {
          guard = true;
          throw new LeaseGuardFailed();
        }
        return decideAsk(t!, leaseToken, question);
      })) as [Task];
    } catch (err) {
      if (guard && err instanceof LeaseGuardFailed) return this.leaseLost(taskId, leaseToken);
      throw err;
    }
    this.leases.delete(leaseToken);
    const [open] = await this.store.listQuestions({ taskId, status: ['open'], limit: 1 });
    if (!open) throw new Error(`internal: task ${taskId} waits for an answer but has no open question`);
    this.webhook.questionAsked(open, task);
    return { task, question: open };
  }

  /**
   * Someone answers an open question: the task returns to pending, kept for the agent that asked
   * for `policy.preferAskerMs`, and the next claimant receives the question and the answer.
   * Refused (ConflictError) for a question already answered or closed.
   */
  async answer(
    questionId: number,
    input: { answer: string; by: ActorLike },
  ): Promise<{ task: Task; question: Question }> {
    checkAnswer(questionId, input);
    if (typeof input.answer !== 'string' || input.answer.trim() === '') {
      throw new InvalidInputError('an answer must be non-empty text', { field: 'answer' });
    }
    const question = await this.getQuestion(questionId);
    const actor = actorOf(input.by);
    const by = { name: actor.name, agentId: actor.agentId };
    let task: Task;
    try {
      [task] = (await this.store.transition({ taskId: question.taskId }, ([t]) =>
        decideAnswer(t!, question, { answer: input.answer, by }, this.config.policy),
      )) as [Task];
    } catch (err) {
      // Answered (or closed) by someone else meanwhile: say so, from the question as it is now.
      if (err instanceof ConflictError && question.status === 'open') {
        const now = await this.getQuestion(questionId);
        if (now.status !== 'open') {
          const decided = answerRefusal(now);
          if (decided) throw decided;
        }
      }
      throw err;
    }
    return { task, question: await this.getQuestion(questionId) };
  }

  async getQuestion(id: number): Promise<Question> {
    checkId('question id', id);
    const question = await this.store.getQuestion(id);
    if (!question) throw new NotFoundError('question', id);
    return question;
  }

  /** Questions, newest first (open ones by default: the inbox). */
  async listQuestions(filter: QuestionFilter = {}): Promise<Question[]> {
    checkQuestionFilter(filter);
    return this.store.listQuestions(filter);
  }

  // ── leases ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Who holds task `taskId` now, as far as a report with `leaseToken` is concerned: the agent the
   * token was handed out to, when this coordinator handed it out (no read), else the task's current
   * holder (null when nobody holds it). The fenced write itself then decides whether the token is
   * still good.
   */
  async reportingHolder(taskId: number, leaseToken: string): Promise<string | null> {
    const known = this.leases.get(leaseToken);
    if (known !== undefined && known.id === taskId) return known.lease?.agentName ?? null;
    const task = await this.getTask(taskId);
    return task.status === 'in_progress' && task.lease ? task.lease.agentName : null;
  }

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
    checkNumber('the wait (ms)', timeoutMs, 0, TIME_MAX);
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
    checkInt('after (an event id)', after, 0, ID_MAX);
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

/** A bare name (deprecated) is an actor that is no agent. */
/** Raised inside a decision when the caller's lease token is not the task's: the lease-lost reason is read after. */
class LeaseGuardFailed extends Error {}

/** Each waiting task of a cancellation closes its open question unanswered. */
function closeQuestions(tasks: TaskState[]): QuestionWrite[] {
  return tasks
    .filter((t) => t.status === 'waiting_input')
    .map((t) => ({ close: { taskId: t.id, reason: 'its task was cancelled' } }));
}

const QUESTION_TEXT_MAX = 20_000;
const CHOICES_MAX = 20;

/** A question as asked, checked: non-empty text, a few short choices, whom it is for. */
function checkQuestion(input: QuestionInput): QuestionInput {
  if (typeof input.text !== 'string' || input.text.trim() === '' || input.text.length > QUESTION_TEXT_MAX) {
    throw new InvalidInputError(
      `a question must be non-empty text of at most ${QUESTION_TEXT_MAX} characters`,
      {
        field: 'text',
      },
    );
  }
  const choices = input.choices ?? null;
  if (
    choices !== null &&
    (!Array.isArray(choices) ||
      choices.length === 0 ||
      choices.length > CHOICES_MAX ||
      choices.some((c) => typeof c !== 'string' || c.trim() === '' || c.length > 500))
  ) {
    throw new InvalidInputError(
      `choices must be 1-${CHOICES_MAX} non-empty texts of at most 500 characters`,
      {
        field: 'choices',
      },
    );
  }
  const forWhom = input.for ?? 'supervisor';
  requireName('whom a question is for', forWhom);
  return { text: input.text, choices, context: input.context ?? null, for: forWhom };
}

function actorOf(actor: ActorLike): Actor {
  return typeof actor === 'string' ? { name: actor, agentId: null, role: 'system' } : actor;
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
