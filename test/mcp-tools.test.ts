/**
 * Must show 5 (tool counts and sizes per role) and the shape of the MCP surface: schemas,
 * annotations, tool errors that say what to do next, cancellation of a waiting task_next,
 * prompts, resources, and both protocol eras.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startMcp, tempDb, textOf, type McpProcess } from './support/mcp-harness.js';

interface Claimed {
  task: { id: number } | null;
  reason: string | null;
}

describe('cns mcp: tools, errors, prompts and resources', () => {
  const tmp = tempDb();
  let supervisor: McpProcess;
  let agent: McpProcess;
  let both: McpProcess;

  beforeAll(async () => {
    [supervisor, agent, both] = await Promise.all([
      startMcp(tmp.db, ['--role', 'supervisor']),
      startMcp(tmp.db, [
        '--role',
        'agent',
        '--type',
        'tools',
        '--capability',
        'node,sql',
        '--name',
        'tool-agent',
      ]),
      startMcp(tmp.db, ['--role', 'both', '--type', 'other', '--name', 'lead'], { era: 'modern' }),
    ]);
  });

  afterAll(async () => {
    await Promise.allSettled([supervisor?.close(), agent?.close(), both?.close()]);
    tmp.cleanup();
  });

  it('lists at most 7 tools (under 15 KB) for an agent and at most 10 for a supervisor', async () => {
    const agentList = await agent.client.listTools();
    const supervisorList = await supervisor.client.listTools();
    const bothList = await both.client.listTools();
    const agentBytes = Buffer.byteLength(JSON.stringify(agentList));
    const supervisorBytes = Buffer.byteLength(JSON.stringify(supervisorList));
    console.log(
      `tools/list: agent ${agentList.tools.length} tools, ${agentBytes} bytes; ` +
        `supervisor ${supervisorList.tools.length} tools, ${supervisorBytes} bytes; both ${bothList.tools.length} tools`,
    );
    expect(agentList.tools.map((t) => t.name).sort()).toEqual(
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
    expect(agentList.tools.length).toBeLessThanOrEqual(7);
    expect(agentBytes).toBeLessThan(15_000);
    expect(supervisorList.tools.length).toBeLessThanOrEqual(10);
    expect(bothList.tools.length).toBe(
      new Set([...agentList.tools, ...supervisorList.tools].map((t) => t.name)).size,
    );

    for (const tool of [...agentList.tools, ...supervisorList.tools]) {
      expect(tool.name).toMatch(/^[a-z]+(_[a-z]+)+$/);
      expect(tool.description!.length).toBeGreaterThan(100);
      expect(tool.inputSchema.type).toBe('object');
      expect(tool.outputSchema?.type).toBe('object');
      expect(tool.annotations?.openWorldHint).toBe(false);
      expect(typeof tool.annotations?.readOnlyHint).toBe('boolean');
      expect(typeof tool.annotations?.destructiveHint).toBe('boolean');
      expect(typeof tool.annotations?.idempotentHint).toBe('boolean');
    }
    const byName = new Map(supervisorList.tools.map((t) => [t.name, t]));
    expect(byName.get('task_list')?.annotations?.readOnlyHint).toBe(true);
    expect(byName.get('task_cancel')?.annotations?.destructiveHint).toBe(true);
  });

  it('answers business errors as tool errors that say what to do next', async () => {
    // Completing a task this agent does not hold.
    const created = await call<{ task: { id: number } }>(supervisor, 'task_create', {
      type: 'nobody',
      title: 'not yours',
    });
    const res = await agent.client.callTool({
      name: 'task_complete',
      arguments: { task_id: created.task.id, result: 'x' },
    });
    expect(res.isError).toBe(true);
    expect(textOf(res)).toMatch(/you do not hold task \d+/);
    expect(textOf(res)).toMatch(/task_next/);

    // Unknown task for the supervisor.
    const missing = await supervisor.client.callTool({ name: 'task_get', arguments: { task_id: 999_999 } });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/not found[\s\S]*What to do/);

    // Bad input (schema) and bad input (domain).
    const badPercent = await agent.client.callTool({
      name: 'task_update',
      arguments: { task_id: 1, percent: 150 },
    });
    expect(badPercent.isError).toBe(true);
    const noFeedback = await supervisor.client.callTool({
      name: 'task_review',
      arguments: { task_id: created.task.id, approve: false },
    });
    expect(noFeedback.isError).toBe(true);
    expect(textOf(noFeedback)).toMatch(/feedback/);
  });

  it('tells an agent to stop when its task was cancelled', async () => {
    const created = await call<{ task: { id: number } }>(supervisor, 'task_create', {
      type: 'tools',
      title: 'to be cancelled',
    });
    const taken = await call<Claimed>(agent, 'task_next', { wait_seconds: 5 });
    expect(taken.task?.id).toBe(created.task.id);
    await call(supervisor, 'task_cancel', { task_id: created.task.id, reason: 'plan changed' });
    const res = await agent.client.callTool({
      name: 'task_update',
      arguments: { task_id: created.task.id, note: 'still going' },
    });
    expect(res.isError).toBe(true);
    expect(textOf(res)).toMatch(/cancelled/);
    expect(textOf(res)).toMatch(/STOP[\s\S]*task_next/);
  });

  it('a cancelled task_next call claims nothing', async () => {
    const ac = new AbortController();
    const waiting = agent.client.callTool(
      { name: 'task_next', arguments: { wait_seconds: 30 } },
      { signal: ac.signal },
    );
    await new Promise((r) => setTimeout(r, 500));
    ac.abort();
    await expect(waiting).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 300));
    const created = await call<{ task: { id: number; status: string } }>(supervisor, 'task_create', {
      type: 'tools',
      title: 'after cancel',
    });
    await new Promise((r) => setTimeout(r, 500));
    const detail = await call<{ task: { status: string } }>(supervisor, 'task_get', {
      task_id: created.task.id,
    });
    expect(detail.task.status).toBe('pending');
    const taken = await call<Claimed>(agent, 'task_next', { wait_seconds: 5 });
    expect(taken.task?.id).toBe(created.task.id);
    await call(agent, 'task_release', { task_id: created.task.id, reason: 'test' });
    await call(supervisor, 'task_cancel', { task_id: created.task.id });
  });

  it('explains an empty task_next and lists tasks with cursor pagination', async () => {
    const none = await call<Claimed>(agent, 'task_next', { wait_seconds: 0 });
    expect(none.task).toBeNull();
    expect(none.reason).toMatch(/tools/);

    await call(supervisor, 'workflow_create', {
      name: 'many',
      tasks: Array.from({ length: 7 }, (_, i) => ({ type: 'pager', title: `page task ${i}` })),
    });
    const seen: number[] = [];
    let cursor: number | null | undefined;
    do {
      const page = await call<{ tasks: { id: number }[]; nextCursor: number | null }>(
        supervisor,
        'task_list',
        {
          type: 'pager',
          limit: 3,
          ...(cursor ? { cursor } : {}),
        },
      );
      seen.push(...page.tasks.map((t) => t.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
  });

  it('clips long texts with a pointer and pages them through task_get', async () => {
    const spec = 'x'.repeat(50_000);
    const created = await call<{ task: { id: number } }>(supervisor, 'task_create', {
      type: 'tools',
      title: 'long spec',
      spec,
    });
    const taken = await agent.client.callTool({ name: 'task_next', arguments: { wait_seconds: 5 } });
    const text = textOf(taken);
    expect(Buffer.byteLength(text)).toBeLessThan(40_000);
    const claimed = taken.structuredContent as { task: { id: number; spec: string } };
    expect(claimed.task.id).toBe(created.task.id);
    expect(claimed.task.spec).toMatch(/truncated[\s\S]*task_get/);
    let full = '';
    let offset: number | null = 0;
    while (offset !== null) {
      const r: { chunk: { text: string; nextOffset: number | null } } = await call(agent, 'task_get', {
        task_id: created.task.id,
        part: 'spec',
        offset,
      });
      full += r.chunk.text;
      offset = r.chunk.nextOffset;
    }
    expect(full).toBe(spec);
    await call(agent, 'task_fail', { task_id: created.task.id, error: 'too long to read', retryable: false });
  });

  it('offers the worker and supervisor prompts and task/workflow resources', async () => {
    const agentPrompts = await agent.client.listPrompts();
    expect(agentPrompts.prompts.map((p) => p.name)).toEqual(['worker']);
    const worker = await agent.client.getPrompt({ name: 'worker', arguments: {} });
    const workerText = (worker.messages[0]!.content as { text: string }).text;
    expect(workerText).toMatch(/task_next[\s\S]*task_update[\s\S]*task_complete/);
    expect(workerText).toContain('tool-agent');

    const sup = await supervisor.client.getPrompt({
      name: 'supervisor',
      arguments: { goal: 'ship the items API' },
    });
    expect((sup.messages[0]!.content as { text: string }).text).toMatch(
      /ship the items API[\s\S]*workflow_create[\s\S]*task_review/,
    );
    expect((await both.client.listPrompts()).prompts.map((p) => p.name).sort()).toEqual([
      'supervisor',
      'worker',
    ]);

    const templates = await supervisor.client.listResourceTemplates();
    expect(templates.resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual([
      'cns://task/{id}',
      'cns://workflow/{id}',
    ]);
    const wf = await call<{ workflow: { id: number }; tasks: { id: number }[] }>(
      supervisor,
      'workflow_create',
      {
        name: 'resource demo',
        tasks: [{ type: 'nobody', title: 'one' }],
      },
    );
    const wfRes = await supervisor.client.readResource({ uri: `cns://workflow/${wf.workflow.id}` });
    const wfBody = JSON.parse((wfRes.contents[0] as { text: string }).text) as {
      workflow: { name: string };
      tasks: unknown[];
    };
    expect(wfBody.workflow.name).toBe('resource demo');
    expect(wfBody.tasks).toHaveLength(1);
    const taskRes = await agent.client.readResource({ uri: `cns://task/${wf.tasks[0]!.id}` });
    expect(JSON.parse((taskRes.contents[0] as { text: string }).text).task.title).toBe('one');
  });

  it('serves a 2026-07-28 client too (role both), and an agent cannot approve its own work', async () => {
    expect(both.client.getProtocolEra()).toBe('modern');
    const created = await call<{ task: { id: number } }>(both, 'task_create', {
      type: 'other',
      title: 'self review',
      review: true,
    });
    const taken = await call<Claimed>(both, 'task_next', { wait_seconds: 5 });
    expect(taken.task?.id).toBe(created.task.id);
    await call(both, 'task_complete', { task_id: created.task.id, result: 'done by lead' });
    const self = await both.client.callTool({
      name: 'task_review',
      arguments: { task_id: created.task.id, approve: true },
    });
    expect(self.isError).toBe(true);
    expect(textOf(self)).toMatch(/forbidden/i);
    const approved = await call<{ task: { status: string } }>(supervisor, 'task_review', {
      task_id: created.task.id,
      approve: true,
    });
    expect(approved.task.status).toBe('completed');
    const fleet = await call<{ agents: { name: string; status: string }[]; counts: Record<string, number> }>(
      both,
      'fleet_status',
    );
    expect(fleet.agents.map((a) => a.name)).toEqual(expect.arrayContaining(['lead', 'tool-agent']));
  });
});
