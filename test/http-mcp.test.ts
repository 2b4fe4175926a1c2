/**
 * MCP against `cns serve`: an MCP SDK client over Streamable HTTP at /mcp (role from the token),
 * and `cns mcp --server URL --token T` (a spawned stdio process, a real MCP client) talking to the
 * server over the HTTP API instead of a database.
 */
import { Client } from '@modelcontextprotocol/client';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, Task } from '../src/core/types.js';
import { startHarness, type Harness } from './support/http-harness.js';
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
        ['task_complete', 'task_fail', 'task_get', 'task_next', 'task_release', 'task_update'].sort(),
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

  it('refuses a bad token with a clear message', async () => {
    await expect(startMcp(`${h.dir}/unused.db`, ['--server', h.url, '--token', 'cns_bad'])).rejects.toThrow();
  });
});
