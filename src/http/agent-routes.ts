/**
 * The agent's side of the HTTP API (agent tokens only). An agent token acts as one agent identity:
 * its name and type come from the token, never from the request. Writes about a task
 * (progress, complete, fail, release, heartbeat) need the task's lease token AND that the lease is
 * held by this agent: a task held by another agent is refused (403) and nothing changes.
 */
import type { Coordinator } from '../coordinator/coordinator.js';
import { ForbiddenError, InvalidInputError, NotFoundError } from '../core/errors.js';
import type { Agent, Json, Task } from '../core/types.js';
import type { AgentRegistration } from '../store/store.js';
import { requireRole, type Principal } from './auth.js';
import {
  idOf,
  optionalBool,
  optionalJson,
  optionalNumber,
  optionalStrings,
  optionalText,
  requiredText,
} from './request-input.js';
import type { RouteContext, Router } from './router.js';

/** The longest claim long-poll (ms): MCP clients and proxies time calls out around a minute. */
export const CLAIM_WAIT_MAX_MS = 50_000;

/** The registration an agent token implies, with the request's own details where allowed. */
export function registrationFor(
  principal: Principal,
  extra: {
    capabilities?: string[];
    host?: string | null;
    pid?: number | null;
    clientInfo?: Json | null;
  } = {},
): AgentRegistration {
  const agent = principal.agent!;
  let capabilities = agent.capabilities;
  if (extra.capabilities !== undefined) {
    if (agent.capabilities.length > 0) {
      const extraneous = extra.capabilities.filter((c) => !agent.capabilities.includes(c));
      if (extraneous.length > 0)
        throw new ForbiddenError(
          `this token does not allow the capabilities ${extraneous.join(', ')} (it allows ${agent.capabilities.join(', ')})`,
          { capabilities: extraneous },
        );
    }
    capabilities = extra.capabilities;
  }
  return {
    name: agent.name,
    type: agent.type,
    capabilities,
    host: extra.host ?? null,
    pid: extra.pid ?? null,
    clientInfo: extra.clientInfo ?? { front: 'http' },
  };
}

/** The token's agent, registered now if it is unknown or deregistered. */
export async function ensureAgent(cns: Coordinator, principal: Principal): Promise<Agent> {
  const existing = await cns.findAgent(principal.agent!.name);
  if (existing && existing.deregisteredAt === null) return existing;
  return cns.registerAgent(registrationFor(principal));
}

/**
 * The session a request names (`session`, as registration returned it — the session of a
 * `cns mcp --server` process), checked before anything is written; undefined: the agent's
 * current session (a plain HTTP client), see sessionOf.
 */
function namedSession(input: Record<string, unknown>): string | undefined {
  return optionalText(input, 'session', 200);
}

/** The session a request acts for: the one it names, else the agent's current session. */
function sessionOf(named: string | undefined, agent: Agent): string | null {
  return named ?? agent.session;
}

/**
 * Refuses a write about a task this agent does not hold: in progress under another agent's lease
 * (403). A task not in progress falls through to the store, whose lease-token check refuses it
 * (lease_lost) without changing anything.
 */
async function requireHolder(
  cns: Coordinator,
  principal: Principal,
  taskId: number,
  leaseToken: string,
): Promise<void> {
  const holder = await cns.reportingHolder(taskId, leaseToken);
  if (holder !== null && holder !== principal.agent!.name) {
    throw new ForbiddenError(`task ${taskId} is held by another agent, not by ${principal.agent!.name}`, {
      taskId,
      next: 'Only the agent holding a task can report on it.',
    });
  }
}

export function registerAgentRoutes(router: Router, deps: { coordinator: Coordinator }): void {
  const cns = deps.coordinator;
  const agentOnly = (ctx: RouteContext, what: string) => requireRole(ctx.principal, ['agent'], what);

  router.post('/api/agent/register', async (ctx) => {
    const p = agentOnly(ctx, 'registering an agent');
    const input = await ctx.body();
    const pid = optionalNumber(input, 'pid', 0, 2 ** 31);
    const agent = await cns.registerAgent(
      registrationFor(p, {
        capabilities: optionalStrings(input, 'capabilities'),
        host: optionalText(input, 'host', 256) ?? null,
        pid: pid === undefined ? null : Math.floor(pid),
        clientInfo: (optionalJson(input, 'clientInfo') as Json | undefined) ?? { front: 'http' },
      }),
    );
    return { agent };
  });

  // An agent's id never changes (registering again by name updates the same row), so a heartbeat
  // that names its session — every one from `cns mcp --server` — is one statement: the agent is
  // looked up (and registered again if it was deregistered) only the first time, or when the
  // heartbeat shows it deregistered.
  const agentIds = new Map<string, number>();
  router.post('/api/agent/heartbeat', async (ctx) => {
    const p = agentOnly(ctx, 'heartbeating');
    const session = namedSession(await ctx.body());
    const name = p.agent!.name;
    const known = agentIds.get(name);
    if (known !== undefined && session !== undefined) {
      const beat = await cns.heartbeat(known, session).catch((err: unknown) => {
        if (err instanceof NotFoundError) return null;
        throw err;
      });
      if (beat && beat.agent.name === name && beat.agent.deregisteredAt === null) return beat;
    }
    const agent = await ensureAgent(cns, p);
    if (agentIds.size >= 100_000) agentIds.clear();
    agentIds.set(name, agent.id);
    return cns.heartbeat(agent.id, sessionOf(session, agent));
  });

  router.post('/api/agent/deregister', async (ctx) => {
    const p = agentOnly(ctx, 'deregistering');
    const session = namedSession(await ctx.body());
    const agent = await cns.findAgent(p.agent!.name);
    if (!agent) return { released: [] };
    return cns.deregisterAgent(agent.id, sessionOf(session, agent), { ...p.actor, agentId: agent.id });
  });

  // One claim in flight per session (in this server): a newer claim supersedes an older one still
  // under way — its client gave up on it (a cancelled task_next) though the server may not have
  // noticed yet. The older one ends first (giving back a task it claimed as it was superseded), so
  // the newer sees what the session really holds: without this, the newer could hand back as held
  // a task the older was about to give back, with a lease token about to go stale.
  const claiming = new Map<string, { supersede: AbortController; done: Promise<void> }>();
  router.post('/api/agent/claim', async (ctx) => {
    const p = agentOnly(ctx, 'claiming tasks');
    const input = await ctx.body();
    const waitMs = optionalNumber(input, 'waitMs', 0, CLAIM_WAIT_MAX_MS) ?? 0;
    const leaseMs = optionalNumber(input, 'leaseMs', 1_000, 24 * 3_600_000);
    const session = namedSession(input);
    // A client that holds several tasks at once (cns worker --concurrency) claims another each time.
    const another = optionalBool(input, 'another') ?? false;
    const registered = await ensureAgent(cns, p);
    const agent = { ...registered, session: sessionOf(session, registered) };
    const claim = async (signal: AbortSignal) => {
      const outcome = await cns.claimNext(agent, {
        waitMs: Math.floor(waitMs),
        signal,
        ...(leaseMs === undefined ? {} : { leaseMs: Math.floor(leaseMs) }),
      });
      return outcome.claimed
        ? { claimed: outcome.claimed, reason: null }
        : { claimed: null, reason: outcome.reason };
    };
    if (another) return claim(ctx.signal);
    const key = `${agent.id}\u0000${agent.session ?? ''}`;
    let finished!: () => void;
    const mine = { supersede: new AbortController(), done: new Promise<void>((r) => (finished = r)) };
    // Take the session's place at once, so that claims arriving together queue one after another.
    const older = claiming.get(key);
    claiming.set(key, mine);
    const onAbort = () => mine.supersede.abort();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    if (ctx.signal.aborted) onAbort();
    try {
      if (older) {
        older.supersede.abort();
        await older.done;
      }
      if (mine.supersede.signal.aborted) return { claimed: null, reason: 'the call was cancelled' };
      // One task at a time: a task this session already holds comes back first (its earlier answer
      // may have been lost with a cancelled call), so no claim is ever stranded.
      const [held] = await cns.heldTasks(agent);
      if (held) return { claimed: held, resumed: true, reason: null };
      return await claim(mine.supersede.signal);
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      if (claiming.get(key) === mine) claiming.delete(key);
      finished();
    }
  });

  // `cns wait --server`: wait, claiming nothing, until a task this agent could claim exists. Waiting
  // registers nothing: a registered agent's own capabilities and assigned tasks count, else the
  // token's type and capabilities (id 0: nothing is assigned to an agent that never registered).
  router.post('/api/agent/wait', async (ctx) => {
    const p = agentOnly(ctx, 'waiting for work');
    const input = await ctx.body();
    const waitMs = optionalNumber(input, 'waitMs', 0, CLAIM_WAIT_MAX_MS) ?? 0;
    const who = p.agent!;
    const known = await cns.findAgent(who.name);
    const live = known && known.deregisteredAt === null ? known : null;
    return cns.waitForWork(
      {
        id: live?.id ?? 0,
        name: who.name,
        type: who.type,
        capabilities: live?.capabilities ?? who.capabilities,
      },
      { waitMs: Math.floor(waitMs), signal: ctx.signal },
    );
  });

  const fenced = (
    path: string,
    what: string,
    run: (taskId: number, leaseToken: string, input: Record<string, unknown>) => Promise<Task>,
  ) =>
    router.post(`/api/tasks/:id/${path}`, async (ctx) => {
      const p = agentOnly(ctx, what);
      const taskId = idOf(ctx.params.id, 'task');
      const input = await ctx.body();
      const leaseToken = requiredText(input, 'leaseToken', 200);
      await requireHolder(cns, p, taskId, leaseToken);
      return { task: await run(taskId, leaseToken, input) };
    });

  fenced('progress', 'reporting progress', (id, token, input) =>
    cns.progress(id, token, {
      note: optionalText(input, 'note', 4_000),
      percent: optionalNumber(input, 'percent', 0, 100),
      checkpoint: optionalJson(input, 'checkpoint'),
    }),
  );
  fenced('complete', 'completing tasks', (id, token, input) => {
    const data = optionalJson(input, 'data');
    return cns.complete(id, token, {
      result: requiredText(input, 'result'),
      ...(data === undefined ? {} : { data }),
    });
  });
  fenced('fail', 'failing tasks', (id, token, input) => {
    const error = requiredText(input, 'error', 20_000);
    if (error.trim() === '') throw new InvalidInputError('say what went wrong: error must be non-empty text');
    return cns.fail(id, token, { error, retryable: optionalBool(input, 'retryable') ?? true });
  });
  fenced('release', 'releasing tasks', (id, token, input) =>
    cns.release(id, token, optionalText(input, 'reason', 2_000)),
  );
  fenced('heartbeat', 'heartbeating tasks', (id, token) => cns.heartbeatTask(id, token));

  // Asking answers with the question too, so it is not one of the fenced writes above.
  router.post('/api/tasks/:id/ask', async (ctx) => {
    const p = agentOnly(ctx, 'asking questions');
    const taskId = idOf(ctx.params.id, 'task');
    const input = await ctx.body();
    const leaseToken = requiredText(input, 'leaseToken', 200);
    await requireHolder(cns, p, taskId, leaseToken);
    const context = optionalJson(input, 'context');
    const forWhom = optionalText(input, 'for', 128);
    return cns.ask(taskId, leaseToken, {
      text: requiredText(input, 'text', 20_000),
      choices: optionalStrings(input, 'choices') ?? null,
      context: context ?? null,
      ...(forWhom === undefined ? {} : { for: forWhom }),
    });
  });
}
