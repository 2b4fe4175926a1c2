import { OPEN_STATUSES, type TaskStatus } from './status.js';
import type { AgentStatus, Millis, WorkflowStatus } from './types.js';

/** An agent is offline when deregistered or silent for longer than `offlineAfterMs`; working when it holds a task. */
export function deriveAgentStatus(
  a: { lastHeartbeatAt: Millis; deregisteredAt: Millis | null; heldCount: number },
  now: Millis,
  offlineAfterMs: Millis,
): AgentStatus {
  if (a.deregisteredAt !== null || now - a.lastHeartbeatAt > offlineAfterMs) return 'offline';
  return a.heldCount > 0 ? 'working' : 'idle';
}

/**
 * A workflow is done when all its tasks are final; it waits on review when only reviews remain.
 * Every other open status (core/status.ts OPEN_STATUSES, whatever statuses are added) keeps it running.
 */
export function deriveWorkflowStatus(counts: Partial<Record<TaskStatus, number>>): WorkflowStatus {
  const c = (s: TaskStatus) => counts[s] ?? 0;
  const open = OPEN_STATUSES.filter((s) => s !== 'awaiting_review').reduce((n, s) => n + c(s), 0);
  if (open > 0) return 'running';
  if (c('awaiting_review') > 0) return 'awaiting_review';
  if (c('failed') > 0) return 'failed';
  if (c('cancelled') > 0) return 'cancelled';
  return 'completed';
}
