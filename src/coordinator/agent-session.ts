import { LeaseLostError, NotFoundError } from '../core/errors.js';
import type { Agent, ClaimedTask, Json, Task } from '../core/types.js';
import type { AgentRegistration, ProgressInput } from '../store/store.js';
import type { CnsApi } from './cns-api.js';
import type { ClaimOptions, ClaimOutcome } from './coordinator.js';

/**
 * A live agent: registered on start, heartbeating in the background (which renews its leases)
 * while it lives, releasing what it holds and deregistering on stop. It keeps the lease tokens of
 * the tasks it holds, so callers (a model behind MCP) name tasks by id and never copy a token.
 */
export class AgentSession {
  private timer: NodeJS.Timeout | null = null;
  private readonly tokens = new Map<number, string>();
  private stopped = false;

  private constructor(
    readonly coordinator: CnsApi,
    public agent: Agent,
    private readonly onError: (err: unknown) => void,
  ) {}

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

  /** Ids of the tasks this session holds. */
  get held(): number[] {
    return [...this.tokens.keys()];
  }

  tokenFor(taskId: number): string {
    const token = this.tokens.get(taskId);
    if (token === undefined)
      throw new NotFoundError('task', `${taskId} (not held by agent ${this.agent.name})`);
    return token;
  }

  async beat(): Promise<void> {
    if (this.stopped) return;
    try {
      const { agent, renewed } = await this.coordinator.heartbeat(this.agent.id);
      this.agent = agent;
      const live = new Set(renewed);
      for (const id of this.tokens.keys()) if (!live.has(id)) this.tokens.delete(id);
    } catch (err) {
      this.onError(err);
    }
  }

  async next(options: ClaimOptions = {}): Promise<ClaimOutcome> {
    const outcome = await this.coordinator.claimNext(this.agent, options);
    if (outcome.claimed) this.tokens.set(outcome.claimed.task.id, outcome.claimed.leaseToken);
    return outcome;
  }

  /** Remember a claim made elsewhere (e.g. restored state). */
  adopt(claimed: ClaimedTask): void {
    this.tokens.set(claimed.task.id, claimed.leaseToken);
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

  /** Release held tasks and deregister. Safe to call more than once. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.coordinator.deregisterAgent(this.agent.id, this.agent.name);
    this.tokens.clear();
  }

  private async fenced(taskId: number, op: (token: string) => Promise<Task>, ends: boolean): Promise<Task> {
    const token = this.tokenFor(taskId);
    try {
      const task = await op(token);
      if (ends) this.tokens.delete(taskId);
      return task;
    } catch (err) {
      if (err instanceof LeaseLostError) this.tokens.delete(taskId);
      throw err;
    }
  }
}
