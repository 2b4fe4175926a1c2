import { LeaseLostError, NotFoundError } from '../core/errors.js';
import type { Agent, ClaimedTask, Json, Question, Task } from '../core/types.js';
import type { AgentRef, AgentRegistration, ProgressInput } from '../store/store.js';
import type { Actor, ClaimOptions, ClaimOutcome } from './api-types.js';
import type { CnsApi } from './cns-api.js';
import type { QuestionInput } from './lifecycle.js';

/**
 * A live agent: one session of it (DESIGN.md §4.3). Registered on start, which mints the session;
 * heartbeating in the background while it lives, which renews the leases this session holds (and
 * only those: a predecessor that crashed under the same name keeps nothing alive); releasing what
 * it holds and ending the session on stop. It keeps the claims it holds, so callers (a model behind
 * MCP) name tasks by id and never copy a token, and `next()` hands back a task it already holds
 * before claiming another: a claim whose answer was lost (a cancelled call) is never stranded.
 */
export class AgentSession {
  private timer: NodeJS.Timeout | null = null;
  /** The claims this session holds, by task id. */
  private readonly claims = new Map<number, ClaimedTask>();
  private stopped = false;
  /** This session's id: fixed for its life, whatever a later registration under the same name does. */
  readonly sessionId: string | null;

  private constructor(
    readonly coordinator: CnsApi,
    private current: Agent,
    private readonly onError: (err: unknown) => void,
  ) {
    this.sessionId = current.session;
  }

  static async start(
    coordinator: CnsApi,
    registration: AgentRegistration,
    options: {
      onError?: (err: unknown) => void;
      /**
       * Heartbeat in the background (default true). False where liveness comes from the agent's
       * calls instead (MCP over HTTP): the caller then runs `beat()` on each call.
       */
      background?: boolean;
    } = {},
  ): Promise<AgentSession> {
    const agent = await coordinator.registerAgent(registration);
    const session = new AgentSession(coordinator, agent, options.onError ?? (() => {}));
    if (options.background ?? true) {
      session.timer = setInterval(() => void session.beat(), coordinator.config.heartbeatIntervalMs);
      session.timer.unref();
    }
    return session;
  }

  /** The agent as last seen, with this session's id (claims are made for this session). */
  get agent(): Agent & AgentRef {
    return { ...this.current, session: this.sessionId };
  }

  /** The agent as the one who acts (in events, and as a reviewer: an author cannot review its own work). */
  get actor(): Actor {
    return { name: this.current.name, agentId: this.current.id, role: 'agent' };
  }

  /** Ids of the tasks this session holds. */
  get held(): number[] {
    return [...this.claims.keys()];
  }

  tokenFor(taskId: number): string {
    const claim = this.claims.get(taskId);
    if (claim === undefined)
      throw new NotFoundError('task', `${taskId} (not held by agent ${this.current.name})`);
    return claim.leaseToken;
  }

  /**
   * One heartbeat: marks the agent alive and renews this session's leases. A claim the heartbeat
   * did not renew has lost its lease (expired, cancelled) and is forgotten — but only a claim that
   * was already held when the heartbeat started: one made meanwhile may have committed after the
   * heartbeat read the tasks, and is not the heartbeat's to judge.
   */
  async beat(): Promise<void> {
    if (this.stopped) return;
    const before = new Map([...this.claims].map(([id, c]) => [id, c.leaseToken]));
    try {
      const { agent, renewed } = await this.coordinator.heartbeat(this.current.id, this.sessionId);
      this.current = agent;
      const live = new Set(renewed);
      for (const [id, token] of before) {
        if (!live.has(id) && this.claims.get(id)?.leaseToken === token) this.claims.delete(id);
      }
    } catch (err) {
      this.onError(err);
    }
  }

  /**
   * The next task for this session: one it already holds (`resumed: true`, with its handoff), else
   * a new claim, waiting up to `options.waitMs` for one.
   */
  async next(options: ClaimOptions = {}): Promise<ClaimOutcome> {
    const held = await this.resume();
    if (held) return { claimed: held, resumed: true };
    const outcome = await this.coordinator.claimNext(this.agent, options);
    if (outcome.claimed) this.claims.set(outcome.claimed.task.id, outcome.claimed);
    return outcome;
  }

  /** A task this session still holds, re-read (claims whose lease is gone are forgotten); or null. */
  async resume(): Promise<ClaimedTask | null> {
    for (const [id, claim] of [...this.claims]) {
      const task = await this.coordinator.getTask(id).catch((err: unknown) => {
        if (err instanceof NotFoundError) return null;
        throw err;
      });
      if (task?.status === 'in_progress' && task.lease?.token === claim.leaseToken) {
        return { ...claim, task, leaseExpiresAt: task.lease.expiresAt };
      }
      if (this.claims.get(id) === claim) this.claims.delete(id);
    }
    return null;
  }

  /** Remember a claim made elsewhere (e.g. restored state). */
  adopt(claimed: ClaimedTask): void {
    this.claims.set(claimed.task.id, claimed);
  }

  progress(taskId: number, input: ProgressInput): Promise<Task> {
    return this.fenced(taskId, (t) => this.coordinator.progress(taskId, t, input), false);
  }

  complete(taskId: number, input: { result: string; data?: Json }): Promise<Task> {
    return this.fenced(taskId, (t) => this.coordinator.complete(taskId, t, input), true);
  }

  fail(taskId: number, input: { error: string; retryable?: boolean }): Promise<Task> {
    return this.fenced(taskId, (t) => this.coordinator.fail(taskId, t, input), true);
  }

  release(taskId: number, reason?: string): Promise<Task> {
    return this.fenced(taskId, (t) => this.coordinator.release(taskId, t, reason), true);
  }

  /**
   * Ask a question about a task this session holds: the task waits for the answer and leaves the
   * session (which may take other work); the answer comes back to whoever claims it next — this
   * agent first, for a while.
   */
  async ask(taskId: number, input: QuestionInput): Promise<{ task: Task; question: Question }> {
    let asked: { task: Task; question: Question } | null = null;
    await this.fenced(
      taskId,
      async (t) => {
        asked = await this.coordinator.ask(taskId, t, input);
        return asked.task;
      },
      true,
    );
    return asked!;
  }

  /** Release what this session holds and end it. Safe to call more than once. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.coordinator.deregisterAgent(this.current.id, this.sessionId, this.actor);
    this.claims.clear();
  }

  private async fenced(taskId: number, op: (token: string) => Promise<Task>, ends: boolean): Promise<Task> {
    const claim = this.claims.get(taskId);
    const token = this.tokenFor(taskId);
    try {
      const task = await op(token);
      if (ends && this.claims.get(taskId) === claim) this.claims.delete(taskId);
      return task;
    } catch (err) {
      if (err instanceof LeaseLostError && this.claims.get(taskId) === claim) this.claims.delete(taskId);
      throw err;
    }
  }
}
