/**
 * Questions from a shell, black-box: `cns task ask`, `cns questions`, `cns answer`, and the
 * question and answer in the next claim's output, through the real CLI on a SQLite file.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { cnsEntry, ROOT, tempDb } from './support/mcp-harness.js';

const tmp = tempDb();
afterAll(() => tmp.cleanup());

function cns(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...cnsEntry(), '--db', tmp.db, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json<T>(...args: string[]): T {
  const r = cns(...args, '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

describe('cns task ask / cns questions / cns answer', () => {
  it('asks, lists the inbox, answers once, and hands the answer to the next claim', () => {
    const { task } = json<{ task: { id: number } }>('task', 'add', '--type', 'ops', '--title', 'Rotate keys');
    const claim = json<{ leaseToken: string }>('task', 'claim', '--type', 'ops', '--agent', 'ada');

    // Bad input is refused before anything changes.
    const noQuestion = cns('task', 'ask', String(task.id), '--token', claim.leaseToken);
    expect(noQuestion.code).toBe(2);
    expect(noQuestion.stderr).toMatch(/give the question/);
    const badContext = cns(
      'task',
      'ask',
      String(task.id),
      '--token',
      claim.leaseToken,
      '--question',
      'q?',
      '--context',
      '{',
    );
    expect(badContext.code).toBe(2);
    expect(badContext.stderr).toMatch(/--context/);

    const asked = json<{ task: { status: string }; question: { id: number; choices: string[] } }>(
      'task',
      'ask',
      String(task.id),
      '--token',
      claim.leaseToken,
      '--question',
      'Revoke the old keys now?',
      '--choice',
      'now',
      '--choice',
      'in a week, or later',
      '--context',
      '{"keys":3}',
      '--for',
      'security',
    );
    expect(asked.task.status).toBe('waiting_input');
    // A choice may contain commas: each --choice is one choice.
    expect(asked.question.choices).toEqual(['now', 'in a week, or later']);
    const q = asked.question.id;

    // The old lease is gone: exit 5 (lease lost).
    expect(cns('task', 'complete', String(task.id), '--token', claim.leaseToken, '--result', 'x').code).toBe(
      5,
    );

    const inbox = cns('questions');
    expect(inbox.code).toBe(0);
    expect(inbox.stdout).toContain(`Question ${q} on task ${task.id} (open): asked by ada for security`);
    expect(inbox.stdout).toContain('"in a week, or later"');
    expect(json<unknown[]>('questions', '--for', 'nobody')).toEqual([]);
    expect(cns('questions', '--status', 'maybe').code).toBe(2);
    expect(cns('explain', String(task.id)).stdout).toMatch(/waiting for an answer from security since/);
    expect(cns('status').stdout).toContain('1 open question(s) wait for an answer: cns questions');
    expect(json<{ openQuestions: number }>('status').openQuestions).toBe(1);

    expect(cns('answer', String(q)).code).toBe(2);
    const answered = cns('answer', String(q), 'in', 'a', 'week', '--as', 'sam');
    expect(answered.code, answered.stderr).toBe(0);
    expect(answered.stdout).toMatch(new RegExp(`question ${q} answered; task ${task.id} is pending again`));
    const again = cns('answer', String(q), 'now');
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/already answered by sam/);
    expect(cns('answer', '999', 'x').code).toBe(3);

    expect(cns('questions').stdout).toMatch(/no open questions/);
    const all = json<{ id: number; status: string; answer: string }[]>('questions', '--all');
    expect(all).toEqual([expect.objectContaining({ id: q, status: 'answered', answer: 'in a week' })]);

    const back = cns('task', 'claim', '--type', 'ops', '--agent', 'ada');
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain('Questions asked so far, with their answers:');
    expect(back.stdout).toContain('answer (sam');
    expect(back.stdout).toContain('in a week');
    expect(cns('task', 'show', String(task.id)).stdout).toContain('Questions:');
  });
});
