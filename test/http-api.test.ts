/**
 * The HTTP API of `cns serve`, in-process (a real SQLite file, an ephemeral port): every route,
 * authentication and roles, Host/Origin checks, body bounds, the agent's fenced writes and the
 * event stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowedActions, TASK_STATUSES, type TaskAction, type TaskStatus } from '../src/core/status.js';
import type { Agent, CnsEvent, Task } from '../src/core/types.js';
import { Authenticator } from '../src/http/auth.js';
import { issueToken } from '../src/http/tokens.js';
import { rawCall, startHarness, type Harness } from './support/http-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({}, { allowedHosts: ['cns.example.com'] });
});

afterAll(async () => {
  await h?.close();
});

const sup = (method: string, path: string, body?: unknown) => h.call(h.tokens.supervisor, method, path, body);

async function newTask(fields: Record<string, unknown> = {}): Promise<Task> {
  const res = await sup('POST', '/api/tasks', { type: 'backend', title: 'a task', ...fields });
  expect(res.status, res.text).toBe(201);
  return res.body.task as Task;
}

/** An agent claims (no wait) and must get `taskId`. */
async function claimAs(token: string, taskId: number): Promise<string> {
  const res = await h.call(token, 'POST', '/api/agent/claim', {});
  expect(res.status, res.text).toBe(200);
  expect(res.body.claimed?.task.id).toBe(taskId);
  return res.body.claimed.leaseToken as string;
}

/** Cancels whatever is still open, so that claims in one test do not see another's tasks. */
async function drain(): Promise<void> {
  const open = await sup(
    'GET',
    '/api/tasks?status=pending,assigned,in_progress,blocked,awaiting_review,waiting_input&limit=500',
  );
  for (const t of open.body.items as Task[])
    await sup('POST', `/api/tasks/${t.id}/cancel`, { reason: 'test cleanup' });
}

describe('authentication', () => {
  const routes: [string, string][] = [
    ['GET', '/api/whoami'],
    ['GET', '/api/status'],
    ['GET', '/api/agents'],
    ['GET', '/api/agents/alice'],
    ['GET', '/api/tasks'],
    ['GET', '/api/tasks/1'],
    ['GET', '/api/tasks/1/explain'],
    ['POST', '/api/tasks'],
    ['POST', '/api/tasks/1/review'],
    ['POST', '/api/tasks/1/cancel'],
    ['POST', '/api/tasks/1/retry'],
    ['POST', '/api/tasks/1/assign'],
    ['GET', '/api/workflows'],
    ['POST', '/api/workflows'],
    ['GET', '/api/workflows/1'],
    ['POST', '/api/workflows/1/cancel'],
    ['GET', '/api/events'],
    ['GET', '/api/events/stream'],
    ['GET', '/api/tokens'],
    ['POST', '/api/tokens'],
    ['DELETE', '/api/tokens/1'],
    ['POST', '/api/agent/register'],
    ['POST', '/api/agent/heartbeat'],
    ['POST', '/api/agent/deregister'],
    ['POST', '/api/agent/claim'],
    ['POST', '/api/agent/wait'],
    ['POST', '/api/tasks/1/progress'],
    ['POST', '/api/tasks/1/complete'],
    ['POST', '/api/tasks/1/fail'],
    ['POST', '/api/tasks/1/release'],
    ['POST', '/api/tasks/1/heartbeat'],
  ];

  it('every API route answers 401 without a token, and with an unknown one', async () => {
    for (const [method, path] of routes) {
      const none = await h.call(null, method, path, method === 'GET' ? undefined : {});
      expect(none.status, `${method} ${path}`).toBe(401);
      expect(none.body.error.code).toBe('unauthorized');
      expect(none.headers['www-authenticate']).toContain('Bearer');
      const bogus = await h.call('cns_not-a-real-token', method, path, method === 'GET' ? undefined : {});
      expect(bogus.status, `${method} ${path}`).toBe(401);
    }
    const malformed = await h.call(null, 'GET', '/api/status', undefined, { authorization: 'Basic abc' });
    expect(malformed.status).toBe(401);
  });

  it('MCP over HTTP needs a bearer token', async () => {
    const res = await h.call(null, 'POST', '/mcp', { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(res.status).toBe(401);
  });

  it('whoami says the role and name; an agent token also its agent identity', async () => {
    const admin = await h.call(h.tokens.admin, 'GET', '/api/whoami');
    expect(admin.body).toMatchObject({ role: 'admin', name: 'root', agent: null });
    expect(admin.body.server).toMatchObject({ backend: 'sqlite', leaseMs: 30_000 });
    const alice = await h.call(h.tokens.alice, 'GET', '/api/whoami');
    expect(alice.body).toMatchObject({
      role: 'agent',
      name: 'alice',
      agent: { name: 'alice', type: 'backend', capabilities: ['node', 'sql'] },
    });
  });

  it('the dashboard files need no token and carry a strict Content-Security-Policy', async () => {
    const index = await h.call(null, 'GET', '/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(index.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    const js = await h.call(null, 'GET', '/app.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const css = await h.call(null, 'GET', '/style.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await h.call(null, 'GET', '/nope.js')).status).toBe(404);
    expect((await h.call(null, 'GET', '/..%2f..%2fpackage.json')).status).toBe(404);
    expect((await h.call(null, 'POST', '/')).status).toBe(405);
  });

  it('a revoked token is refused from then on', async () => {
    const created = await h.call(h.tokens.admin, 'POST', '/api/tokens', { role: 'supervisor', name: 'temp' });
    const secret = created.body.secret as string;
    expect((await h.call(secret, 'GET', '/api/status')).status).toBe(200);
    await h.call(h.tokens.admin, 'DELETE', `/api/tokens/${created.body.token.id}`);
    expect((await h.call(secret, 'GET', '/api/status')).status).toBe(401);
  });
});

describe('Host and Origin checks, body bounds, unknown routes', () => {
  it('a request naming another host is refused (DNS rebinding), an allowed one is served', async () => {
    const port = h.server.port;
    const auth = { authorization: `Bearer ${h.tokens.supervisor}` };
    const evil = await rawCall(port, 'GET', '/api/status', { ...auth, host: 'evil.example:' + port });
    expect(evil.status).toBe(403);
    expect(evil.body.error.code).toBe('forbidden');
    const wrongPort = await rawCall(port, 'GET', '/api/status', { ...auth, host: '127.0.0.1:1' });
    expect(wrongPort.status).toBe(403);
    const page = await rawCall(port, 'GET', '/', { host: 'evil.example' });
    expect(page.status).toBe(403);
    for (const host of [
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      `[::1]:${port}`,
      'cns.example.com',
      `cns.example.com:${port}`,
    ]) {
      expect((await rawCall(port, 'GET', '/api/status', { ...auth, host })).status, host).toBe(200);
    }
  });

  it('a request from another origin is refused and changes nothing', async () => {
    const before = (await sup('GET', '/api/tasks?limit=500')).body.items.length;
    const res = await h.call(
      h.tokens.supervisor,
      'POST',
      '/api/tasks',
      { type: 'backend', title: 'x' },
      {
        origin: 'http://evil.example',
      },
    );
    expect(res.status).toBe(403);
    expect((await h.call(null, 'GET', '/api/status', undefined, { origin: 'null' })).status).toBe(403);
    expect((await sup('GET', '/api/tasks?limit=500')).body.items.length).toBe(before);
    const same = await h.call(h.tokens.supervisor, 'GET', '/api/status', undefined, {
      origin: `http://127.0.0.1:${h.server.port}`,
    });
    expect(same.status).toBe(200);
  });

  it('a body over 1 MiB is answered 413; bad JSON 400; unknown routes 404; wrong methods 405', async () => {
    const big = JSON.stringify({ type: 'backend', title: 'big', spec: 'x'.repeat(1_100_000) });
    const res = await h.call(h.tokens.supervisor, 'POST', '/api/tasks', big);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('too_large');
    const bad = await h.call(h.tokens.supervisor, 'POST', '/api/tasks', '{not json');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_input');
    const missing = await sup('GET', '/api/nothing-here');
    expect(missing.status).toBe(404);
    const method = await sup('DELETE', '/api/tasks');
    expect(method.status).toBe(405);
    expect(method.headers.allow).toContain('GET');
  });
});

describe('dashboard session (cookie)', () => {
  it('signs in with a token, reads with the cookie, needs a same-origin Origin to write, signs out', async () => {
    const bad = await h.call(null, 'POST', '/api/session', { token: 'cns_wrong' });
    expect(bad.status).toBe(401);
    const ok = await h.call(null, 'POST', '/api/session', { token: h.tokens.supervisor });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ role: 'supervisor', name: 'sue' });
    const setCookie = String(ok.headers['set-cookie']);
    expect(setCookie).toMatch(/^cns_session=/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    const cookie = setCookie.split(';')[0]!;

    const who = await h.call(null, 'GET', '/api/whoami', undefined, { cookie });
    expect(who.body).toMatchObject({ role: 'supervisor', name: 'sue' });

    const origin = `http://127.0.0.1:${h.server.port}`;
    const noOrigin = await h.call(
      null,
      'POST',
      '/api/tasks',
      { type: 'backend', title: 'by cookie' },
      { cookie },
    );
    expect(noOrigin.status).toBe(403);
    const crossSite = await h.call(
      null,
      'POST',
      '/api/tasks',
      { type: 'backend', title: 'by cookie' },
      {
        cookie,
        origin: `http://localhost:${h.server.port}`,
      },
    );
    expect(crossSite.status).toBe(403);
    const sameOrigin = await h.call(
      null,
      'POST',
      '/api/tasks',
      { type: 'backend', title: 'by cookie' },
      {
        cookie,
        origin,
      },
    );
    expect(sameOrigin.status).toBe(201);
    await sup('POST', `/api/tasks/${sameOrigin.body.task.id}/cancel`, {});

    const out = await h.call(null, 'DELETE', '/api/session', undefined, { cookie, origin });
    expect(out.status).toBe(200);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
  });
});

describe('supervisor routes', () => {
  it('creates, lists, filters, pages, reads and explains tasks', async () => {
    const a = await newTask({ title: 'Alpha one', priority: 2 });
    const b = await newTask({ title: 'Beta two', type: 'frontend' });
    const again = await sup('POST', '/api/tasks', { type: 'backend', title: 'keyed', idempotencyKey: 'k-1' });
    expect(again.status).toBe(201);
    const dup = await sup('POST', '/api/tasks', { type: 'backend', title: 'keyed', idempotencyKey: 'k-1' });
    expect(dup.status).toBe(200);
    expect(dup.body).toMatchObject({ created: false, task: { id: again.body.task.id } });
    expect(a.createdBy).toBe('sue');

    const invalid = await sup('POST', '/api/tasks', { type: 'backend' });
    expect(invalid.status).toBe(400);

    const byType = await sup('GET', '/api/tasks?type=frontend&status=pending');
    expect(byType.body.items.map((t: Task) => t.id)).toContain(b.id);
    expect(byType.body.items.every((t: Task) => t.type === 'frontend')).toBe(true);
    const search = await sup('GET', '/api/tasks?search=alpha');
    expect(search.body.items.map((t: Task) => t.id)).toEqual([a.id]);
    const page1 = await sup('GET', '/api/tasks?limit=1');
    expect(page1.body.items).toHaveLength(1);
    expect(page1.body.nextCursor).not.toBeNull();
    const page2 = await sup('GET', `/api/tasks?limit=1&after=${page1.body.nextCursor}`);
    expect(page2.body.items[0].id).toBeGreaterThan(page1.body.items[0].id);
    const newest = await sup('GET', '/api/tasks?newest=1&limit=1');
    expect(newest.body.items[0].id).toBeGreaterThanOrEqual(again.body.task.id);
    expect((await sup('GET', '/api/tasks?status=bogus')).status).toBe(400);

    const detail = await sup('GET', `/api/tasks/${a.id}`);
    expect(detail.body.task.id).toBe(a.id);
    expect(detail.body.events[0].kind).toBe('task.created');
    expect(detail.body.explanation.taskId).toBe(a.id);
    expect((await sup('GET', `/api/tasks/${a.id}?view=task`)).body).toEqual({ task: detail.body.task });
    const explain = await sup('GET', `/api/tasks/${a.id}/explain`);
    expect(explain.body.summary).toEqual(expect.any(String));
    expect((await sup('GET', '/api/tasks/999999')).status).toBe(404);
    expect((await sup('GET', '/api/tasks/abc')).status).toBe(400);
    await drain();
  });

  it('workflows: create, list, read, cancel', async () => {
    const created = await sup('POST', '/api/workflows', {
      name: 'release',
      tasks: [
        { ref: 'build', type: 'backend', title: 'build' },
        { ref: 'ship', type: 'backend', title: 'ship', dependsOn: ['build'] },
      ],
    });
    expect(created.status).toBe(201);
    const wf = created.body.workflow;
    expect(created.body.tasks.map((t: Task) => t.status)).toEqual(['pending', 'blocked']);
    const list = await sup('GET', '/api/workflows');
    expect(list.body.items.map((w: { id: number }) => w.id)).toContain(wf.id);
    expect(list.body).toHaveProperty('nextCursor');
    const read = await sup('GET', `/api/workflows/${wf.id}`);
    expect(read.body.workflow.name).toBe('release');
    expect(read.body.tasks).toHaveLength(2);
    const inWf = await sup('POST', '/api/tasks', { type: 'backend', title: 'extra', workflowId: wf.id });
    expect(inWf.body.task.workflowId).toBe(wf.id);
    const cancelled = await sup('POST', `/api/workflows/${wf.id}/cancel`, { reason: 'not needed' });
    expect(cancelled.body.tasks).toHaveLength(3);
    expect((await sup('GET', `/api/workflows/${wf.id}`)).body.workflow.status).toBe('cancelled');
    expect((await sup('POST', '/api/workflows', { name: 'x', tasks: 'no' })).status).toBe(400);
    expect((await sup('GET', '/api/workflows/424242')).status).toBe(404);
  });

  it('assign, cancel, retry; conflicts are 409', async () => {
    await h.call(h.tokens.bob, 'POST', '/api/agent/register', {});
    const t = await newTask();
    const assigned = await sup('POST', `/api/tasks/${t.id}/assign`, { agent: 'bob' });
    expect(assigned.body.task).toMatchObject({ status: 'assigned' });
    expect((await sup('POST', `/api/tasks/${t.id}/assign`, { agent: 'nobody' })).status).toBe(404);
    const cancelled = await sup('POST', `/api/tasks/${t.id}/cancel`, { reason: 'changed my mind' });
    expect(cancelled.body.tasks[0]).toMatchObject({ id: t.id, status: 'cancelled' });
    const conflict = await sup('POST', `/api/tasks/${t.id}/cancel`, {});
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('conflict');
    const retried = await sup('POST', `/api/tasks/${t.id}/retry`);
    expect(retried.body.task.status).toBe('pending');
    await drain();
  });

  it('status, agents and events (after, filters, newest, long-poll)', async () => {
    const status = await sup('GET', '/api/status');
    expect(status.body).toMatchObject({ backend: 'sqlite' });
    expect(status.body.counts).toHaveProperty('pending');
    const agents = await sup('GET', '/api/agents');
    expect(Array.isArray(agents.body.agents)).toBe(true);
    expect((await sup('GET', '/api/agents/nobody')).status).toBe(404);

    const t = await newTask({ title: 'evented' });
    const forTask = await sup('GET', `/api/events?task=${t.id}`);
    expect(forTask.body.events.map((e: CnsEvent) => e.kind)).toEqual(['task.created']);
    const newest = await sup('GET', '/api/events?newest=1&limit=1');
    const last = newest.body.events[0].id as number;
    expect((await sup('GET', `/api/events?after=${last}`)).body.events).toEqual([]);

    // A long-poll returns as soon as an event arrives.
    const started = Date.now();
    const waiting = sup('GET', `/api/events?after=${last}&wait=10000`);
    await new Promise((r) => setTimeout(r, 200));
    await sup('POST', `/api/tasks/${t.id}/cancel`, {});
    const got = await waiting;
    expect(got.body.events[0]).toMatchObject({ kind: 'task.cancelled', taskId: t.id, actor: 'sue' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('never shows lease tokens in task answers', async () => {
    const t = await newTask({ title: 'secret lease' });
    const leaseToken = await claimAs(h.tokens.bob, t.id);
    for (const path of [
      `/api/tasks/${t.id}`,
      `/api/tasks?status=in_progress`,
      `/api/tasks/${t.id}?view=task`,
    ]) {
      const res = await sup('GET', path);
      expect(res.text).not.toContain(leaseToken);
      expect(res.text).toContain('"lease":{"agentId"');
    }
    const asOther = await h.call(h.tokens.alice, 'GET', `/api/tasks/${t.id}`);
    expect(asOther.text).not.toContain(leaseToken);
    await drain();
  });
});

describe('allowed actions', () => {
  /** What a supervisor may do to a task in each status (core/status.ts allowedActions). */
  const EXPECTED: Record<TaskStatus, TaskAction[]> = {
    blocked: ['cancel'],
    pending: ['assign', 'cancel'],
    assigned: ['assign', 'cancel'],
    in_progress: ['cancel'],
    waiting_input: ['answer', 'cancel'],
    awaiting_review: ['approve', 'request_changes', 'cancel'],
    completed: [],
    failed: ['retry'],
    cancelled: ['retry'],
  };
  type Served = Task & { allowedActions: TaskAction[] };

  it("are the status table's", () => {
    for (const s of TASK_STATUSES) expect(allowedActions(s), s).toEqual(EXPECTED[s]);
  });

  it('every task the API returns carries the actions its status allows, and nothing else does', async () => {
    await drain();
    await h.call(h.tokens.bob, 'POST', '/api/agent/register', {});
    const created = await sup('POST', '/api/workflows', {
      name: 'actions',
      tasks: [
        { ref: 'reviewed', type: 'backend', title: 'to review', review: true },
        { ref: 'after', type: 'backend', title: 'after the review', dependsOn: ['reviewed'] },
      ],
    });
    expect(created.body.workflow).not.toHaveProperty('allowedActions');
    expect(created.body.tasks.map((t: Served) => t.allowedActions)).toEqual([
      EXPECTED.pending,
      EXPECTED.blocked,
    ]);
    const [reviewed, blocked] = created.body.tasks as Served[];
    const bob = (path: string, body: unknown) => h.call(h.tokens.bob, 'POST', path, body);

    let leaseToken = await claimAs(h.tokens.bob, reviewed!.id);
    const submitted = await bob(`/api/tasks/${reviewed!.id}/complete`, { leaseToken, result: 'v1' });
    expect(submitted.body.task.allowedActions).toEqual(EXPECTED.awaiting_review);

    const completed = await newTask({ title: 'completed' });
    leaseToken = await claimAs(h.tokens.bob, completed.id);
    await bob(`/api/tasks/${completed.id}/complete`, { leaseToken, result: 'ok' });

    const failed = await newTask({ title: 'failed', maxAttempts: 1 });
    leaseToken = await claimAs(h.tokens.bob, failed.id);
    await bob(`/api/tasks/${failed.id}/fail`, { leaseToken, error: 'boom', retryable: false });

    const held = await newTask({ title: 'in progress' });
    const claim = await h.call(h.tokens.alice, 'POST', '/api/agent/claim', {});
    expect(claim.body.claimed.task).toMatchObject({ id: held.id, allowedActions: EXPECTED.in_progress });

    const assigned = await newTask({ title: 'assigned' });
    const assign = await sup('POST', `/api/tasks/${assigned.id}/assign`, { agent: 'bob' });
    expect(assign.body.task.allowedActions).toEqual(EXPECTED.assigned);
    const pending = await newTask({ title: 'pending' });
    expect(pending).toMatchObject({ status: 'pending', allowedActions: EXPECTED.pending });
    const cancelled = await newTask({ title: 'cancelled' });
    const cancel = await sup('POST', `/api/tasks/${cancelled.id}/cancel`, {});
    expect(cancel.body.tasks[0].allowedActions).toEqual(EXPECTED.cancelled);

    const ids = [reviewed, blocked, completed, failed, held, assigned, pending, cancelled].map((t) => t!.id);
    const listed = (await sup('GET', '/api/tasks?limit=500')).body.items as Served[];
    const byId = new Map(listed.map((t) => [t.id, t]));
    expect(ids.map((id) => byId.get(id)!.status)).toEqual([
      'awaiting_review',
      'blocked',
      'completed',
      'failed',
      'in_progress',
      'assigned',
      'pending',
      'cancelled',
    ]);
    for (const t of listed)
      expect(t.allowedActions, `task ${t.id} (${t.status})`).toEqual(EXPECTED[t.status]);
    for (const id of ids) {
      const detail = (await sup('GET', `/api/tasks/${id}`)).body;
      expect(detail.task.allowedActions).toEqual(EXPECTED[detail.task.status as TaskStatus]);
      expect(detail.explanation).not.toHaveProperty('allowedActions');
      const alone = (await sup('GET', `/api/tasks/${id}?view=task`)).body.task as Served;
      expect(alone.allowedActions).toEqual(EXPECTED[alone.status]);
    }
    const wf = (await sup('GET', `/api/workflows/${created.body.workflow.id}`)).body;
    expect(wf.workflow).not.toHaveProperty('allowedActions');
    expect(wf.tasks.map((t: Served) => t.allowedActions)).toEqual([
      EXPECTED.awaiting_review,
      EXPECTED.blocked,
    ]);
    const status = (await sup('GET', '/api/status')).body;
    expect(status.agents.every((a: object) => !('allowedActions' in a))).toBe(true);
    await drain();
  });
});

describe('who acts (the Actor of a token)', () => {
  it('a token acts as its name; as the agent of that name if one has registered', async () => {
    const auth = new Authenticator(h.server.coordinator);
    await h.call(h.tokens.bob, 'POST', '/api/agent/register', {});
    const bob = await h.server.coordinator.getAgent('bob');
    expect((await auth.verify(h.tokens.bob))!.actor).toEqual({ name: 'bob', agentId: bob.id, role: 'agent' });
    expect((await auth.verify(h.tokens.supervisor))!.actor).toEqual({
      name: 'sue',
      agentId: null,
      role: 'supervisor',
    });
    const asBob = (await issueToken(h.server.coordinator, { role: 'admin', name: 'bob' })).secret;
    expect((await auth.verify(asBob))!.actor).toEqual({ name: 'bob', agentId: bob.id, role: 'admin' });
  });

  it('a supervisor token named like the agent that wrote a result cannot review it', async () => {
    await drain();
    const asAlice = (await issueToken(h.server.coordinator, { role: 'supervisor', name: 'alice' })).secret;
    const t = await newTask({ title: 'self review', review: true });
    const leaseToken = await claimAs(h.tokens.alice, t.id);
    await h.call(h.tokens.alice, 'POST', `/api/tasks/${t.id}/complete`, { leaseToken, result: 'mine' });
    const self = await h.call(asAlice, 'POST', `/api/tasks/${t.id}/review`, { approve: true });
    expect(self.status, self.text).toBe(403);
    expect(self.body.error.message).toMatch(/cannot review/);
    expect((await sup('GET', `/api/tasks/${t.id}?view=task`)).body.task.status).toBe('awaiting_review');
    const approved = await sup('POST', `/api/tasks/${t.id}/review`, { approve: true });
    expect(approved.body.task.status).toBe('completed');
    const [event] = (await sup('GET', `/api/events?task=${t.id}&kind=task.approved`)).body.events;
    expect(event).toMatchObject({ actor: 'sue', agentId: null });
  });
});

describe('roles', () => {
  it('an agent token cannot use supervisor writes or tokens; nothing changes', async () => {
    const t = await newTask();
    const before = await sup('GET', `/api/tasks/${t.id}?view=task`);
    const attempts: [string, string, unknown][] = [
      ['POST', '/api/tasks', { type: 'backend', title: 'sneaky' }],
      ['POST', '/api/workflows', { name: 'w', tasks: [{ type: 'backend', title: 't' }] }],
      ['POST', `/api/tasks/${t.id}/cancel`, {}],
      ['POST', `/api/tasks/${t.id}/retry`, {}],
      ['POST', `/api/tasks/${t.id}/assign`, { agent: 'alice' }],
      ['POST', `/api/tasks/${t.id}/review`, { approve: true }],
      ['GET', '/api/tokens', undefined],
      ['POST', '/api/tokens', { role: 'admin' }],
      ['DELETE', '/api/tokens/1', undefined],
    ];
    for (const [method, path, body] of attempts) {
      const res = await h.call(h.tokens.alice, method, path, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    expect((await sup('GET', `/api/tasks/${t.id}?view=task`)).body).toEqual(before.body);
    expect((await h.call(h.tokens.admin, 'GET', '/api/tokens')).body.tokens.length).toBeGreaterThanOrEqual(5);
    // Reading is fine.
    expect((await h.call(h.tokens.alice, 'GET', '/api/status')).status).toBe(200);
    expect((await h.call(h.tokens.alice, 'GET', `/api/tasks/${t.id}`)).status).toBe(200);
    await drain();
  });

  it('a supervisor cannot act as an agent or manage tokens', async () => {
    const t = await newTask();
    for (const [method, path, body] of [
      ['POST', '/api/agent/register', {}],
      ['POST', '/api/agent/heartbeat', {}],
      ['POST', '/api/agent/claim', {}],
      ['POST', '/api/agent/wait', {}],
      ['POST', `/api/tasks/${t.id}/complete`, { leaseToken: 'x', result: 'done' }],
      ['POST', `/api/tasks/${t.id}/progress`, { leaseToken: 'x', note: 'n' }],
      ['POST', `/api/tasks/${t.id}/fail`, { leaseToken: 'x', error: 'e' }],
      ['POST', `/api/tasks/${t.id}/release`, { leaseToken: 'x' }],
      ['GET', '/api/tokens', undefined],
      ['POST', '/api/tokens', { role: 'admin' }],
    ] as [string, string, unknown][]) {
      for (const token of [h.tokens.supervisor, h.tokens.admin].slice(
        0,
        path.startsWith('/api/tokens') ? 1 : 2,
      )) {
        const res = await h.call(token, method, path, body);
        expect(res.status, `${method} ${path}`).toBe(403);
      }
    }
    expect((await sup('GET', `/api/tasks/${t.id}?view=task`)).body.task.status).toBe('pending');
    await drain();
  });

  it('admin manages tokens: create (secret shown once), list (no secrets), revoke', async () => {
    const created = await h.call(h.tokens.admin, 'POST', '/api/tokens', {
      role: 'agent',
      name: 'carol',
      type: 'backend',
      capabilities: ['git'],
    });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^cns_[A-Za-z0-9_-]{43}$/);
    expect(created.body.token).toMatchObject({
      role: 'agent',
      agentName: 'carol',
      agentType: 'backend',
      capabilities: ['git'],
    });
    const list = await h.call(h.tokens.admin, 'GET', '/api/tokens');
    expect(list.text).not.toContain(created.body.secret);
    expect(list.body.tokens.map((t: { name: string }) => t.name)).toContain('carol');
    expect((await h.call(h.tokens.admin, 'POST', '/api/tokens', { role: 'agent' })).status).toBe(400);
    expect((await h.call(h.tokens.admin, 'POST', '/api/tokens', { role: 'root' })).status).toBe(400);
    const revoked = await h.call(h.tokens.admin, 'DELETE', `/api/tokens/${created.body.token.id}`);
    expect(revoked.body.token.revokedAt).toEqual(expect.any(Number));
    expect((await h.call(h.tokens.admin, 'DELETE', '/api/tokens/99999')).status).toBe(404);
  });
});

describe('agent routes', () => {
  it("registers as the token identity; capabilities are limited to the token's", async () => {
    const res = await h.call(h.tokens.alice, 'POST', '/api/agent/register', {
      capabilities: ['node'],
      host: 'box-1',
      pid: 42,
    });
    expect(res.body.agent).toMatchObject({
      name: 'alice',
      type: 'backend',
      capabilities: ['node'],
      host: 'box-1',
      pid: 42,
    });
    const tooMuch = await h.call(h.tokens.alice, 'POST', '/api/agent/register', { capabilities: ['root'] });
    expect(tooMuch.status).toBe(403);
    const beat = await h.call(h.tokens.alice, 'POST', '/api/agent/heartbeat');
    expect(beat.body).toMatchObject({ agent: { name: 'alice' }, renewed: [] });
  });

  it('a heartbeat naming its session keeps the agent alive, and brings it back once it was deregistered', async () => {
    const reg = await h.call(h.tokens.bob, 'POST', '/api/agent/register', {});
    const session = reg.body.agent.session as string;
    const first = await h.call(h.tokens.bob, 'POST', '/api/agent/heartbeat', { session });
    expect(first.status).toBe(200);
    expect(first.body.agent).toMatchObject({ name: 'bob', deregisteredAt: null });
    // The session ends (as when its process stops); a heartbeat that comes after registers it again.
    expect((await h.call(h.tokens.bob, 'POST', '/api/agent/deregister', { session })).status).toBe(200);
    const gone = (await h.call(h.tokens.supervisor, 'GET', '/api/agents/bob')).body.agent as Agent;
    expect(gone.deregisteredAt).not.toBeNull();
    const back = await h.call(h.tokens.bob, 'POST', '/api/agent/heartbeat', { session });
    expect(back.status).toBe(200);
    expect(back.body.agent).toMatchObject({ name: 'bob', deregisteredAt: null });
    const again = (await h.call(h.tokens.supervisor, 'GET', '/api/agents/bob')).body.agent as Agent;
    expect(again).toMatchObject({ deregisteredAt: null, status: 'idle' });
  });

  it('claim, progress, heartbeat, complete — only on the task this agent holds', async () => {
    await drain();
    const t = await newTask({ title: 'do it' });
    const leaseToken = await claimAs(h.tokens.alice, t.id);
    const snapshot = async () => (await sup('GET', `/api/tasks/${t.id}?view=task`)).body.task as Task;
    const held = await snapshot();
    expect(held).toMatchObject({ status: 'in_progress', lease: { agentName: 'alice' } });

    // Another agent — even with the right lease token — is refused, and nothing changes.
    for (const [op, body] of [
      ['complete', { leaseToken, result: 'stolen' }],
      ['progress', { leaseToken, note: 'not mine' }],
      ['fail', { leaseToken, error: 'nope' }],
      ['release', { leaseToken }],
      ['heartbeat', { leaseToken }],
    ] as [string, unknown][]) {
      const res = await h.call(h.tokens.bob, 'POST', `/api/tasks/${t.id}/${op}`, body);
      expect(res.status, op).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    expect(await snapshot()).toEqual(held);

    // The holder with a wrong token: lease_lost (409), nothing changes.
    const stale = await h.call(h.tokens.alice, 'POST', `/api/tasks/${t.id}/complete`, {
      leaseToken: '0'.repeat(32),
      result: 'x',
    });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('lease_lost');
    expect(await snapshot()).toEqual(held);
    expect(
      (await h.call(h.tokens.alice, 'POST', `/api/tasks/${t.id}/complete`, { result: 'x' })).status,
    ).toBe(400);

    const progress = await h.call(h.tokens.alice, 'POST', `/api/tasks/${t.id}/progress`, {
      leaseToken,
      note: 'half way',
      percent: 50,
      checkpoint: { step: 2 },
    });
    expect(progress.body.task.progress).toMatchObject({
      note: 'half way',
      percent: 50,
      checkpoint: { step: 2 },
    });
    expect(
      (await h.call(h.tokens.alice, 'POST', `/api/tasks/${t.id}/heartbeat`, { leaseToken })).status,
    ).toBe(200);
    const done = await h.call(h.tokens.alice, 'POST', `/api/tasks/${t.id}/complete`, {
      leaseToken,
      result: 'all done',
      data: { ok: true },
    });
    expect(done.body.task).toMatchObject({
      status: 'completed',
      result: 'all done',
      resultData: { ok: true },
    });
    const again = await h.call(h.tokens.alice, 'POST', `/api/tasks/${t.id}/complete`, {
      leaseToken,
      result: 'twice',
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('lease_lost');
  });

  it('fail and release', async () => {
    await drain();
    const t = await newTask({ title: 'flaky' });
    let leaseToken = await claimAs(h.tokens.alice, t.id);
    const failed = await h.call(h.tokens.alice, 'POST', `/api/tasks/${t.id}/fail`, {
      leaseToken,
      error: 'broke',
      retryable: false,
    });
    expect(failed.body.task).toMatchObject({ status: 'failed', error: 'broke' });
    await sup('POST', `/api/tasks/${t.id}/retry`);
    leaseToken = await claimAs(h.tokens.alice, t.id);
    const released = await h.call(h.tokens.alice, 'POST', `/api/tasks/${t.id}/release`, {
      leaseToken,
      reason: 'not for me',
    });
    expect(released.body.task.status).toBe('pending');
    await drain();
  });

  it('ask and answer: the holder asks, the task waits, a supervisor answers, the asker gets it back', async () => {
    await drain();
    const t = await newTask({ title: 'needs a decision' });
    const leaseToken = await claimAs(h.tokens.alice, t.id);
    // Only the holder asks, with its lease.
    const stranger = await h.call(h.tokens.bob, 'POST', `/api/tasks/${t.id}/ask`, {
      leaseToken,
      text: 'mine?',
    });
    expect(stranger.status).toBe(403);
    const noText = await h.call(h.tokens.alice, 'POST', `/api/tasks/${t.id}/ask`, { leaseToken });
    expect(noText.status).toBe(400);
    const asked = await h.call(h.tokens.alice, 'POST', `/api/tasks/${t.id}/ask`, {
      leaseToken,
      text: 'Which region?',
      choices: ['eu', 'us'],
      context: { cost: { eu: 3, us: 2 } },
      for: 'ops',
    });
    expect(asked.status, asked.text).toBe(200);
    expect(asked.body.task).toMatchObject({ id: t.id, status: 'waiting_input', lease: null });
    expect(asked.body.task.allowedActions).toEqual(allowedActions('waiting_input'));
    const q = asked.body.question;
    expect(q).toMatchObject({ taskId: t.id, for: 'ops', status: 'open', choices: ['eu', 'us'] });
    // The lease ended: a write with it is refused.
    const late = await h.call(h.tokens.alice, 'POST', `/api/tasks/${t.id}/complete`, {
      leaseToken,
      result: 'x',
    });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('lease_lost');

    const inbox = await sup('GET', '/api/questions?status=open&for=ops');
    expect(inbox.body.questions.map((x: { id: number }) => x.id)).toContain(q.id);
    expect((await sup('GET', `/api/questions/${q.id}`)).body.question.text).toBe('Which region?');
    expect((await sup('GET', '/api/questions?status=maybe')).status).toBe(400);
    // Agents read questions but do not answer them.
    expect(
      (await h.call(h.tokens.bob, 'POST', `/api/questions/${q.id}/answer`, { answer: 'eu' })).status,
    ).toBe(403);
    expect((await sup('POST', `/api/questions/${q.id}/answer`, {})).status).toBe(400);

    const answered = await sup('POST', `/api/questions/${q.id}/answer`, { answer: 'eu' });
    expect(answered.status, answered.text).toBe(200);
    expect(answered.body.task.status).toBe('pending');
    expect(answered.body.question).toMatchObject({
      status: 'answered',
      answer: 'eu',
      answeredBy: { name: 'sue' },
    });
    const twice = await sup('POST', `/api/questions/${q.id}/answer`, { answer: 'us' });
    expect(twice.status).toBe(409);
    expect(twice.body.error.message).toMatch(/already answered by sue/);

    // Kept for alice: bob's claim does not take it; alice's does, with the question and answer.
    const bobClaim = await h.call(h.tokens.bob, 'POST', '/api/agent/claim', {});
    expect(bobClaim.body.claimed).toBeNull();
    const back = await h.call(h.tokens.alice, 'POST', '/api/agent/claim', {});
    expect(back.body.claimed.task.id).toBe(t.id);
    expect(back.body.claimed.questions).toEqual([
      expect.objectContaining({
        id: q.id,
        answer: 'eu',
        answeredBy: expect.objectContaining({ name: 'sue' }),
      }),
    ]);
    await drain();
  });

  it('an agent only claims tasks of its type; the answer says why nothing matched', async () => {
    await drain();
    await newTask({ type: 'frontend', title: 'css' });
    const res = await h.call(h.tokens.bob, 'POST', '/api/agent/claim', {});
    expect(res.body).toMatchObject({ claimed: null, reason: expect.any(String) });
    const fred = await h.call(h.tokens.frontend, 'POST', '/api/agent/claim', {});
    expect(fred.body.claimed.task.title).toBe('css');
    await drain();
  });

  it('a long-poll claim returns the task created while it waits', async () => {
    await drain();
    const started = Date.now();
    const waiting = h.call(h.tokens.bob, 'POST', '/api/agent/claim', { waitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    const t = await newTask({ title: 'arrives later' });
    const res = await waiting;
    expect(res.body.claimed.task.id).toBe(t.id);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect((await h.call(h.tokens.bob, 'POST', '/api/agent/claim', { waitMs: 60_000 })).status).toBe(400);
    await drain();
  });

  it('a claim whose client went away claims nothing', async () => {
    await drain();
    const controller = new AbortController();
    const waiting = fetch(new URL('/api/agent/claim', h.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${h.tokens.bob}`, 'content-type': 'application/json' },
      body: JSON.stringify({ waitMs: 20_000 }),
      signal: controller.signal,
    }).catch(() => null);
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    await waiting;
    await new Promise((r) => setTimeout(r, 200));
    const t = await newTask({ title: 'nobody waits' });
    await new Promise((r) => setTimeout(r, 500));
    expect((await sup('GET', `/api/tasks/${t.id}?view=task`)).body.task.status).toBe('pending');
    await drain();
  });

  it('review: the completion waits for a supervisor, who approves or requests changes (reviewer = token name)', async () => {
    await drain();
    const t = await newTask({ title: 'reviewed', review: true });
    let leaseToken = await claimAs(h.tokens.alice, t.id);
    await h.call(h.tokens.alice, 'POST', `/api/tasks/${t.id}/complete`, { leaseToken, result: 'v1' });
    expect((await sup('POST', `/api/tasks/${t.id}/review`, { approve: false })).status).toBe(400);
    const changes = await sup('POST', `/api/tasks/${t.id}/review`, { approve: false, feedback: 'add tests' });
    expect(changes.body.task.status).toBe('pending');
    leaseToken = await claimAs(h.tokens.alice, t.id);
    await h.call(h.tokens.alice, 'POST', `/api/tasks/${t.id}/complete`, { leaseToken, result: 'v2' });
    const approved = await sup('POST', `/api/tasks/${t.id}/review`, { approve: true });
    expect(approved.body.task).toMatchObject({ status: 'completed', result: 'v2' });
    const events = (await sup('GET', `/api/events?task=${t.id}&kind=task.approved`)).body.events;
    expect(events[0]).toMatchObject({ actor: 'sue' });
  });

  it('deregister releases what the agent holds', async () => {
    await drain();
    const t = await newTask({ title: 'held at exit' });
    await claimAs(h.tokens.bob, t.id);
    const res = await h.call(h.tokens.bob, 'POST', '/api/agent/deregister');
    expect(res.body.released).toEqual([t.id]);
    expect((await sup('GET', '/api/agents/bob')).body.agent.status).toBe('offline');
    await drain();
  });
});

describe('event stream (SSE)', () => {
  async function open(query: string, headers: Record<string, string> = {}) {
    const controller = new AbortController();
    const res = await fetch(new URL(`/api/events/stream${query}`, h.url), {
      headers: { authorization: `Bearer ${h.tokens.supervisor}`, ...headers },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let buffer = '';
    const decoder = new TextDecoder();
    return {
      /** Reads until an event satisfying `pred` arrives (or fails after 10 s). */
      async until(pred: (e: CnsEvent, id: string) => boolean): Promise<CnsEvent> {
        const deadline = Date.now() + 10_000;
        for (;;) {
          const blocks = buffer.split('\n\n');
          buffer = blocks.pop()!;
          for (const block of blocks) {
            const id = /^id: (.*)$/m.exec(block)?.[1];
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event === 'cns' && data && id) {
              const e = JSON.parse(data) as CnsEvent;
              expect(String(e.id)).toBe(id);
              if (pred(e, id)) return e;
            }
          }
          if (Date.now() > deadline) throw new Error('no such event');
          const { value, done } = await reader.read();
          if (done) throw new Error('stream ended');
          buffer += decoder.decode(value, { stream: true });
        }
      },
      close: () => controller.abort(),
    };
  }

  it('delivers an event created after subscribing', async () => {
    const stream = await open('');
    const t = await newTask({ title: 'live <script>alert(1)</script>' });
    const e = await stream.until((ev) => ev.taskId === t.id);
    expect(e).toMatchObject({ kind: 'task.created', taskId: t.id });
    stream.close();
  });

  it('resumes after Last-Event-ID (or ?after=)', async () => {
    const t = await newTask({ title: 'before reconnect' });
    const created = (await sup('GET', `/api/events?task=${t.id}`)).body.events[0] as CnsEvent;
    await sup('POST', `/api/tasks/${t.id}/cancel`, {});
    const resumed = await open('', { 'last-event-id': String(created.id) });
    const next = await resumed.until((e) => e.taskId === t.id);
    expect(next.kind).toBe('task.cancelled');
    resumed.close();
    const fromQuery = await open(`?after=${created.id - 1}&task=${t.id}`);
    expect((await fromQuery.until(() => true)).kind).toBe('task.created');
    fromQuery.close();
  });
});
