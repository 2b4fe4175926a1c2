/**
 * MCP against `cns serve`: an MCP SDK client over Streamable HTTP at /mcp (role from the token),
 * and `cns mcp --server URL --token T` (a spawned stdio process, a real MCP client) talking to the
 * server over the HTTP API instead of a database.
 */
import { request as httpRequest } from 'node:http';
import { Client } from '@modelcontextprotocol/client';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { JSONRPCMessage } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ClaimOutcome } from '../src/coordinator/coordinator.js';
import type { Agent, Task } from '../src/core/types.js';
import { HttpCnsApi } from '../src/http/http-client.js';
import { rawCall, startHarness, type Harness } from './support/http-harness.js';
import { call, startMcp, textOf } from './support/mcp-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

async function httpClient(token: string | null, era: 'legacy' | 'modern' = 'legacy'): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', h.url), {
    requestInit: token ? { headers: { authorization: `Bearer ${token}` } } : {},
  });
  const client = new Client(
    { name: 'cns-http-test', version: '1.0.0' },
    era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
  await client.connect(transport);
  return client;
}

async function tool<T = Record<string, unknown>>(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<T> {
  const res = await client.callTool({ name, arguments: args }, { timeout: 60_000 });
  if (res.isError) throw new Error(`${name} failed: ${textOf(res)}`);
  return res.structuredContent as T;
}

async function newTask(fields: Record<string, unknown>): Promise<Task> {
  const res = await h.call(h.tokens.supervisor, 'POST', '/api/tasks', fields);
  expect(res.status, res.text).toBe(201);
  return res.body.task as Task;
}

describe('MCP over Streamable HTTP (/mcp)', () => {
  it('is refused without a token', async () => {
    await expect(httpClient(null)).rejects.toThrow();
    await expect(httpClient('cns_wrong')).rejects.toThrow();
  });

  it('an agent token gets the agent tools and completes a task end to end, as its agent', async () => {
    const client = await httpClient(h.tokens.alice);
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name).sort();
      expect(tools).toEqual(
        [
          'task_ask',
          'task_complete',
          'task_fail',
          'task_get',
          'task_next',
          'task_release',
          'task_update',
        ].sort(),
      );
      const t = await newTask({ type: 'backend', title: 'over http', spec: 'say hi' });
      const next = await tool<{ task: { id: number } | null }>(client, 'task_next', { wait_seconds: 5 });
      expect(next.task?.id).toBe(t.id);
      // The lease token stayed on the server: the model names the task by id.
      await tool(client, 'task_update', { task_id: t.id, note: 'working', percent: 50 });
      const done = await tool<{ task: { status: string } }>(client, 'task_complete', {
        task_id: t.id,
        result: 'hi',
      });
      expect(done.task.status).toBe('completed');
      const read = await h.call(h.tokens.supervisor, 'GET', `/api/tasks/${t.id}`);
      expect(read.body.task).toMatchObject({ status: 'completed', result: 'hi' });
      expect(read.body.attempts[0]).toMatchObject({ agentName: 'alice', note: 'working' });
      const agent = (await h.call(h.tokens.supervisor, 'GET', '/api/agents/alice')).body.agent as Agent;
      expect(agent.clientInfo).toMatchObject({ front: 'mcp-http' });
    } finally {
      await client.close();
    }
  });

  it('an agent cannot complete a task it does not hold, and a modern-era client works too', async () => {
    const t = await newTask({ type: 'backend', title: 'held by bob' });
    const bobClaim = await h.call(h.tokens.bob, 'POST', '/api/agent/claim', {});
    expect(bobClaim.body.claimed.task.id).toBe(t.id);
    const client = await httpClient(h.tokens.alice, 'modern');
    try {
      const res = await client.callTool({
        name: 'task_complete',
        arguments: { task_id: t.id, result: 'mine now' },
      });
      expect(res.isError).toBe(true);
      expect(textOf(res)).toContain('forbidden');
      const read = await h.call(h.tokens.supervisor, 'GET', `/api/tasks/${t.id}?view=task`);
      expect(read.body.task).toMatchObject({ status: 'in_progress', lease: { agentName: 'bob' } });
    } finally {
      await client.close();
      await h.call(h.tokens.bob, 'POST', `/api/tasks/${t.id}/release`, {
        leaseToken: bobClaim.body.claimed.leaseToken,
      });
      await h.call(h.tokens.supervisor, 'POST', `/api/tasks/${t.id}/cancel`, {});
    }
  });

  it('a supervisor token gets the supervisor tools, acting under the token name', async () => {
    const client = await httpClient(h.tokens.supervisor);
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toContain('workflow_create');
      expect(tools).not.toContain('task_next');
      const created = await tool<{ task: { id: number } }>(client, 'task_create', {
        type: 'docs',
        title: 'write docs',
      });
      const events = (await h.call(h.tokens.supervisor, 'GET', `/api/events?task=${created.task.id}`)).body
        .events;
      expect(events[0]).toMatchObject({ kind: 'task.created', actor: 'sue' });
      const status = await tool<{ backend: string }>(client, 'fleet_status');
      expect(status.backend).toBe('sqlite');
      await tool(client, 'task_cancel', { task_id: created.task.id });
    } finally {
      await client.close();
    }
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Settles with the value, or with 'still waiting' after `ms`. */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  return Promise.race([p, sleep(ms).then(() => 'still waiting' as const)]);
}

/**
 * Watches the server's claim loop (`Coordinator.claimNext`, which every task_next runs): `started()`
 * counts the calls begun, `outcome(i)` is the promise of call i. The test waits for the server to be
 * inside the call instead of guessing with a sleep.
 */
function watchClaims() {
  const spy = vi.spyOn(h.server.coordinator, 'claimNext');
  return {
    started: () => spy.mock.calls.length,
    outcome: (i: number) => spy.mock.results[i]!.value as Promise<ClaimOutcome>,
    restore: () => spy.mockRestore(),
  };
}

/** Polls the task for `ms`: it must stay pending all along (nobody claimed it). */
async function staysPending(taskId: number, ms: number, label: string): Promise<void> {
  const deadline = Date.now() + ms;
  do {
    const read = await h.call(h.tokens.supervisor, 'GET', `/api/tasks/${taskId}?view=task`);
    expect(read.body.task, label).toMatchObject({ status: 'pending', lease: null });
    await sleep(20);
  } while (Date.now() < deadline);
}

/** A raw JSON-RPC POST to /mcp (2025-era headers, no session: the endpoint is stateless). */
function mcpPost(token: string, body: unknown) {
  return rawCall(
    h.server.port,
    'POST',
    '/mcp',
    {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    JSON.stringify(body),
  );
}

describe('cancelling a waiting call over HTTP (/mcp)', () => {
  // The 2025 era cancels with a notifications/cancelled POST; the 2026-07-28 era (with the
  // Streamable HTTP client) aborts the call's own POST instead, so the server sees a disconnect.
  for (const era of ['legacy', 'modern'] as const) {
    it(`a cancelled task_next stops waiting and never takes the next task (${era} era, 20 rounds)`, async () => {
      const client = await httpClient(h.tokens.alice, era);
      const claims = watchClaims();
      try {
        for (let round = 0; round < 20; round++) {
          const label = `${era} round ${round}`;
          const before = claims.started();
          const abort = new AbortController();
          const settled = client
            .callTool(
              { name: 'task_next', arguments: { wait_seconds: 10 } },
              { signal: abort.signal, timeout: 60_000 },
            )
            .then(
              () => 'resolved',
              () => 'rejected',
            );
          // The server is inside the call (so the request is registered) before the client cancels.
          await until(() => claims.started() > before, `${label}: the server to start waiting`);
          abort.abort();
          expect(await settled, label).toBe('rejected');
          // The server's wait ends at once (bounded here so that the check below shows the harm).
          const outcome = await within(claims.outcome(before), 3_000);

          const t = await newTask({ type: 'backend', title: `after a cancel (${label})` });
          try {
            await staysPending(t.id, 300, label);
          } finally {
            await h.call(h.tokens.supervisor, 'POST', `/api/tasks/${t.id}/cancel`, {});
          }
          expect(outcome === 'still waiting' ? outcome : outcome.claimed, label).toBeNull();
        }
      } finally {
        claims.restore();
        await client.close();
      }
    });
  }

  it('a cancel names a call of the same token only; a batch may carry it', async () => {
    const transport = new StreamableHTTPClientTransport(new URL('/mcp', h.url), {
      requestInit: { headers: { authorization: `Bearer ${h.tokens.alice}` } },
    });
    const sent: JSONRPCMessage[] = [];
    const send = transport.send.bind(transport);
    transport.send = (message, options) => {
      sent.push(...[message].flat());
      return send(message, options);
    };
    const client = new Client({ name: 'cns-http-test', version: '1.0.0' });
    await client.connect(transport);
    const claims = watchClaims();
    try {
      const before = claims.started();
      const waiting = client.callTool(
        { name: 'task_next', arguments: { wait_seconds: 10 } },
        { timeout: 60_000 },
      );
      waiting.catch(() => {}); // awaited below (unless an expectation fails first)
      await until(() => claims.started() > before, 'the server to start waiting');
      const call = sent.findLast((m) => 'method' in m && m.method === 'tools/call');
      const requestId = (call as { id: number | string }).id;
      const cancel = {
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId, reason: 'not yours' },
      };

      // Another agent's token (and a supervisor's) cannot cancel alice's call.
      expect((await mcpPost(h.tokens.bob, cancel)).status).toBe(202);
      expect((await mcpPost(h.tokens.supervisor, [cancel])).status).toBeLessThan(500);
      expect(await within(claims.outcome(before), 300)).toBe('still waiting');

      // Her own token can, inside a batch too.
      await mcpPost(h.tokens.alice, [cancel]);
      const outcome = await within(claims.outcome(before), 3_000);
      expect(outcome === 'still waiting' ? outcome : outcome.claimed).toBeNull();
      // Not cancelled on the client side: it gets the answer, with no task.
      const answer = await within(waiting, 3_000);
      expect(answer === 'still waiting' ? answer : answer.structuredContent).toMatchObject({ task: null });
    } finally {
      claims.restore();
      await client.close();
    }
  });

  it('still bounds the body and answers malformed JSON (the body is looked at before the SDK)', async () => {
    const big = await mcpPost(h.tokens.alice, {
      jsonrpc: '2.0',
      method: 'x',
      params: { pad: 'x'.repeat(1_100_000) },
    });
    expect(big.status).toBe(413);
    const bad = await rawCall(
      h.server.port,
      'POST',
      '/mcp',
      {
        authorization: `Bearer ${h.tokens.alice}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      '{"jsonrpc": "2.0", "id": 1, "method": ',
    );
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32700 } });
  });

  it('a waiting call whose connection closes stops waiting (2025 era, raw POST)', async () => {
    const claims = watchClaims();
    try {
      const before = claims.started();
      const req = httpRequest({
        host: '127.0.0.1',
        port: h.server.port,
        method: 'POST',
        path: '/mcp',
        headers: {
          authorization: `Bearer ${h.tokens.alice}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
      });
      req.on('error', () => {});
      req.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'task_next', arguments: { wait_seconds: 10 } },
        }),
      );
      await until(() => claims.started() > before, 'the server to start waiting');
      req.destroy();
      const outcome = await within(claims.outcome(before), 3_000);
      expect(outcome === 'still waiting' ? outcome : outcome.claimed).toBeNull();
      const t = await newTask({ type: 'backend', title: 'after a disconnect' });
      await staysPending(t.id, 300, 'after a disconnect');
      await h.call(h.tokens.supervisor, 'POST', `/api/tasks/${t.id}/cancel`, {});
    } finally {
      claims.restore();
    }
  });
});

describe('cns mcp --server URL --token T (stdio, over the HTTP API)', () => {
  it('an agent process registers as the token agent, takes a task and completes it; exits cleanly', async () => {
    const p = await startMcp(`${h.dir}/unused.db`, ['--server', h.url], {
      env: { CNS_TOKEN: h.tokens.frontend },
    });
    try {
      const tools = (await p.client.listTools()).tools.map((t) => t.name);
      expect(tools).toContain('task_next');
      const agent = (await h.call(h.tokens.supervisor, 'GET', '/api/agents/fred')).body.agent as Agent;
      expect(agent).toMatchObject({ name: 'fred', type: 'frontend', status: 'idle', pid: p.pid });

      const waiting = call<{ task: { id: number; title: string } | null }>(p, 'task_next', {
        wait_seconds: 20,
      });
      await new Promise((r) => setTimeout(r, 300));
      const t = await newTask({ type: 'frontend', title: 'remote work', review: true });
      const next = await waiting;
      expect(next.task?.id).toBe(t.id);
      await call(p, 'task_update', { task_id: t.id, note: 'styling', checkpoint: { file: 'a.css' } });
      const done = await call<{ task: { status: string } }>(p, 'task_complete', {
        task_id: t.id,
        result: 'styled',
      });
      expect(done.task.status).toBe('awaiting_review');
      await h.call(h.tokens.supervisor, 'POST', `/api/tasks/${t.id}/review`, { approve: true });
      expect(
        (await h.call(h.tokens.supervisor, 'GET', `/api/tasks/${t.id}?view=task`)).body.task.status,
      ).toBe('completed');
    } finally {
      await p.close();
      await p.exited;
    }
    const after = (await h.call(h.tokens.supervisor, 'GET', '/api/agents/fred')).body.agent as Agent;
    expect(after.deregisteredAt).not.toBeNull();
    expect(after.status).toBe('offline');
  });

  it('a supervisor process creates work over HTTP', async () => {
    const p = await startMcp(`${h.dir}/unused.db`, ['--server', h.url, '--token', h.tokens.supervisor]);
    try {
      const wf = await call<{ workflow: { id: number }; tasks: { id: number }[] }>(p, 'workflow_create', {
        name: 'remote plan',
        tasks: [
          { ref: 'a', type: 'backend', title: 'first' },
          { ref: 'b', type: 'backend', title: 'second', depends_on: ['a'] },
        ],
      });
      expect(wf.tasks).toHaveLength(2);
      const waited = await call<{ outcome: string }>(p, 'task_wait', {
        workflow_id: wf.workflow.id,
        wait_seconds: 1,
      });
      expect(waited.outcome).toBe('timeout');
      const cancelled = await call<{ cancelled: unknown[] }>(p, 'task_cancel', {
        workflow_id: wf.workflow.id,
      });
      expect(cancelled).toBeTruthy();
    } finally {
      await p.close();
    }
  });

  it("leaves no abort listener behind per call (a long-running agent's client)", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    const api = await HttpCnsApi.connect(h.url, h.tokens.alice);
    try {
      const me = { id: 0, name: 'alice', type: 'backend', capabilities: [] };
      // Each call with a signal of its own; Node warns once more than 10 listeners share a signal.
      for (let i = 0; i < 30; i++)
        await api.waitForWork(me, { waitMs: 0, signal: new AbortController().signal });
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    } finally {
      await api.close();
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
  });

  it('refuses a bad token with a clear message', async () => {
    await expect(startMcp(`${h.dir}/unused.db`, ['--server', h.url, '--token', 'cns_bad'])).rejects.toThrow();
  });
});
