/**
 * Must show 1: a supervisor process queues a 3-task workflow with one review gate; two agent
 * processes take the tasks in dependency order, the second receiving the first's result; the
 * supervisor requests changes once and the feedback reaches the next claimant; the workflow ends
 * completed. Everything goes through real MCP clients over stdio to spawned `cns mcp` processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startMcp, tempDb, type McpProcess } from './support/mcp-harness.js';

interface Claimed {
  task: {
    id: number;
    ref: string;
    title: string;
    spec: string;
    dependencies: { taskId: number; ref: string; result: string | null; resultData: unknown }[];
    handoff: { agent: string; outcome: string; feedback: string | null; result: string | null }[];
  } | null;
  reason: string | null;
}
interface Row {
  id: number;
  ref: string | null;
  status: string;
}

describe('cns mcp: a supervisor and two agents run a reviewed workflow', () => {
  const tmp = tempDb();
  let supervisor: McpProcess;
  let alice: McpProcess;
  let bob: McpProcess;

  beforeAll(async () => {
    [supervisor, alice, bob] = await Promise.all([
      startMcp(tmp.db, ['--role', 'supervisor']),
      startMcp(tmp.db, ['--role', 'agent', '--type', 'backend', '--name', 'alice']),
      startMcp(tmp.db, ['--role', 'agent', '--type', 'backend', '--name', 'bob']),
    ]);
  });

  afterAll(async () => {
    await Promise.allSettled([supervisor?.close(), alice?.close(), bob?.close()]);
    tmp.cleanup();
  });

  it('goes from plan to completed workflow, with results and review feedback handed on', async () => {
    const created = await call<{ workflow: { id: number }; tasks: Row[] }>(supervisor, 'workflow_create', {
      name: 'items endpoint',
      tasks: [
        { ref: 'design', type: 'backend', title: 'Design the items API', spec: 'Write the route table.' },
        { ref: 'build', type: 'backend', title: 'Build the items API', depends_on: ['design'], review: true },
        { ref: 'docs', type: 'backend', title: 'Document the items API', depends_on: ['build'] },
      ],
    });
    const wf = created.workflow.id;
    const id = Object.fromEntries(created.tasks.map((t) => [t.ref, t.id])) as Record<
      'design' | 'build' | 'docs',
      number
    >;
    expect(created.tasks.map((t) => t.status)).toEqual(['pending', 'blocked', 'blocked']);

    // Alice takes the only claimable task; Bob waits meanwhile (build is blocked by design).
    const first = await call<Claimed>(alice, 'task_next', { wait_seconds: 5 });
    expect(first.task?.id).toBe(id.design);
    expect(first.task?.spec).toBe('Write the route table.');
    const bobWaits = call<Claimed>(bob, 'task_next', { wait_seconds: 30 });
    await call(alice, 'task_update', { task_id: id.design, note: 'routes drafted', percent: 60 });
    await call(alice, 'task_complete', {
      task_id: id.design,
      result: 'GET /items, POST /items, GET /items/:id',
      data: { routes: 3 },
    });

    // Bob's wait returns with the next task in dependency order, carrying Alice's result.
    const second = await bobWaits;
    expect(second.task?.id).toBe(id.build);
    const dep = second.task!.dependencies.find((d) => d.taskId === id.design);
    expect(dep?.result).toBe('GET /items, POST /items, GET /items/:id');
    expect(dep?.resultData).toEqual({ routes: 3 });
    const submitted = await call<{ task: { status: string } }>(bob, 'task_complete', {
      task_id: id.build,
      result: 'implemented in src/items.ts',
    });
    expect(submitted.task.status).toBe('awaiting_review');

    // The supervisor is told a review is needed, and requests changes once.
    const waited = await call<{ outcome: string; tasks: Row[] }>(supervisor, 'task_wait', {
      workflow_id: wf,
      wait_seconds: 10,
    });
    expect(waited.outcome).toBe('review_needed');
    expect(waited.tasks.find((t) => t.id === id.build)?.status).toBe('awaiting_review');
    const review = await call<{ task: Row }>(supervisor, 'task_review', {
      task_id: id.build,
      approve: false,
      feedback: 'add pagination (limit/cursor) to GET /items',
    });
    expect(review.task.status).toBe('pending');

    // The next claimant (Alice this time) receives the feedback in the handoff.
    const again = await call<Claimed>(alice, 'task_next', { wait_seconds: 5 });
    expect(again.task?.id).toBe(id.build);
    const feedback = again.task!.handoff.map((h) => h.feedback).filter(Boolean);
    expect(feedback).toContain('add pagination (limit/cursor) to GET /items');
    expect(again.task!.handoff.some((h) => h.agent === 'bob')).toBe(true);
    await call(alice, 'task_complete', {
      task_id: id.build,
      result: 'implemented in src/items.ts, with pagination',
    });

    const approved = await call<{ task: Row }>(supervisor, 'task_review', {
      task_id: id.build,
      approve: true,
    });
    expect(approved.task.status).toBe('completed');

    // The last task unblocks and carries the approved result.
    const third = await call<Claimed>(bob, 'task_next', { wait_seconds: 5 });
    expect(third.task?.id).toBe(id.docs);
    expect(third.task!.dependencies[0]?.result).toBe('implemented in src/items.ts, with pagination');
    await call(bob, 'task_complete', { task_id: id.docs, result: 'docs/items.md' });

    const done = await call<{ outcome: string; workflow: { status: string } }>(supervisor, 'task_wait', {
      workflow_id: wf,
      wait_seconds: 10,
    });
    expect(done.outcome).toBe('done');
    expect(done.workflow.status).toBe('completed');

    const nothing = await call<Claimed>(alice, 'task_next', { wait_seconds: 0 });
    expect(nothing.task).toBeNull();
    expect(nothing.reason).toMatch(/backend/);
  });
});
