import type { TaskStatus } from './status.js';

/**
 * The few error types of cns. Each carries data; every front translates them in one place
 * (MCP tool error, HTTP status, CLI exit code).
 */
export type CnsErrorCode =
  | 'not_found'
  | 'invalid_input'
  | 'lease_lost'
  | 'conflict'
  | 'forbidden'
  | 'store_unavailable'
  | 'schema_too_new';

export class CnsError extends Error {
  constructor(
    readonly code: CnsErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotFoundError extends CnsError {
  constructor(
    readonly kind: 'task' | 'agent' | 'workflow' | 'token' | 'question',
    readonly ref: string | number,
  ) {
    super('not_found', `${kind} ${String(ref)} not found`, { kind, ref });
  }
}

export class InvalidInputError extends CnsError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('invalid_input', message, details);
  }
}

/** Why a lease is no longer valid, as far as the store can tell from the task's current row. */
export type LeaseLostReason =
  | 'expired' // the lease ran out and the task went back to the queue (or failed)
  | 'reassigned' // another agent holds it now
  | 'cancelled'
  | 'finished' // the task is completed, failed or awaiting review
  | 'released'
  | 'unknown_token';

/** A write about a task presented a lease token that is not the task's current one. Nothing changed. */
export class LeaseLostError extends CnsError {
  constructor(
    readonly taskId: number,
    readonly reason: LeaseLostReason,
    readonly status: TaskStatus,
  ) {
    super('lease_lost', leaseLostMessage(taskId, reason, status), { taskId, reason, status });
  }
}

function leaseLostMessage(taskId: number, reason: LeaseLostReason, status: TaskStatus): string {
  const why: Record<LeaseLostReason, string> = {
    expired: 'the lease expired (the holder stopped heartbeating) and the task was returned to the queue',
    reassigned: 'the lease expired and another agent holds the task now',
    cancelled: 'the task was cancelled',
    finished: `the task is already ${status}`,
    released: 'the task was released',
    unknown_token: "this token is not the task's current lease (it was never given out for this task)",
  };
  return `lease lost on task ${taskId}: ${why[reason]}; nothing was changed (status is ${status})`;
}

/** The operation is not legal in the task's current state (e.g. completing a pending task, reviewing one's own work). */
export class ConflictError extends CnsError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('conflict', message, details);
  }
}

export class ForbiddenError extends CnsError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('forbidden', message, details);
  }
}
