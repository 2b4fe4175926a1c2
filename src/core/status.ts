/**
 * The task lifecycle. This table is the single source of truth for legal transitions: the
 * backends' CHECK constraints and `docs/architecture.md` mirror it, and a test compares them.
 *
 *   blocked ──deps done──▶ pending ──claim──▶ in_progress ──complete──▶ completed
 *                            │  ▲                 │   └─review─▶ awaiting_review ──approve──▶ completed
 *                     assign ▼  │ release/expire  │                  │ request changes ──▶ pending
 *                          assigned ──claim───────┘
 *   any non-final ──cancel──▶ cancelled        fail / attempts exhausted ──▶ failed
 *   failed | cancelled ──retry──▶ pending | blocked
 */
export const TASK_STATUSES = [
  'blocked',
  'pending',
  'assigned',
  'in_progress',
  'awaiting_review',
  'completed',
  'failed',
  'cancelled',
] as const;

export type TaskStatus = (typeof TASK_STATUSES)[number];

export const FINAL_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];

export function isFinal(status: TaskStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

export function isTaskStatus(value: string): value is TaskStatus {
  return (TASK_STATUSES as readonly string[]).includes(value);
}

/** Legal transitions: from → the statuses it may move to. */
export const TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  blocked: ['pending', 'cancelled'],
  pending: ['assigned', 'in_progress', 'blocked', 'cancelled', 'failed'],
  assigned: ['in_progress', 'pending', 'cancelled'],
  in_progress: ['completed', 'awaiting_review', 'pending', 'failed', 'cancelled'],
  awaiting_review: ['completed', 'pending', 'failed', 'cancelled'],
  completed: ['pending', 'blocked'],
  failed: ['pending', 'blocked'],
  cancelled: ['pending', 'blocked'],
};

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TRANSITIONS[from].includes(to);
}
