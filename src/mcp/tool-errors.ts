import type { CallToolResult } from '@modelcontextprotocol/server';
import {
  CnsError,
  ConflictError,
  ForbiddenError,
  InvalidInputError,
  LeaseLostError,
  NotFoundError,
} from '../core/errors.js';

/**
 * The one place where the MCP front turns errors into tool results: `isError: true` and a text
 * that says what happened and what to do next, in words a model acts on. Unexpected errors are
 * logged (stderr) and reported as cns's fault, not the caller's.
 */
export function toolError(err: unknown, log: (message: string) => void = () => {}): CallToolResult {
  const { code, message, next } = describeError(err, log);
  return {
    isError: true,
    content: [{ type: 'text', text: `Error (${code}): ${message}\nWhat to do: ${next}` }],
  };
}

interface DescribedError {
  code: string;
  message: string;
  next: string;
}

export function describeError(err: unknown, log: (message: string) => void = () => {}): DescribedError {
  if (err instanceof LeaseLostError) {
    const id = err.taskId;
    switch (err.reason) {
      case 'cancelled':
        return {
          code: 'task_cancelled',
          message: `task ${id} was cancelled (by a supervisor); nothing you sent was recorded.`,
          next: `STOP working on task ${id} now: do not complete it or report on it again. Call task_next for your next task.`,
        };
      case 'expired':
      case 'reassigned':
        return {
          code: 'lease_lost',
          message:
            `that task's lease was lost: task ${id} was re-assigned after your process stopped heartbeating ` +
            `(it is ${err.status} now); nothing you sent was recorded.`,
          next: `Stop working on task ${id}; another agent may be doing it now. Call task_next for your next task.`,
        };
      case 'finished':
        return {
          code: 'already_finished',
          message: `task ${id} is already ${err.status}; nothing was changed.`,
          next: `Nothing more to do for task ${id}. Call task_next for your next task.`,
        };
      case 'released':
        return {
          code: 'lease_lost',
          message: `task ${id} was released and is no longer yours (it is ${err.status}); nothing was changed.`,
          next: `Stop working on task ${id}. Call task_next to take a task.`,
        };
      default:
        return {
          code: 'lease_lost',
          message: `${err.message}.`,
          next: `Stop working on task ${id}. Call task_next to take a task.`,
        };
    }
  }
  if (err instanceof NotFoundError) {
    const what = err.kind === 'workflow' ? 'workflow' : err.kind;
    return {
      code: 'not_found',
      message: `${err.message}.`,
      next:
        what === 'task'
          ? 'Check the id: use the id task_next or task_create gave you, or find it with task_list.'
          : what === 'workflow'
            ? 'Check the workflow id: workflow_create returned it; task_list rows show workflowId.'
            : 'Check the name or id (fleet_status lists the agents).',
    };
  }
  if (err instanceof InvalidInputError) {
    return {
      code: 'invalid_input',
      message: `${err.message}.`,
      next: 'Fix the arguments and call the tool again.',
    };
  }
  if (err instanceof ConflictError) {
    const id = typeof err.details.taskId === 'number' ? err.details.taskId : null;
    return {
      code: 'conflict',
      message: `${err.message}.`,
      next:
        id !== null
          ? `The task's current state does not allow this. Call task_get with {"task_id": ${id}} to see its status and history, then decide.`
          : 'The current state does not allow this. Look at it first (task_get, task_list) and decide.',
    };
  }
  if (err instanceof ForbiddenError) {
    return {
      code: 'forbidden',
      message: `${err.message}.`,
      next:
        typeof err.details.next === 'string'
          ? err.details.next
          : 'This is not allowed for you; do something else.',
    };
  }
  if (err instanceof CnsError) {
    return {
      code: err.code,
      message: `${err.message}.`,
      next: 'Retry once in a little while; if it fails again, tell a person.',
    };
  }
  const text = err instanceof Error ? err.message : String(err);
  log(`cns mcp: unexpected error: ${err instanceof Error && err.stack ? err.stack : text}`);
  return {
    code: 'internal',
    message: `cns failed unexpectedly: ${text}. This is a problem in cns, not in your arguments.`,
    next: 'Retry once; if it fails again, tell a person (the details are in the cns mcp log on stderr).',
  };
}
