/**
 * The lifecycle's decisions (src/coordinator/lifecycle.ts), as pure functions: over the whole input
 * space that matters to each (status, attempts against maxAttempts, the review flag, review rounds,
 * open dependencies, a lease or an assignee, retryable or not, approve or not), every decision is a
 * move core/status.ts's MOVES allows for its operation, every move of MOVES is made by some input,
 * the decision is the one the rules state, and a decision that is not allowed throws (and decides
 * nothing). Then the author check of a review and the reasons a lease is lost.
 */
import { describe, expect, it } from 'vitest';

import {
  decideAnswer,
  decideAsk,
  decideAssign,
  decideCancel,
  decideComplete,
  decideExpire,
  decideFail,
  decideRelease,
  decideRetry,
  decideReview,
  leaseLost,
  leaseLostReason,
  type Reviewer,
} from '../src/coordinator/lifecycle.js';
import { ConflictError, ForbiddenError, LeaseLostError, type LeaseLostReason } from '../src/core/errors.js';
import { retryDelayMs, type Policy } from '../src/core/policy.js';
import { isFinal, MOVES, TASK_STATUSES, type TaskOperation, type TaskStatus } from '../src/core/status.js';
import type { AttemptOutcome, Question } from '../src/core/types.js';
import type { EventSpec, TaskChange, TaskState } from '../src/store/store.js';

const POLICY: Pick<Policy, 'retryBaseMs' | 'retryMaxMs' | 'preferAskerMs'> = {
  retryBaseMs: 1_000,
  retryMaxMs: 60_000,
  preferAskerMs: 30_000,
};
const TOKEN = 'ab'.repeat(16);
const HOLDER = { agentId: 7, agentName: 'holder' };

/** Every task state worth deciding about: each status with each combination of the fields the rules read. */
function states(): TaskState[] {
  const out: TaskState[] = [];
  let id = 1;
  for (const status of TASK_STATUSES)
    for (const maxAttempts of [1, 2, 3])
      for (let attempts = 0; attempts <= maxAttempts; attempts++)
        for (const review of [false, true])
          for (const maxReviewRounds of [1, 2, 3])
            for (let reviewRounds = 0; reviewRounds < maxReviewRounds; reviewRounds++)
              for (const openDependencies of [0, 1, 2]) {
                const inProgress = status === 'in_progress';
                const authored = status === 'awaiting_review' || status === 'completed';
                out.push({
                  id: id++,
                  workflowId: id % 2 === 0 ? 1 : null,
                  status,
                  attempts,
                  maxAttempts,
                  review,
                  reviewRounds,
                  maxReviewRounds,
                  lease: inProgress ? { token: TOKEN, ...HOLDER } : null,
                  assignedTo: status === 'assigned' ? 9 : null,
                  completedBy: authored ? HOLDER.agentId : null,
                  authorName: authored ? HOLDER.agentName : null,
                  openDependencies,
                });
              }
  return out;
}

const ALL = states();
const IN_PROGRESS = ALL.filter((t) => t.status === 'in_progress');

/** A decided change: a move of `op` in MOVES, consistent with the task it was decided from. */
function checkChange(op: TaskOperation, t: TaskState, c: TaskChange): void {
  const where = `${op} of ${JSON.stringify(t)}`;
  expect(
    MOVES[op].some(([from, to]) => from === c.from && to === c.to),
    `${where}: ${c.from} → ${c.to} is not a move of ${op}`,
  ).toBe(true);
  expect(c.from, where).toBe(t.status);
  expect(c.taskId, where).toBe(t.id);
  // The fields a status needs, and only it.
  expect(c.assignedTo !== null, `${where}: assignedTo`).toBe(c.to === 'assigned');
  if (c.closeAttempt !== null) expect(c.from, `${where}: closes an attempt`).toBe('in_progress');
  if (c.unblock !== null) expect(c.to, `${where}: unblocks dependents`).toBe('completed');
  if (c.token !== null) expect(c.from, `${where}: guarded by a token`).toBe('in_progress');
  if (c.attempts === 'reset' || c.reviewRounds === 'reset') expect(op, where).toBe('retry');
  if (c.attempts === 'give_back') expect(['release', 'request_changes', 'ask'], where).toContain(op);
  if (c.prefer !== null) expect(op, `${where}: kept for an agent`).toBe('answer');
  if (c.reviewRounds === 'increment' || c.feedback !== null) expect(op, where).toBe('request_changes');
  if (c.result !== 'keep' && c.result !== null) expect(op, `${where}: a new result`).toBe('complete');
  expect(c.events.length, `${where}: one event`).toBe(1);
}

/** Calls `decide`; when it throws, the error must be one of `errors`. Returns the change, or null. */
function attempt(decide: () => TaskChange, errors: (new (...a: never[]) => Error)[]): TaskChange | null {
  try {
    return decide();
  } catch (err) {
    expect(
      errors.some((E) => err instanceof E),
      `unexpected ${String(err)}`,
    ).toBe(true);
    return null;
  }
}

const kinds = (c: TaskChange) => c.events.map((e: EventSpec) => e.kind);

/** An open question about task `taskId`, asked by agent 7. */
function openQuestion(taskId: number, status: Question['status'] = 'open'): Question {
  return {
    id: 11,
    taskId,
    workflowId: null,
    attemptSeq: 1,
    askedBy: { agentId: 7, name: 'asker' },
    for: 'supervisor',
    text: 'which one?',
    choices: null,
    context: null,
    askedAt: 0,
    status,
    answer: status === 'answered' ? 'that one' : null,
    answeredBy: status === 'answered' ? { name: 'sue', agentId: null } : null,
    answeredAt: status === 'answered' ? 0 : null,
    closedReason: status === 'closed' ? 'its task was cancelled' : null,
  };
}

describe('questions: ask and answer', () => {
  it('ask: the holder gives the task up to wait (no lease, attempt given back, attempt ended as asked); the question opens', () => {
    for (const t of IN_PROGRESS) {
      const d = decideAsk(t, TOKEN, { text: 'q?', choices: ['a', 'b'], context: { k: 1 }, for: 'dba' });
      const c = d.changes[0]!;
      checkChange('ask', t, c);
      expect(c).toMatchObject({
        to: 'waiting_input',
        token: TOKEN,
        attempts: 'give_back',
        closeAttempt: { outcome: 'asked' },
        prefer: null,
      });
      expect(kinds(c)).toEqual(['task.asked']);
      expect(d.questions).toEqual([
        {
          ask: {
            taskId: t.id,
            askedBy: { agentId: t.lease!.agentId, name: t.lease!.agentName },
            for: 'dba',
            text: 'q?',
            choices: ['a', 'b'],
            context: { k: 1 },
          },
        },
      ]);
    }
  });

  it('answer: pending, kept for the asker for preferAskerMs; refused for a task not waiting or a question not open', () => {
    const by: Reviewer = { name: 'sue', agentId: null };
    for (const t of ALL) {
      if (t.status !== 'waiting_input') {
        expect(() => decideAnswer(t, openQuestion(t.id), { answer: 'x', by }, POLICY)).toThrow(ConflictError);
        continue;
      }
      const d = decideAnswer(t, openQuestion(t.id), { answer: 'x', by }, POLICY);
      const c = d.changes[0]!;
      checkChange('answer', t, c);
      expect(c).toMatchObject({ to: 'pending', runAfterDelayMs: 0, prefer: { agentId: 7, forMs: 30_000 } });
      expect(d.questions).toEqual([{ answer: { questionId: 11, answer: 'x', by } }]);
      for (const status of ['answered', 'closed'] as const)
        expect(() => decideAnswer(t, openQuestion(t.id, status), { answer: 'x', by }, POLICY)).toThrow(
          ConflictError,
        );
    }
  });
});

describe('the holder’s decisions (complete, fail, release) and expiry', () => {
  it('complete: awaiting_review when the task is reviewed, else completed (dependents unblock)', () => {
    for (const t of IN_PROGRESS) {
      const c = decideComplete(t, TOKEN, { result: 'r', data: { n: 1 } });
      checkChange('complete', t, c);
      expect(c.to).toBe(t.review ? 'awaiting_review' : 'completed');
      expect(c).toMatchObject({
        token: TOKEN,
        attempts: 'keep',
        runAfterDelayMs: null,
        result: { text: 'r', data: { n: 1 } },
        error: null,
        closeAttempt: {
          outcome: t.review ? 'submitted_for_review' : 'completed',
          result: 'r',
          error: null,
        },
      });
      expect(kinds(c)).toEqual([t.review ? 'task.submitted' : 'task.completed']);
      expect(c.unblock?.kind ?? null).toBe(t.review ? null : 'task.unblocked');
    }
    expect(decideComplete(IN_PROGRESS[0]!, TOKEN, { result: 'no data' }).result).toEqual({
      text: 'no data',
      data: null,
    });
  });

  it('fail: pending after the backoff while retryable with attempts left, else failed', () => {
    for (const t of IN_PROGRESS)
      for (const retryable of [undefined, true, false]) {
        const c = decideFail(
          t,
          TOKEN,
          { error: 'e', ...(retryable === undefined ? {} : { retryable }) },
          POLICY,
        );
        checkChange('fail', t, c);
        const again = retryable !== false && t.attempts < t.maxAttempts;
        expect(c.to).toBe(again ? 'pending' : 'failed');
        expect(c.runAfterDelayMs).toBe(again ? retryDelayMs(t.attempts, POLICY) : null);
        expect(c).toMatchObject({
          token: TOKEN,
          attempts: 'keep',
          error: 'e',
          result: 'keep',
          closeAttempt: { outcome: 'failed', result: null, error: 'e' },
        });
        expect(c.events[0]).toMatchObject({
          kind: 'task.failed',
          actor: null,
          message: 'e',
          data: {
            retry: again,
            ...(again ? { retryInMs: retryDelayMs(t.attempts, POLICY) } : {}),
            attempts: t.attempts,
            maxAttempts: t.maxAttempts,
          },
        });
      }
  });

  it('release: pending at once, the attempt given back', () => {
    const event: EventSpec = {
      kind: 'task.released',
      actor: null,
      agentId: null,
      message: 'bye',
      data: null,
    };
    for (const t of IN_PROGRESS)
      for (const token of [TOKEN, null]) {
        const c = decideRelease(t, token, event);
        checkChange('release', t, c);
        expect(c).toMatchObject({
          to: 'pending',
          token,
          attempts: 'give_back',
          runAfterDelayMs: null,
          result: 'keep',
          error: 'keep',
          closeAttempt: { outcome: 'released', result: null, error: null },
        });
        expect(c.events).toEqual([event]);
      }
  });

  it('expire: pending after the backoff with attempts left, else failed with the reason; by the reaper', () => {
    for (const t of IN_PROGRESS) {
      const c = decideExpire(t, POLICY);
      checkChange('expire', t, c);
      const again = t.attempts < t.maxAttempts;
      expect(c.to).toBe(again ? 'pending' : 'failed');
      expect(c.token).toBe(TOKEN);
      expect(c.runAfterDelayMs).toBe(again ? retryDelayMs(t.attempts, POLICY) : null);
      expect(c.error).toBe(again ? 'keep' : 'the lease of holder expired and the task has no attempts left');
      expect(c.closeAttempt).toEqual({ outcome: 'expired', result: null, error: 'lease expired' });
      expect(c.events[0]).toMatchObject({ kind: 'task.expired', actor: 'reaper', agentId: HOLDER.agentId });
    }
  });
});

describe('the supervisor’s decisions', () => {
  const supervisor: Reviewer = { name: 'supervisor', agentId: null };

  it('review: only an awaiting_review task; approve → completed, changes → pending, or failed when the rounds are used up', () => {
    for (const t of ALL)
      for (const approve of [true, false]) {
        const c = attempt(
          () => decideReview(t, { reviewer: supervisor, approve, feedback: 'fix it' }),
          [ConflictError],
        );
        expect(c === null, `${t.status}: decided or refused`).toBe(t.status !== 'awaiting_review');
        if (c === null) continue;
        checkChange(approve ? 'approve' : 'request_changes', t, c);
        if (approve) {
          expect(c).toMatchObject({
            to: 'completed',
            reviewRounds: 'keep',
            attempts: 'keep',
            result: 'keep',
          });
          expect(c.unblock).toMatchObject({ kind: 'task.unblocked', actor: 'supervisor' });
          expect(kinds(c)).toEqual(['task.approved']);
          continue;
        }
        const exhausted = t.reviewRounds + 1 >= t.maxReviewRounds;
        expect(c.to).toBe(exhausted ? 'failed' : 'pending');
        expect(c).toMatchObject({
          reviewRounds: 'increment',
          attempts: exhausted ? 'keep' : 'give_back',
          result: exhausted ? 'keep' : null,
          feedback: 'fix it',
          closeAttempt: null,
          unblock: null,
        });
        if (exhausted) expect(c.error).toMatch(/changes were requested \d+ times/);
        expect(c.events[0]).toMatchObject({
          kind: 'task.changes_requested',
          actor: 'supervisor',
          message: 'fix it',
          data: { reviewRounds: t.reviewRounds + 1, maxReviewRounds: t.maxReviewRounds },
        });
      }
  });

  it('review: blank feedback is no feedback', () => {
    const t = ALL.find((x) => x.status === 'awaiting_review' && x.maxReviewRounds === 3)!;
    expect(
      decideReview(t, { reviewer: supervisor, approve: true, feedback: '  ' }).events[0]!.message,
    ).toBeNull();
    expect(decideReview(t, { reviewer: supervisor, approve: false, feedback: ' ' }).feedback).toBeNull();
    expect(
      decideReview(t, { reviewer: supervisor, approve: true, feedback: 'nice' }).events[0]!.message,
    ).toBe('nice');
  });

  it('cancel: any open task (a holder’s attempt ends), never a final one', () => {
    for (const t of ALL)
      for (const rootId of [null, t.id, 1_000_000]) {
        const c = attempt(() => decideCancel(t, { actor: 'boss', reason: 'stop', rootId }), [ConflictError]);
        expect(c === null, `${t.status}: decided or refused`).toBe(isFinal(t.status));
        if (c === null) continue;
        checkChange('cancel', t, c);
        expect(c.closeAttempt).toEqual(
          t.status === 'in_progress' ? { outcome: 'cancelled', result: null, error: null } : null,
        );
        expect(c).toMatchObject({ attempts: 'keep', result: 'keep', error: 'keep', token: null });
        expect(c.events[0]).toEqual({
          kind: 'task.cancelled',
          actor: 'boss',
          agentId: t.lease?.agentId ?? t.assignedTo,
          message: rootId === 1_000_000 ? 'a task it depends on (#1000000) was cancelled: stop' : 'stop',
          data: null,
        });
      }
  });

  it('retry: a failed or cancelled task starts over, blocked while a dependency is open', () => {
    for (const t of ALL) {
      const c = attempt(() => decideRetry(t, 'boss'), [ConflictError]);
      expect(c === null, `${t.status}: decided or refused`).toBe(
        t.status !== 'failed' && t.status !== 'cancelled',
      );
      if (c === null) continue;
      checkChange('retry', t, c);
      expect(c).toMatchObject({
        to: t.openDependencies > 0 ? 'blocked' : 'pending',
        attempts: 'reset',
        reviewRounds: 'reset',
        runAfterDelayMs: 0,
        result: null,
        error: null,
      });
      expect(c.events[0]).toMatchObject({
        kind: 'task.retried',
        actor: 'boss',
        message: `retried after it was ${t.status}`,
      });
    }
  });

  it('assign: a pending or assigned task is reserved for the agent', () => {
    for (const t of ALL) {
      const c = attempt(() => decideAssign(t, { id: 4, name: 'four' }, 'boss'), [ConflictError]);
      expect(c === null, `${t.status}: decided or refused`).toBe(
        t.status !== 'pending' && t.status !== 'assigned',
      );
      if (c === null) continue;
      checkChange('assign', t, c);
      expect(c).toMatchObject({ to: 'assigned', assignedTo: 4, attempts: 'keep' });
      expect(c.events[0]).toMatchObject({
        kind: 'task.assigned',
        actor: 'boss',
        agentId: 4,
        message: 'assigned to four',
      });
    }
  });
});

describe('every move of MOVES is made by its decision (claim and unblock are the stores’ own)', () => {
  it('across the input space', () => {
    const made = new Map<TaskOperation, Set<string>>();
    const add = (op: TaskOperation, t: TaskState, c: TaskChange | null) => {
      if (c === null) return;
      checkChange(op, t, c);
      made.set(op, (made.get(op) ?? new Set()).add(`${c.from}>${c.to}`));
    };
    const released: EventSpec = {
      kind: 'task.released',
      actor: null,
      agentId: null,
      message: null,
      data: null,
    };
    for (const t of IN_PROGRESS) {
      add('complete', t, decideComplete(t, TOKEN, { result: 'r' }));
      for (const retryable of [true, false])
        add('fail', t, decideFail(t, TOKEN, { error: 'e', retryable }, POLICY));
      add('release', t, decideRelease(t, TOKEN, released));
      add('expire', t, decideExpire(t, POLICY));
      add('ask', t, decideAsk(t, TOKEN, { text: 'which one?' }).changes[0]!);
    }
    const supervisor: Reviewer = { name: 'supervisor', agentId: null };
    for (const t of ALL) {
      for (const approve of [true, false])
        add(
          approve ? 'approve' : 'request_changes',
          t,
          attempt(() => decideReview(t, { reviewer: supervisor, approve, feedback: 'f' }), [ConflictError]),
        );
      add(
        'cancel',
        t,
        attempt(() => decideCancel(t, { actor: 'a', reason: null, rootId: null }), [ConflictError]),
      );
      add(
        'retry',
        t,
        attempt(() => decideRetry(t, 'a'), [ConflictError]),
      );
      add(
        'assign',
        t,
        attempt(() => decideAssign(t, { id: 1, name: 'one' }, 'a'), [ConflictError]),
      );
      add(
        'answer',
        t,
        attempt(
          () => decideAnswer(t, openQuestion(t.id), { answer: 'yes', by: supervisor }, POLICY).changes[0]!,
          [ConflictError],
        ),
      );
    }
    for (const op of Object.keys(MOVES) as TaskOperation[]) {
      if (op === 'claim' || op === 'unblock') continue;
      expect([...(made.get(op) ?? [])].sort(), op).toEqual(MOVES[op].map(([f, t]) => `${f}>${t}`).sort());
    }
  });
});

describe('the author cannot review its own work', () => {
  const submitted = ALL.find((t) => t.status === 'awaiting_review' && t.maxReviewRounds === 3)!;
  const review =
    (t: TaskState, reviewer: Reviewer, approve = true) =>
    () =>
      decideReview(t, { reviewer, approve, feedback: 'x' });

  it('by agent id, whatever name it acts under', () => {
    for (const approve of [true, false]) {
      expect(review(submitted, { name: 'someone-else', agentId: HOLDER.agentId }, approve)).toThrow(
        ForbiddenError,
      );
      expect(review(submitted, { name: 'holder', agentId: HOLDER.agentId }, approve)).toThrow(ForbiddenError);
    }
  });

  it('by name, with no agent id or another one', () => {
    for (const approve of [true, false]) {
      expect(review(submitted, { name: 'holder', agentId: null }, approve)).toThrow(ForbiddenError);
      expect(review(submitted, { name: 'holder', agentId: 99 }, approve)).toThrow(ForbiddenError);
    }
    const err = (() => {
      try {
        review(submitted, { name: 'holder', agentId: null })();
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(ForbiddenError);
    expect((err as ForbiddenError).details).toEqual({ taskId: submitted.id, reviewer: 'holder' });
    expect((err as ForbiddenError).message).toBe(
      `holder wrote the result of task ${submitted.id} and cannot review it`,
    );
  });

  it('anyone else may review: another agent, a person, and nobody matches an unknown author', () => {
    expect(review(submitted, { name: 'reviewer', agentId: 8 })().to).toBe('completed');
    expect(review(submitted, { name: 'supervisor', agentId: null })().to).toBe('completed');
    const anonymous: TaskState = { ...submitted, completedBy: null, authorName: null };
    expect(review(anonymous, { name: 'supervisor', agentId: null })().to).toBe('completed');
    expect(review(anonymous, { name: 'holder', agentId: HOLDER.agentId })().to).toBe('completed');
    // Only the name known: an agent with another name and no id match may review.
    const nameOnly: TaskState = { ...submitted, completedBy: null };
    expect(review(nameOnly, { name: 'reviewer', agentId: HOLDER.agentId })().to).toBe('completed');
    expect(review(nameOnly, { name: 'holder', agentId: 3 })).toThrow(ForbiddenError);
  });

  it('the status is checked first: reviewing one’s own task that is not awaiting review is a conflict', () => {
    const done: TaskState = { ...submitted, status: 'completed' };
    expect(review(done, { name: 'holder', agentId: HOLDER.agentId })).toThrow(ConflictError);
  });
});

describe('why a lease token no longer fences its task', () => {
  const OUTCOMES: (AttemptOutcome | null)[] = [
    null,
    'running',
    'completed',
    'submitted_for_review',
    'failed',
    'released',
    'expired',
    'cancelled',
  ];

  it('the cases that happen', () => {
    const cases: [TaskStatus, AttemptOutcome | null, LeaseLostReason][] = [
      // A token never given out for this task.
      ['pending', null, 'unknown_token'],
      ['in_progress', null, 'unknown_token'],
      ['completed', null, 'unknown_token'],
      ['cancelled', null, 'unknown_token'],
      // Expired and reaped: back in the queue, failed, or claimed by another.
      ['pending', 'expired', 'expired'],
      ['failed', 'expired', 'expired'],
      ['in_progress', 'expired', 'reassigned'],
      ['completed', 'expired', 'expired'],
      // Its own attempt ended it.
      ['completed', 'completed', 'finished'],
      ['awaiting_review', 'submitted_for_review', 'finished'],
      ['completed', 'submitted_for_review', 'finished'],
      ['pending', 'submitted_for_review', 'finished'],
      ['failed', 'failed', 'finished'],
      ['pending', 'failed', 'finished'],
      ['in_progress', 'failed', 'finished'],
      ['pending', 'released', 'released'],
      ['in_progress', 'released', 'released'],
      // Cancelled: the task now, or while this token held it.
      ['cancelled', 'cancelled', 'cancelled'],
      ['pending', 'cancelled', 'cancelled'],
      ['cancelled', 'expired', 'cancelled'],
      ['cancelled', 'released', 'cancelled'],
      ['cancelled', 'submitted_for_review', 'cancelled'],
    ];
    for (const [status, outcome, reason] of cases)
      expect(leaseLostReason(status, outcome), `${status} / ${outcome}`).toBe(reason);
  });

  it('is total: unknown_token exactly when the token was never given out, cancelled whenever the task is', () => {
    for (const status of TASK_STATUSES)
      for (const outcome of OUTCOMES) {
        const reason = leaseLostReason(status, outcome);
        expect(reason === 'unknown_token', `${status} / ${outcome}`).toBe(outcome === null);
        if (outcome !== null && status === 'cancelled') expect(reason).toBe('cancelled');
      }
  });

  it('leaseLost builds the LeaseLostError with the reason and the status now', () => {
    const err = leaseLost(12, { status: 'in_progress', tokenOutcome: 'expired' });
    expect(err).toBeInstanceOf(LeaseLostError);
    expect(err).toMatchObject({
      taskId: 12,
      reason: 'reassigned',
      status: 'in_progress',
      code: 'lease_lost',
    });
    expect(err.details).toEqual({ taskId: 12, reason: 'reassigned', status: 'in_progress' });
    expect(err.message).toContain('another agent holds the task now');
  });
});
