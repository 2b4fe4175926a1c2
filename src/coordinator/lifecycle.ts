/**
 * The task lifecycle's decisions, in one place: pure functions from a task's state (and the
 * operation's input) to the change to write — the next status, the run-after, the fields set or
 * cleared, the attempt's outcome and the events (built by ./events.ts). The stores only write a
 * decided change, atomically and guarded (the status it was decided from, and the lease token for
 * an agent's writes), so nothing can change between the decision and the write: while a lease is
 * valid, a task's attempts, limits and review flag cannot change.
 *
 * The moves each operation may make are core/status.ts's MOVES; every function here returns a move
 * that table allows (checked by test/lifecycle.test.ts).
 */
import { ConflictError, ForbiddenError, LeaseLostError, type LeaseLostReason } from '../core/errors.js';
import { retryDelayMs, type Policy } from '../core/policy.js';
import { isFinal, type TaskStatus } from '../core/status.js';
import type { AttemptOutcome, Json, Question } from '../core/types.js';
import type { Decision, EventSpec, TaskChange, TaskState } from '../store/store.js';
import { events } from './events.js';

/** Who reviews: a supervisor or person by name, or an agent (whose id is checked against the author). */
export interface Reviewer {
  name: string;
  agentId: number | null;
}

/** A change that keeps every field but those given (and always ends the lease, if any). */
function change(t: TaskState, to: TaskStatus, fields: Partial<TaskChange>): TaskChange {
  return {
    taskId: t.id,
    from: t.status,
    token: null,
    to,
    attempts: 'keep',
    reviewRounds: 'keep',
    runAfterDelayMs: null,
    result: 'keep',
    error: 'keep',
    assignedTo: null,
    prefer: null,
    closeAttempt: null,
    feedback: null,
    events: [],
    unblock: null,
    ...fields,
  };
}

function requireStatus(t: TaskState, allowed: readonly TaskStatus[], what: string): void {
  if (!allowed.includes(t.status)) {
    throw new ConflictError(`task ${t.id} is ${t.status}; ${what} (only a ${allowed.join(' or ')} task)`, {
      taskId: t.id,
      status: t.status,
    });
  }
}

/** The holder ends its attempt with a result: to review, or done (dependents may unblock). */
export function decideComplete(
  t: TaskState,
  token: string,
  input: { result: string; data?: Json },
): TaskChange {
  const to: TaskStatus = t.review ? 'awaiting_review' : 'completed';
  return change(t, to, {
    from: 'in_progress',
    token,
    result: { text: input.result, data: input.data ?? null },
    error: null,
    closeAttempt: {
      outcome: t.review ? 'submitted_for_review' : 'completed',
      result: input.result,
      error: null,
    },
    events: [events.completed(t.review)],
    unblock: to === 'completed' ? events.unblocked(null) : null,
  });
}

/** Retry after a backoff while attempts remain (and the failure is retryable); else failed. */
export function decideFail(
  t: TaskState,
  token: string,
  input: { error: string; retryable?: boolean },
  policy: Pick<Policy, 'retryBaseMs' | 'retryMaxMs'>,
): TaskChange {
  const retryInMs =
    (input.retryable ?? true) && t.attempts < t.maxAttempts ? retryDelayMs(t.attempts, policy) : null;
  return change(t, retryInMs === null ? 'failed' : 'pending', {
    from: 'in_progress',
    token,
    runAfterDelayMs: retryInMs,
    error: input.error,
    closeAttempt: { outcome: 'failed', result: null, error: input.error },
    events: [events.failed(input.error, { retryInMs, attempts: t.attempts, maxAttempts: t.maxAttempts })],
  });
}

/** Given back without penalty: pending at once, the attempt not counted. */
export function decideRelease(t: TaskState, token: string | null, event: EventSpec): TaskChange {
  return change(t, 'pending', {
    from: 'in_progress',
    token,
    attempts: 'give_back',
    closeAttempt: { outcome: 'released', result: null, error: null },
    events: [event],
  });
}

/** The lease ran out: back to pending after the backoff, or failed when no attempt is left. */
export function decideExpire(t: TaskState, policy: Pick<Policy, 'retryBaseMs' | 'retryMaxMs'>): TaskChange {
  const lease = t.lease!;
  const retryInMs = t.attempts < t.maxAttempts ? retryDelayMs(t.attempts, policy) : null;
  return change(t, retryInMs === null ? 'failed' : 'pending', {
    from: 'in_progress',
    token: lease.token,
    runAfterDelayMs: retryInMs,
    ...(retryInMs === null
      ? { error: `the lease of ${lease.agentName} expired and the task has no attempts left` }
      : {}),
    closeAttempt: { outcome: 'expired', result: null, error: 'lease expired' },
    events: [events.expired(lease, { retryInMs, attempts: t.attempts, maxAttempts: t.maxAttempts })],
  });
}

/** A question to ask about the task one holds. */
export interface QuestionInput {
  text: string;
  /** Answers to pick from (any text is still accepted as an answer). */
  choices?: string[] | null;
  /** JSON to decide on. */
  context?: Json | null;
  /** Whom it is for. Default "supervisor". */
  for?: string;
}

/**
 * The holder asks a question: the task waits for the answer (waiting_input) with no lease, the
 * attempt ends as `asked` and does not count; the question opens. Progress and checkpoint stay.
 */
export function decideAsk(t: TaskState, token: string, input: QuestionInput): Decision {
  const lease = t.lease!;
  const question = {
    for: input.for ?? 'supervisor',
    text: input.text,
    choices: input.choices ?? null,
  };
  return {
    changes: [
      change(t, 'waiting_input', {
        from: 'in_progress',
        token,
        attempts: 'give_back',
        closeAttempt: { outcome: 'asked', result: null, error: null },
        events: [events.asked(question)],
      }),
    ],
    questions: [
      {
        ask: {
          taskId: t.id,
          askedBy: { agentId: lease.agentId, name: lease.agentName },
          ...question,
          context: input.context ?? null,
        },
      },
    ],
  };
}

/** Why a question cannot be answered (already answered, or closed), or null when it is open. */
export function answerRefusal(question: Question): ConflictError | null {
  if (question.status === 'answered')
    return new ConflictError(
      `question ${question.id} was already answered by ${question.answeredBy?.name ?? 'someone'}`,
      { questionId: question.id, status: question.status },
    );
  if (question.status === 'closed')
    return new ConflictError(
      `question ${question.id} is closed${question.closedReason ? ` (${question.closedReason})` : ''}: there is nothing to answer`,
      { questionId: question.id, status: question.status },
    );
  return null;
}

/**
 * Someone answers the open question of a waiting task: the task returns to pending, kept for the
 * agent that asked for `preferAskerMs` (then anyone of its type may take it), and the question and
 * answer travel in the next claimant's handoff.
 */
export function decideAnswer(
  t: TaskState,
  question: Question,
  input: { answer: string; by: Reviewer },
  policy: Pick<Policy, 'preferAskerMs'>,
): Decision {
  const refused = answerRefusal(question);
  if (refused) throw refused;
  if (t.status !== 'waiting_input') {
    throw new ConflictError(`task ${t.id} is ${t.status}, not waiting for an answer`, {
      taskId: t.id,
      status: t.status,
    });
  }
  return {
    changes: [
      change(t, 'pending', {
        runAfterDelayMs: 0,
        prefer: { agentId: question.askedBy.agentId, forMs: policy.preferAskerMs },
        events: [events.answered(input.by, question.id, input.answer)],
      }),
    ],
    questions: [{ answer: { questionId: question.id, answer: input.answer, by: input.by } }],
  };
}

/**
 * A reviewer other than the author approves (completed; dependents may unblock) or requests
 * changes with feedback (back to pending with the feedback in the handoff, the attempt not counted;
 * failed, for a person, when the rounds are used up).
 */
export function decideReview(
  t: TaskState,
  input: { reviewer: Reviewer; approve: boolean; feedback?: string },
): TaskChange {
  if (t.status !== 'awaiting_review') {
    throw new ConflictError(`task ${t.id} is ${t.status}, not awaiting review`, {
      taskId: t.id,
      status: t.status,
    });
  }
  const { reviewer } = input;
  const isAuthor =
    (reviewer.agentId !== null && t.completedBy !== null && reviewer.agentId === t.completedBy) ||
    (t.authorName !== null && reviewer.name === t.authorName);
  if (isAuthor) {
    throw new ForbiddenError(`${reviewer.name} wrote the result of task ${t.id} and cannot review it`, {
      taskId: t.id,
      reviewer: reviewer.name,
    });
  }
  const feedback = input.feedback?.trim() ? input.feedback : null;
  if (input.approve) {
    return change(t, 'completed', {
      events: [events.approved(reviewer, feedback)],
      unblock: events.unblocked(reviewer.name),
    });
  }
  const reviewRounds = t.reviewRounds + 1;
  const exhausted = reviewRounds >= t.maxReviewRounds;
  return change(t, exhausted ? 'failed' : 'pending', {
    reviewRounds: 'increment',
    ...(exhausted
      ? { error: `changes were requested ${reviewRounds} times (the limit); a person should look at it` }
      : { attempts: 'give_back' as const, result: null }),
    feedback,
    events: [
      events.changesRequested(reviewer, feedback ?? '', {
        reviewRounds,
        maxReviewRounds: t.maxReviewRounds,
      }),
    ],
  });
}

/**
 * Cancelled, with the task it was cancelled with (`rootId`: a dependent cancelled in a cascade,
 * null for the task named or a workflow's tasks). A holder's lease ends with the attempt.
 */
export function decideCancel(
  t: TaskState,
  input: { actor: string; reason: string | null; rootId: number | null },
): TaskChange {
  if (isFinal(t.status)) {
    throw new ConflictError(`task ${t.id} is already ${t.status}`, { taskId: t.id, status: t.status });
  }
  const agentId = t.lease?.agentId ?? t.assignedTo;
  const cascade = input.rootId !== null && input.rootId !== t.id ? { rootId: input.rootId } : null;
  return change(t, 'cancelled', {
    closeAttempt: t.status === 'in_progress' ? { outcome: 'cancelled', result: null, error: null } : null,
    events: [events.cancelled(input.actor, agentId, input.reason, cascade)],
  });
}

/** A failed or cancelled task starts over: attempts and review rounds from zero, result cleared. */
export function decideRetry(t: TaskState, actor: string): TaskChange {
  requireStatus(t, ['failed', 'cancelled'], 'only a failed or cancelled task can be retried');
  return change(t, t.openDependencies > 0 ? 'blocked' : 'pending', {
    attempts: 'reset',
    reviewRounds: 'reset',
    runAfterDelayMs: 0,
    result: null,
    error: null,
    events: [events.retried(actor, t.status)],
  });
}

/** Reserved for one agent: it gets the task with its next claim. */
export function decideAssign(t: TaskState, agent: { id: number; name: string }, actor: string): TaskChange {
  requireStatus(t, ['pending', 'assigned'], 'only a pending or assigned task can be assigned');
  return change(t, 'assigned', { assignedTo: agent.id, events: [events.assigned(actor, agent)] });
}

/**
 * Why a lease token no longer fences a task, from the task's status now and the outcome of the
 * attempt that token belonged to (null: no claim of this task was given that token).
 */
export function leaseLostReason(status: TaskStatus, tokenOutcome: AttemptOutcome | null): LeaseLostReason {
  if (tokenOutcome === null) return 'unknown_token';
  if (status === 'cancelled' || tokenOutcome === 'cancelled') return 'cancelled';
  if (tokenOutcome === 'completed' || tokenOutcome === 'submitted_for_review' || tokenOutcome === 'failed')
    return 'finished';
  if (tokenOutcome === 'released') return 'released';
  if (status === 'in_progress') return 'reassigned';
  return 'expired';
}

export function leaseLost(
  taskId: number,
  state: { status: TaskStatus; tokenOutcome: AttemptOutcome | null },
): LeaseLostError {
  return new LeaseLostError(taskId, leaseLostReason(state.status, state.tokenOutcome), state.status);
}
