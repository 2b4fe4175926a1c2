/**
 * `HttpCnsApi`: the CnsApi (src/coordinator/cns-api.ts) over a remote `cns serve`, with a bearer
 * token, on fetch. It is what `cns mcp --server URL --token T` runs its MCP server and agent session
 * on: the same code as against a database, with the server deciding who acts (the token's
 * identity). HTTP errors become the domain's error classes again, so the MCP front's error
 * translation (tool-errors.ts) works unchanged.
 */
import type { NewTask, NewWorkflow } from '../core/batch.js';
import type { CnsApi, CnsApiConfig } from '../coordinator/cns-api.js';
import type {
  Actor,
  ClaimOptions,
  ClaimOutcome,
  FleetStatus,
  ReviewInput,
  TaskDetail,
} from '../coordinator/api-types.js';
import type { QuestionInput } from '../coordinator/lifecycle.js';
import type { Explanation } from '../coordinator/explain.js';
import {
  CnsError,
  ConflictError,
  ForbiddenError,
  InvalidInputError,
  LeaseLostError,
  NotFoundError,
  type LeaseLostReason,
} from '../core/errors.js';
import type { TaskStatus } from '../core/status.js';
import type {
  Agent,
  ClaimedTask,
  CnsEvent,
  Json,
  Question,
  Task,
  TokenRole,
  Workflow,
} from '../core/types.js';
import type {
  AgentRef,
  AgentRegistration,
  CreateTasksResult,
  EventFilter,
  Page,
  ProgressInput,
  QuestionFilter,
  TaskFilter,
} from '../store/store.js';

/** What `GET /api/whoami` says. */
export interface WhoAmI {
  role: TokenRole;
  name: string;
  tokenId: number;
  agent: { name: string; type: string; capabilities: string[] } | null;
  server: {
    version: string;
    backend: string;
    leaseMs: number;
    heartbeatIntervalMs: number;
    waitDefaultMs: number;
    waitMaxMs: number;
  };
}

export interface HttpCnsApiOptions {
  /** Heartbeat interval of a local agent session (default: the server's). */
  heartbeatIntervalMs?: number;
  /** Replace fetch (tests). */
  fetch?: typeof fetch;
}

export class HttpCnsApi implements CnsApi {
  readonly config: Readonly<CnsApiConfig>;
  private readonly closing = new AbortController();
  private readonly base: URL;

  private constructor(
    server: string,
    private readonly token: string,
    readonly whoami: WhoAmI,
    options: HttpCnsApiOptions,
    private readonly fetchFn: typeof fetch,
  ) {
    this.base = new URL(server);
    this.config = Object.freeze({
      db: this.base.origin,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? whoami.server.heartbeatIntervalMs,
      waitDefaultMs: Math.min(whoami.server.waitDefaultMs, whoami.server.waitMaxMs),
      waitMaxMs: whoami.server.waitMaxMs,
    });
  }

  /** Checks the server and the token (GET /api/whoami) and returns a client. */
  static async connect(server: string, token: string, options: HttpCnsApiOptions = {}): Promise<HttpCnsApi> {
    let base: URL;
    try {
      base = new URL(server);
      if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      throw new InvalidInputError(
        `--server must be an http(s) URL like http://127.0.0.1:4747 (got ${JSON.stringify(server)})`,
      );
    }
    const fetchFn = options.fetch ?? fetch;
    const whoami = await request<WhoAmI>(fetchFn, base, token, 'GET', '/api/whoami');
    return new HttpCnsApi(base.href, token, whoami, options, fetchFn);
  }

  async close(): Promise<void> {
    this.closing.abort();
  }

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    if (!signal)
      return request<T>(this.fetchFn, this.base, this.token, method, path, body, this.closing.signal);
    const either = eitherSignal(this.closing.signal, signal);
    try {
      return await request<T>(this.fetchFn, this.base, this.token, method, path, body, either.signal);
    } finally {
      either.dispose();
    }
  }

  // ── agents ────────────────────────────────────────────────────────────────────────────────────

  async registerAgent(input: AgentRegistration): Promise<Agent> {
    const res = await this.call<{ agent: Agent }>('POST', '/api/agent/register', {
      capabilities: input.capabilities,
      host: input.host ?? null,
      pid: input.pid ?? null,
      clientInfo: input.clientInfo ?? null,
    });
    return res.agent;
  }

  heartbeat(_agentId: number, session: string | null): Promise<{ agent: Agent; renewed: number[] }> {
    return this.call('POST', '/api/agent/heartbeat', { session });
  }

  deregisterAgent(_agentId: number, session: string | null): Promise<{ released: number[] }> {
    return this.call('POST', '/api/agent/deregister', { session });
  }

  async getAgent(ref: number | string): Promise<Agent> {
    return (await this.call<{ agent: Agent }>('GET', `/api/agents/${encodeURIComponent(String(ref))}`)).agent;
  }

  async listAgents(): Promise<Agent[]> {
    return (await this.call<{ agents: Agent[] }>('GET', '/api/agents')).agents;
  }

  // ── creating and reading ──────────────────────────────────────────────────────────────────────

  createTask(task: NewTask & { workflowId?: number }): Promise<{ task: Task; created: boolean }> {
    return this.call('POST', '/api/tasks', task);
  }

  createWorkflow(workflow: NewWorkflow & { tasks: NewTask[] }): Promise<CreateTasksResult> {
    return this.call('POST', '/api/workflows', workflow);
  }

  async getTask(id: number): Promise<Task> {
    return (await this.call<{ task: Task }>('GET', `/api/tasks/${id}?view=task`)).task;
  }

  getTaskDetail(id: number, options: { eventLimit?: number } = {}): Promise<TaskDetail> {
    const q =
      options.eventLimit === undefined ? '' : `?events=${Math.min(1000, Math.max(0, options.eventLimit))}`;
    return this.call('GET', `/api/tasks/${id}${q}`);
  }

  listTasks(filter: TaskFilter = {}): Promise<Page<Task>> {
    return this.call(
      'GET',
      `/api/tasks${query({
        status: filter.status?.join(','),
        type: filter.type,
        workflow: filter.workflowId,
        agent: filter.agentId,
        search: filter.search,
        limit: filter.limit,
        after: filter.after,
        newest: filter.newestFirst ? 1 : undefined,
      })}`,
    );
  }

  async getWorkflow(id: number): Promise<Workflow> {
    return (await this.call<{ workflow: Workflow }>('GET', `/api/workflows/${id}?tasks=0`)).workflow;
  }

  listWorkflows(filter: { limit?: number; after?: number } = {}): Promise<Page<Workflow>> {
    return this.call('GET', `/api/workflows${query({ limit: filter.limit, after: filter.after })}`);
  }

  async listEvents(filter: EventFilter = {}): Promise<CnsEvent[]> {
    const q = query({
      after: filter.after,
      task: filter.taskId,
      workflow: filter.workflowId,
      agent: filter.agentId,
      kind: filter.kinds?.join(','),
      limit: filter.limit,
    });
    return (await this.call<{ events: CnsEvent[] }>('GET', `/api/events${q}`)).events;
  }

  explain(id: number): Promise<Explanation> {
    return this.call('GET', `/api/tasks/${id}/explain`);
  }

  status(options: { stuckLimit?: number } = {}): Promise<FleetStatus> {
    return this.call('GET', `/api/status${query({ stuck: options.stuckLimit })}`);
  }

  // ── the agent's side ──────────────────────────────────────────────────────────────────────────

  async claimNext(agent: AgentRef, options: ClaimOptions = {}): Promise<ClaimOutcome> {
    const waitMs = Math.min(Math.max(0, options.waitMs ?? 0), this.config.waitMaxMs);
    const started = Date.now();
    const ticker = options.onWaiting
      ? setInterval(() => options.onWaiting!(Date.now() - started), 1_000)
      : null;
    try {
      const res = await this.call<{
        claimed: ClaimedTask | null;
        resumed?: boolean;
        reason: string | null;
      }>(
        'POST',
        '/api/agent/claim',
        {
          waitMs,
          session: agent.session,
          ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
          ...(options.another ? { another: true } : {}),
        },
        options.signal,
      );
      return res.claimed
        ? { claimed: res.claimed, ...(res.resumed ? { resumed: true } : {}) }
        : { claimed: null, reason: res.reason ?? 'nothing to claim' };
    } catch (err) {
      if (options.signal?.aborted && isAbort(err)) return { claimed: null, reason: 'the wait was cancelled' };
      throw err;
    } finally {
      if (ticker) clearInterval(ticker);
    }
  }

  /** The token's agent waits (POST /api/agent/wait); `agent` is the server's to decide. */
  async waitForWork(
    _agent: Pick<AgentRef, 'id' | 'name' | 'type' | 'capabilities'>,
    options: Pick<ClaimOptions, 'waitMs' | 'signal'> = {},
  ): Promise<{ task: Task; reason?: undefined } | { task: null; reason: string }> {
    const waitMs = Math.min(Math.max(0, options.waitMs ?? 0), this.config.waitMaxMs);
    try {
      const res = await this.call<{ task: Task | null; reason?: string }>(
        'POST',
        '/api/agent/wait',
        { waitMs },
        options.signal,
      );
      return res.task ? { task: res.task } : { task: null, reason: res.reason ?? 'nothing to claim' };
    } catch (err) {
      if (options.signal?.aborted && isAbort(err)) return { task: null, reason: 'the wait was cancelled' };
      throw err;
    }
  }

  private async fenced(taskId: number, op: string, body: Record<string, unknown>): Promise<Task> {
    return (await this.call<{ task: Task }>('POST', `/api/tasks/${taskId}/${op}`, body)).task;
  }

  heartbeatTask(taskId: number, leaseToken: string): Promise<Task> {
    return this.fenced(taskId, 'heartbeat', { leaseToken });
  }

  progress(taskId: number, leaseToken: string, input: ProgressInput): Promise<Task> {
    return this.fenced(taskId, 'progress', { leaseToken, ...input });
  }

  complete(taskId: number, leaseToken: string, input: { result: string; data?: Json }): Promise<Task> {
    return this.fenced(taskId, 'complete', { leaseToken, ...input });
  }

  fail(taskId: number, leaseToken: string, input: { error: string; retryable?: boolean }): Promise<Task> {
    return this.fenced(taskId, 'fail', { leaseToken, ...input });
  }

  release(taskId: number, leaseToken: string, reason?: string): Promise<Task> {
    return this.fenced(taskId, 'release', { leaseToken, reason });
  }

  ask(taskId: number, leaseToken: string, input: QuestionInput): Promise<{ task: Task; question: Question }> {
    return this.call('POST', `/api/tasks/${taskId}/ask`, { leaseToken, ...input });
  }

  // ── the supervisor's side ─────────────────────────────────────────────────────────────────────

  async assign(taskId: number, agentRef: number | string): Promise<Task> {
    return (await this.call<{ task: Task }>('POST', `/api/tasks/${taskId}/assign`, { agent: agentRef })).task;
  }

  /** The reviewer is the token's identity (the server decides); `input.reviewer` is not sent. */
  async review(taskId: number, input: Omit<ReviewInput, 'reviewer'>): Promise<Task> {
    const body = { approve: input.approve, feedback: input.feedback };
    return (await this.call<{ task: Task }>('POST', `/api/tasks/${taskId}/review`, body)).task;
  }

  async cancel(taskId: number, _actor: Actor, reason?: string): Promise<Task[]> {
    return (await this.call<{ tasks: Task[] }>('POST', `/api/tasks/${taskId}/cancel`, { reason })).tasks;
  }

  async cancelWorkflow(workflowId: number, _actor: Actor, reason?: string): Promise<Task[]> {
    return (await this.call<{ tasks: Task[] }>('POST', `/api/workflows/${workflowId}/cancel`, { reason }))
      .tasks;
  }

  async retry(taskId: number): Promise<Task> {
    return (await this.call<{ task: Task }>('POST', `/api/tasks/${taskId}/retry`, {})).task;
  }

  /** Who answers is the token's identity (the server decides); `input.by` is not sent. */
  answer(questionId: number, input: { answer: string }): Promise<{ task: Task; question: Question }> {
    return this.call('POST', `/api/questions/${questionId}/answer`, { answer: input.answer });
  }

  async getQuestion(id: number): Promise<Question> {
    return (await this.call<{ question: Question }>('GET', `/api/questions/${id}`)).question;
  }

  async listQuestions(filter: QuestionFilter = {}): Promise<Question[]> {
    const q = query({
      status: filter.status?.join(','),
      task: filter.taskId,
      workflow: filter.workflowId,
      for: filter.for,
      limit: filter.limit,
      order: filter.order,
    });
    return (await this.call<{ questions: Question[] }>('GET', `/api/questions${q}`)).questions;
  }

  /**
   * Re-checks after every new event on the server (a long-poll of GET /api/events?wait=), until
   * `check` returns a value, the timeout passes or the signal aborts.
   */
  async waitUntil<T>(
    check: () => Promise<T | null>,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<T | null> {
    const deadline = Date.now() + Math.min(Math.max(0, timeoutMs), this.config.waitMaxMs);
    try {
      const latest = await this.call<{ events: CnsEvent[] }>(
        'GET',
        '/api/events?newest=1&limit=1',
        undefined,
        signal,
      );
      let cursor = latest.events[0]?.id ?? 0;
      for (;;) {
        const value = await check();
        if (value !== null) return value;
        const remaining = deadline - Date.now();
        if (remaining <= 0 || signal?.aborted) return null;
        const { events } = await this.call<{ events: CnsEvent[] }>(
          'GET',
          `/api/events?after=${cursor}&limit=1000&wait=${Math.max(1, Math.min(remaining, 50_000))}`,
          undefined,
          signal,
        );
        if (events.length > 0) cursor = events[events.length - 1]!.id;
      }
    } catch (err) {
      if (signal?.aborted && isAbort(err)) return null;
      throw err;
    }
  }
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}

/**
 * A signal that aborts when either does, and `dispose()` to unhook it once the call is over: the
 * client's own `closing` signal lives as long as the client, and a listener left on it per call
 * would pile up for ever in a long-running agent.
 */
function eitherSignal(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onA = () => controller.abort(a.reason);
  const onB = () => controller.abort(b.reason);
  if (a.aborted) onA();
  else if (b.aborted) onB();
  a.addEventListener('abort', onA, { once: true });
  b.addEventListener('abort', onB, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      a.removeEventListener('abort', onA);
      b.removeEventListener('abort', onB);
    },
  };
}

async function request<T>(
  fetchFn: typeof fetch,
  base: URL,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<T> {
  let res: Response;
  try {
    res = await fetchFn(new URL(path, base), {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (isAbort(err)) throw err;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new CnsError(
      'store_unavailable',
      `cannot reach cns serve at ${base.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
      { server: base.origin },
    );
  }
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text === '' ? null : JSON.parse(text);
  } catch {
    data = null;
  }
  if (res.ok) return data as T;
  throw domainError(res.status, data, `${method} ${path}`, base.origin);
}

/** An HTTP error answer → the domain error it stands for (the inverse of http-errors.ts). */
export function domainError(status: number, data: unknown, what: string, server: string): Error {
  const e = (
    data as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | null
  )?.error;
  const code = e?.code ?? String(status);
  const message = e?.message ?? `${what} answered HTTP ${status}`;
  const details = e?.details ?? {};
  switch (code) {
    case 'not_found': {
      const kind = details.kind;
      if (kind === 'task' || kind === 'agent' || kind === 'workflow' || kind === 'token')
        return new NotFoundError(kind, (details.ref as string | number | undefined) ?? '?');
      return new CnsError('not_found', message, details);
    }
    case 'invalid_input':
      return new InvalidInputError(message, details);
    case 'conflict':
      return new ConflictError(message, details);
    case 'lease_lost':
      return new LeaseLostError(
        Number(details.taskId),
        (details.reason as LeaseLostReason | undefined) ?? 'unknown_token',
        (details.status as TaskStatus | undefined) ?? 'pending',
      );
    case 'forbidden':
      return new ForbiddenError(message, details);
    case 'unauthorized':
      return new ForbiddenError(`cns serve at ${server} refused the token: ${message}`, {
        ...details,
        status,
      });
    case 'store_unavailable':
    case 'schema_too_new':
      return new CnsError(code, message, details);
    case 'too_large':
      return new InvalidInputError(message, details);
    default:
      return new Error(`cns serve at ${server}: ${message} (HTTP ${status})`);
  }
}
