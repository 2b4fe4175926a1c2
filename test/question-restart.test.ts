/**
 * Issue 14, must show 4: a question survives the loss of every process. An agent asks; the
 * supervisor and the agent (real `cns mcp` processes) are killed with SIGKILL while the question is
 * open; a new supervisor process finds it still open and answers it while no agent runs; the agent
 * starts again under its name, gets the task back with the answer, and completes it. On SQLite and
 * on PostgreSQL.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { call, startMcp, tempDb, type McpProcess } from './support/mcp-harness.js';
import { freshPostgresSchema } from './support/postgres.js';

interface QuestionView {
  id: number;
  taskId: number;
  status: string;
  answer: string | null;
}

async function kill(p: McpProcess): Promise<void> {
  process.kill(p.pid, 'SIGKILL');
  await p.exited;
  await p.client.close().catch(() => undefined);
}

async function scenario(db: string, env: Record<string, string>): Promise<void> {
  const start = (args: string[]) => startMcp(db, args, { env });
  const alive: McpProcess[] = [];
  try {
    let supervisor = await start(['--role', 'supervisor']);
    let agent = await start(['--role', 'agent', '--type', 'ops', '--name', 'ada']);
    alive.push(supervisor, agent);

    const { task } = await call<{ task: { id: number } }>(supervisor, 'task_create', {
      type: 'ops',
      title: 'Rotate the API keys',
    });
    const claimed = await call<{ task: { id: number } | null }>(agent, 'task_next', { wait_seconds: 0 });
    expect(claimed.task?.id).toBe(task.id);
    await call(agent, 'task_update', {
      task_id: task.id,
      note: 'new keys minted',
      checkpoint: { minted: true },
    });
    const asked = await call<{ question_id: number }>(agent, 'task_ask', {
      task_id: task.id,
      question: 'Revoke the old keys now or in a week?',
      choices: ['now', 'in a week'],
      for: 'security',
    });

    // Every process dies at once, without a chance to clean up.
    await Promise.all([kill(supervisor), kill(agent)]);
    alive.length = 0;

    supervisor = await start(['--role', 'supervisor']);
    alive.push(supervisor);
    const waited = await call<{ outcome: string; questions: QuestionView[] }>(supervisor, 'task_wait', {
      task_ids: [task.id],
      wait_seconds: 0,
    });
    expect(waited.outcome).toBe('question');
    expect(waited.questions).toEqual([expect.objectContaining({ id: asked.question_id, status: 'open' })]);

    // Answered while no agent runs.
    const answered = await call<{ task: { status: string } }>(supervisor, 'task_answer', {
      question_id: asked.question_id,
      answer: 'in a week',
    });
    expect(answered.task.status).toBe('pending');

    agent = await start(['--role', 'agent', '--type', 'ops', '--name', 'ada']);
    alive.push(agent);
    const back = await call<{
      task: {
        id: number;
        questions: QuestionView[];
        handoff: { outcome: string; checkpoint: unknown }[];
      } | null;
    }>(agent, 'task_next', { wait_seconds: 5 });
    expect(back.task?.id).toBe(task.id);
    expect(back.task?.questions).toEqual([
      expect.objectContaining({ id: asked.question_id, status: 'answered', answer: 'in a week' }),
    ]);
    expect(back.task?.handoff).toEqual([
      expect.objectContaining({ outcome: 'asked', checkpoint: { minted: true } }),
    ]);
    const done = await call<{ task: { status: string; attempts: number } }>(agent, 'task_complete', {
      task_id: task.id,
      result: 'old keys revoke in a week',
    });
    expect(done.task.status).toBe('completed');
  } finally {
    await Promise.allSettled(alive.map((p) => p.close()));
  }
}

describe('a question outlives every process', () => {
  const tmp = tempDb();
  afterAll(() => tmp.cleanup());

  it('sqlite: asked, everything killed, answered with no agent running, delivered on restart, completed', async () => {
    await scenario(tmp.db, {});
  });

  it('postgres: asked, everything killed, answered with no agent running, delivered on restart, completed', async () => {
    const pg = await freshPostgresSchema();
    try {
      await scenario(pg.url, { CNS_PG_SCHEMA: pg.schema });
    } finally {
      await pg.drop();
    }
  });
});
