/**
 * Issue 14, must show 2: an agent asks through task_ask; a supervisor already waiting in task_wait
 * wakes with outcome "question"; it answers with task_answer; the agent's next task_next gets the
 * task back with the question and answer in its handoff. While the question is open the agent
 * holds nothing and takes other work. Real MCP clients over stdio to spawned `cns mcp` processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startMcp, tempDb, textOf, type McpProcess } from './support/mcp-harness.js';

interface QuestionView {
  id: number;
  taskId: number;
  for: string;
  askedBy: string;
  question: string;
  choices: string[] | null;
  status: string;
  answer: string | null;
  answeredBy: string | null;
}
interface Claimed {
  task: { id: number; title: string; questions: QuestionView[]; handoff: { outcome: string }[] } | null;
}

describe('cns mcp: an agent asks, the supervisor answers, the agent carries on', () => {
  const tmp = tempDb();
  let supervisor: McpProcess;
  let alice: McpProcess;

  beforeAll(async () => {
    [supervisor, alice] = await Promise.all([
      startMcp(tmp.db, ['--role', 'supervisor']),
      startMcp(tmp.db, ['--role', 'agent', '--type', 'backend', '--name', 'alice']),
    ]);
  });

  afterAll(async () => {
    await Promise.allSettled([supervisor?.close(), alice?.close()]);
    tmp.cleanup();
  });

  it('task_ask → task_wait returns the question → task_answer → task_next hands it back answered', async () => {
    const { task: migrate } = await call<{ task: { id: number } }>(supervisor, 'task_create', {
      type: 'backend',
      title: 'Migrate the orders table',
      spec: 'Add a column; ask before dropping anything.',
    });
    const { task: other } = await call<{ task: { id: number } }>(supervisor, 'task_create', {
      type: 'backend',
      title: 'Fix the flaky login test',
      priority: -1,
    });

    const first = await call<Claimed>(alice, 'task_next', { wait_seconds: 0 });
    expect(first.task?.id).toBe(migrate.id);
    expect(first.task?.questions).toEqual([]);
    await call(alice, 'task_update', { task_id: migrate.id, note: 'column added', checkpoint: { step: 1 } });

    // The supervisor is already waiting when the question is asked.
    const waiting = call<{
      outcome: string;
      questions: QuestionView[];
      tasks: { id: number; status: string }[];
      next: string;
    }>(supervisor, 'task_wait', { task_ids: [migrate.id], until: 'done', wait_seconds: 30 });
    await new Promise((r) => setTimeout(r, 300));

    const asked = await call<{ task: { status: string }; question_id: number; for: string; next: string }>(
      alice,
      'task_ask',
      {
        task_id: migrate.id,
        question: 'The legacy_status column has data. Drop it?',
        choices: ['drop it', 'keep it'],
        context: { rows: 1200 },
      },
    );
    expect(asked.task.status).toBe('waiting_input');
    expect(asked.for).toBe('supervisor');
    expect(asked.next).toMatch(/task_next/);

    const woke = await waiting;
    expect(woke.outcome).toBe('question');
    expect(woke.tasks).toEqual([expect.objectContaining({ id: migrate.id, status: 'waiting_input' })]);
    expect(woke.questions).toHaveLength(1);
    const q = woke.questions[0]!;
    expect(q).toMatchObject({
      id: asked.question_id,
      taskId: migrate.id,
      for: 'supervisor',
      askedBy: 'alice',
      question: 'The legacy_status column has data. Drop it?',
      choices: ['drop it', 'keep it'],
      status: 'open',
    });
    expect(woke.next).toMatch(/task_answer/);

    // Alice no longer holds the task: a write with it is refused, and she takes other work.
    const stale = await alice.client.callTool({
      name: 'task_complete',
      arguments: { task_id: migrate.id, result: 'x' },
    });
    expect(stale.isError).toBe(true);
    const meanwhile = await call<Claimed>(alice, 'task_next', { wait_seconds: 0 });
    expect(meanwhile.task?.id).toBe(other.id);
    await call(alice, 'task_complete', { task_id: other.id, result: 'fixed' });

    // fleet_status counts the open question.
    const fleet = await call<{ questions: unknown[] }>(supervisor, 'fleet_status', {});
    expect(JSON.stringify(fleet)).toContain('legacy_status');

    const answered = await call<{ task: { status: string }; question: QuestionView }>(
      supervisor,
      'task_answer',
      {
        question_id: q.id,
        answer: 'keep it',
      },
    );
    expect(answered.task.status).toBe('pending');
    expect(answered.question).toMatchObject({
      status: 'answered',
      answer: 'keep it',
      answeredBy: 'supervisor',
    });

    // A second answer is refused with a clear error.
    const again = await supervisor.client.callTool({
      name: 'task_answer',
      arguments: { question_id: q.id, answer: 'drop it' },
    });
    expect(again.isError).toBe(true);
    expect(textOf(again)).toMatch(/already answered/i);

    const back = await call<Claimed>(alice, 'task_next', { wait_seconds: 5 });
    expect(back.task?.id).toBe(migrate.id);
    expect(back.task?.questions).toEqual([
      expect.objectContaining({ id: q.id, status: 'answered', answer: 'keep it', answeredBy: 'supervisor' }),
    ]);
    expect(back.task?.handoff.map((h) => h.outcome)).toContain('asked');
    const done = await call<{ task: { status: string } }>(alice, 'task_complete', {
      task_id: migrate.id,
      result: 'column added, legacy_status kept',
    });
    expect(done.task.status).toBe('completed');
  });
});
