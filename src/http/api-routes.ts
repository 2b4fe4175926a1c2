/**
 * The JSON API for people and programs: session (the dashboard's sign-in), reading (every role),
 * the supervisor's writes (supervisor and admin), and token management (admin). The agent's
 * writes are in agent-routes.ts; the live event stream in event-stream.ts.
 */
import type { NewTask } from '../core/batch.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { issueToken } from './tokens.js';
import { InvalidInputError } from '../core/errors.js';
import { TASK_STATUSES, type TaskStatus } from '../core/status.js';
import {
  QUESTION_STATUSES,
  type EventKind,
  type QuestionStatus,
  type Task,
  type TokenRole,
} from '../core/types.js';
import type { EventFilter } from '../store/store.js';
import { clearedSessionCookie, requireAuth, requireRole, sessionCookie, type Authenticator } from './auth.js';
import { HttpError } from './http-errors.js';
import {
  agentRefOf,
  idOf,
  optionalBool,
  optionalObject,
  optionalStrings,
  optionalText,
  queryFlag,
  queryInt,
  queryList,
  queryText,
  requiredText,
} from './request-input.js';
import { reply, type Router } from './router.js';

export interface ApiDeps {
  coordinator: Coordinator;
  auth: Authenticator;
  version: string;
}

const SUPERVISING: readonly TokenRole[] = ['supervisor', 'admin'];
const ANY: readonly TokenRole[] = ['agent', 'supervisor', 'admin'];

/** The longest `wait` of GET /api/events (ms). */
export const EVENTS_WAIT_MAX_MS = 50_000;

export function registerApiRoutes(router: Router, deps: ApiDeps): void {
  const { coordinator: cns, auth } = deps;

  // ── session (dashboard sign-in) ────────────────────────────────────────────────────────────────

  router.post('/api/session', async ({ body, req }) => {
    const token = requiredText(await body(), 'token', 500).trim();
    const principal = await auth.verify(token, 'cookie');
    if (!principal) throw new HttpError(401, 'unauthorized', 'the token is not valid (unknown or revoked)');
    const secure = (req.headers['x-forwarded-proto'] ?? '') === 'https';
    return reply(
      200,
      { role: principal.role, name: principal.name },
      { 'set-cookie': sessionCookie(principal.secret, secure) },
    );
  });

  router.delete('/api/session', async () =>
    reply(200, { ok: true }, { 'set-cookie': clearedSessionCookie() }),
  );

  router.get('/api/whoami', async ({ principal }) => {
    const p = requireAuth(principal);
    return {
      role: p.role,
      name: p.name,
      tokenId: p.token.id,
      agent: p.agent,
      server: {
        version: deps.version,
        backend: cns.backend,
        leaseMs: cns.config.policy.leaseMs,
        heartbeatIntervalMs: cns.config.heartbeatIntervalMs,
        waitDefaultMs: cns.config.waitDefaultMs,
        waitMaxMs: Math.min(cns.config.waitMaxMs, EVENTS_WAIT_MAX_MS),
      },
    };
  });

  // ── reading (every role) ───────────────────────────────────────────────────────────────────────

  router.get('/api/status', async ({ principal, url }) => {
    requireRole(principal, ANY, 'reading the status');
    return cns.status({ stuckLimit: queryInt(url, 'stuck', 0, 200) });
  });

  router.get('/api/agents', async ({ principal }) => {
    requireRole(principal, ANY, 'listing agents');
    return { agents: await cns.listAgents() };
  });

  router.get('/api/agents/:ref', async ({ principal, params }) => {
    requireRole(principal, ANY, 'reading an agent');
    return { agent: await cns.getAgent(agentRefOf(params.ref!)) };
  });

  router.get('/api/tasks', async ({ principal, url }) => {
    requireRole(principal, ANY, 'listing tasks');
    const status = queryList(url, 'status');
    for (const s of status ?? [])
      if (!TASK_STATUSES.includes(s as TaskStatus))
        throw new InvalidInputError(`unknown status "${s}" (one of ${TASK_STATUSES.join(', ')})`, {
          field: 'status',
        });
    const agent = queryText(url, 'agent');
    const workflow = queryText(url, 'workflow');
    return cns.listTasks({
      status: status as TaskStatus[] | undefined,
      type: queryText(url, 'type'),
      workflowId: workflow === undefined ? undefined : idOf(workflow, 'workflow'),
      agentId: agent === undefined ? undefined : (await cns.getAgent(agentRefOf(agent))).id,
      search: queryText(url, 'search'),
      limit: queryInt(url, 'limit', 1, 500),
      after: queryInt(url, 'after', 0, Number.MAX_SAFE_INTEGER),
      newestFirst: queryFlag(url, 'newest'),
    });
  });

  router.get('/api/tasks/:id', async ({ principal, params, url }) => {
    requireRole(principal, ANY, 'reading a task');
    // ?view=task: just the task, without its history and explanation (cheaper; for programs).
    if (url.searchParams.get('view') === 'task') return { task: await cns.getTask(idOf(params.id, 'task')) };
    return cns.getTaskDetail(idOf(params.id, 'task'), { eventLimit: queryInt(url, 'events', 0, 1000) });
  });

  router.get('/api/tasks/:id/explain', async ({ principal, params }) => {
    requireRole(principal, ANY, 'reading a task');
    return cns.explain(idOf(params.id, 'task'));
  });

  router.get('/api/workflows', async ({ principal, url }) => {
    requireRole(principal, ANY, 'listing workflows');
    return cns.listWorkflows({
      limit: queryInt(url, 'limit', 1, 500),
      after: queryInt(url, 'after', 0, Number.MAX_SAFE_INTEGER),
    });
  });

  router.get('/api/workflows/:id', async ({ principal, params, url }) => {
    requireRole(principal, ANY, 'reading a workflow');
    const id = idOf(params.id, 'workflow');
    const workflow = await cns.getWorkflow(id);
    const tasks: Task[] = [];
    // ?tasks=0: the workflow alone.
    if (url.searchParams.get('tasks') === '0') return { workflow, tasks };
    let after: number | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = await cns.listTasks({ workflowId: id, limit: 500, after });
      tasks.push(...page.items);
      if (page.nextCursor === null) break;
      after = page.nextCursor;
    }
    return { workflow, tasks };
  });

  router.get('/api/events', async ({ principal, url, signal }) => {
    requireRole(principal, ANY, 'reading events');
    const filter: EventFilter = {
      taskId: idOrUndefined(queryText(url, 'task'), 'task'),
      workflowId: idOrUndefined(queryText(url, 'workflow'), 'workflow'),
      agentId: idOrUndefined(queryText(url, 'agent'), 'agent'),
      kinds: queryList(url, 'kind') as EventKind[] | undefined,
      limit: queryInt(url, 'limit', 1, 1000),
    };
    if (queryFlag(url, 'newest')) return { events: await cns.listLatestEvents(filter) };
    const after = queryInt(url, 'after', 0, Number.MAX_SAFE_INTEGER);
    const wait = queryInt(url, 'wait', 0, EVENTS_WAIT_MAX_MS) ?? 0;
    const read = async () => {
      const events = await cns.listEvents({ ...filter, after });
      return events.length > 0 ? events : null;
    };
    const events = wait > 0 ? await cns.waitUntil(read, wait, signal) : await read();
    return { events: events ?? [] };
  });

  router.get('/api/questions', async ({ principal, url }) => {
    requireRole(principal, ANY, 'reading questions');
    const status = queryList(url, 'status');
    for (const s of status ?? [])
      if (!QUESTION_STATUSES.includes(s as QuestionStatus))
        throw new InvalidInputError(
          `unknown question status "${s}" (one of ${QUESTION_STATUSES.join(', ')})`,
          {
            field: 'status',
          },
        );
    const order = queryText(url, 'order');
    if (order !== undefined && order !== 'newest' && order !== 'oldest')
      throw new InvalidInputError('order must be newest or oldest', { field: 'order' });
    return {
      questions: await cns.listQuestions({
        status: status as QuestionStatus[] | undefined,
        taskId: idOrUndefined(queryText(url, 'task'), 'task'),
        workflowId: idOrUndefined(queryText(url, 'workflow'), 'workflow'),
        for: queryText(url, 'for'),
        limit: queryInt(url, 'limit', 1, 500),
        order,
      }),
    };
  });

  router.get('/api/questions/:id', async ({ principal, params }) => {
    requireRole(principal, ANY, 'reading questions');
    return { question: await cns.getQuestion(idOf(params.id, 'question')) };
  });

  // ── the supervisor's writes (supervisor, admin) ────────────────────────────────────────────────

  router.post('/api/tasks', async ({ principal, body }) => {
    const p = requireRole(principal, SUPERVISING, 'creating tasks');
    const input = await body();
    const { workflowId, ...task } = input;
    const res = await cns.createTask(
      {
        ...(task as unknown as NewTask),
        workflowId:
          workflowId === undefined || workflowId === null ? undefined : idOf(String(workflowId), 'workflow'),
      },
      p.actor,
    );
    return reply(res.created ? 201 : 200, res);
  });

  router.post('/api/workflows', async ({ principal, body }) => {
    const p = requireRole(principal, SUPERVISING, 'creating workflows');
    const input = await body();
    const name = requiredText(input, 'name', 200);
    if (!Array.isArray(input.tasks))
      throw new InvalidInputError('tasks must be a list of tasks', { field: 'tasks' });
    const res = await cns.createWorkflow(
      {
        name,
        review: optionalBool(input, 'review'),
        metadata: optionalObject(input, 'metadata') as NewTask['metadata'],
        tasks: input.tasks as NewTask[],
      },
      p.actor,
    );
    return reply(201, res);
  });

  router.post('/api/tasks/:id/review', async ({ principal, params, body }) => {
    const p = requireRole(principal, SUPERVISING, 'reviewing');
    const input = await body();
    const approve = optionalBool(input, 'approve');
    if (approve === undefined)
      throw new InvalidInputError('approve is required (true or false)', { field: 'approve' });
    const task = await cns.review(idOf(params.id, 'task'), {
      reviewer: p.actor,
      approve,
      feedback: optionalText(input, 'feedback', 20_000),
    });
    return { task };
  });

  router.post('/api/tasks/:id/cancel', async ({ principal, params, body }) => {
    const p = requireRole(principal, SUPERVISING, 'cancelling');
    const reason = optionalText(await body(), 'reason', 2_000);
    return { tasks: await cns.cancel(idOf(params.id, 'task'), p.actor, reason) };
  });

  router.post('/api/tasks/:id/retry', async ({ principal, params }) => {
    const p = requireRole(principal, SUPERVISING, 'retrying');
    return { task: await cns.retry(idOf(params.id, 'task'), p.actor) };
  });

  router.post('/api/tasks/:id/assign', async ({ principal, params, body }) => {
    const p = requireRole(principal, SUPERVISING, 'assigning');
    const input = await body();
    const agent = input.agent;
    if (typeof agent !== 'string' && typeof agent !== 'number')
      throw new InvalidInputError('agent is required (an agent name or id)', { field: 'agent' });
    return {
      task: await cns.assign(
        idOf(params.id, 'task'),
        typeof agent === 'string' ? agentRefOf(agent) : agent,
        p.actor,
      ),
    };
  });

  router.post('/api/questions/:id/answer', async ({ principal, params, body }) => {
    const p = requireRole(principal, SUPERVISING, 'answering questions');
    const answer = requiredText(await body(), 'answer', 20_000);
    return cns.answer(idOf(params.id, 'question'), { answer, by: p.actor });
  });

  router.post('/api/workflows/:id/cancel', async ({ principal, params, body }) => {
    const p = requireRole(principal, SUPERVISING, 'cancelling');
    const reason = optionalText(await body(), 'reason', 2_000);
    return { tasks: await cns.cancelWorkflow(idOf(params.id, 'workflow'), p.actor, reason) };
  });

  // ── tokens (admin) ─────────────────────────────────────────────────────────────────────────────

  router.get('/api/tokens', async ({ principal }) => {
    requireRole(principal, ['admin'], 'managing tokens');
    return { tokens: await cns.listTokens() };
  });

  router.post('/api/tokens', async ({ principal, body }) => {
    requireRole(principal, ['admin'], 'managing tokens');
    const input = await body();
    const role = requiredText(input, 'role', 20) as TokenRole;
    const { token, secret } = await issueToken(cns, {
      role,
      name: optionalText(input, 'name', 128),
      agentName: optionalText(input, 'agentName', 128),
      type: optionalText(input, 'type', 128),
      capabilities: optionalStrings(input, 'capabilities'),
    });
    return reply(201, { token, secret });
  });

  router.delete('/api/tokens/:id', async ({ principal, params }) => {
    requireRole(principal, ['admin'], 'managing tokens');
    return { token: await cns.revokeToken(idOf(params.id, 'token')) };
  });
}

function idOrUndefined(value: string | undefined, what: string): number | undefined {
  return value === undefined ? undefined : idOf(value, what);
}
