/**
 * The task lifecycle: the one definition of the statuses, the moves each operation makes and the
 * actions a person may take in each status. Everything else is derived from it or checked against
 * it: `TRANSITIONS` below, the decisions of src/coordinator/lifecycle.ts (test/lifecycle.test.ts),
 * the backends' CHECK constraints and transition triggers (test/state-machine.test.ts reads them back
 * from each database), the dashboard's buttons (`allowedActions`, served with every task) and the
 * workflow status (core/derive.ts); test/state-machine.test.ts also checks this file against itself.
 * docs/architecture.md draws it by hand.
 *
 *                                              ┌─ask─▶ waiting_input ──answer──▶ pending
 *   blocked ──deps done──▶ pending ──claim──▶ in_progress ──complete──▶ completed
 *                            │  ▲                 │   └─review─▶ awaiting_review ──approve──▶ completed
 *                     assign ▼  │ release/expire  │                  │ request changes ──▶ pending
 *                          assigned ──claim───────┘
 *   any open ──cancel──▶ cancelled        fail / attempts exhausted ──▶ failed
 *   failed | cancelled ──retry──▶ pending | blocked
 */
export const TASK_STATUSES = [
  'blocked',
  'pending',
  'assigned',
  'in_progress',
  'waiting_input',
  'awaiting_review',
  'completed',
  'failed',
  'cancelled',
] as const;

export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Final: the task never changes again except by an explicit retry. */
export const FINAL_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];

/** Open: not final (the work is still to be done, or decided). */
export const OPEN_STATUSES: readonly TaskStatus[] = TASK_STATUSES.filter((s) => !FINAL_STATUSES.includes(s));

export function isFinal(status: TaskStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

export function isTaskStatus(value: string): value is TaskStatus {
  return (TASK_STATUSES as readonly string[]).includes(value);
}

/** The operations that change a task's status. */
export type TaskOperation =
  | 'unblock'
  | 'assign'
  | 'claim'
  | 'complete'
  | 'fail'
  | 'release'
  | 'expire'
  | 'ask'
  | 'answer'
  | 'approve'
  | 'request_changes'
  | 'cancel'
  | 'retry';

/** Every move each operation may make, as [from, to]. The only source of legal transitions. */
export const MOVES: Readonly<Record<TaskOperation, readonly (readonly [TaskStatus, TaskStatus])[]>> = {
  unblock: [['blocked', 'pending']],
  assign: [
    ['pending', 'assigned'],
    ['assigned', 'assigned'],
  ],
  claim: [
    ['pending', 'in_progress'],
    ['assigned', 'in_progress'],
  ],
  complete: [
    ['in_progress', 'completed'],
    ['in_progress', 'awaiting_review'],
  ],
  fail: [
    ['in_progress', 'pending'],
    ['in_progress', 'failed'],
  ],
  release: [['in_progress', 'pending']],
  expire: [
    ['in_progress', 'pending'],
    ['in_progress', 'failed'],
  ],
  ask: [['in_progress', 'waiting_input']],
  answer: [['waiting_input', 'pending']],
  approve: [['awaiting_review', 'completed']],
  request_changes: [
    ['awaiting_review', 'pending'],
    ['awaiting_review', 'failed'],
  ],
  cancel: OPEN_STATUSES.map((s) => [s, 'cancelled'] as const),
  retry: [
    ['failed', 'pending'],
    ['failed', 'blocked'],
    ['cancelled', 'pending'],
    ['cancelled', 'blocked'],
  ],
};

/** Legal transitions (a status to a different one): from → the statuses it may move to. */
export const TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = Object.fromEntries(
  TASK_STATUSES.map((from) => [
    from,
    TASK_STATUSES.filter((to) =>
      Object.values(MOVES).some((moves) => moves.some(([f, t]) => f === from && t === to && f !== t)),
    ),
  ]),
) as unknown as Record<TaskStatus, readonly TaskStatus[]>;

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** What a supervisor or a person may do to a task (the agent's own writes need its lease). */
export type TaskAction = 'assign' | 'answer' | 'approve' | 'request_changes' | 'cancel' | 'retry';

const ACTION_OPERATIONS: Readonly<Record<TaskAction, TaskOperation>> = {
  assign: 'assign',
  answer: 'answer',
  approve: 'approve',
  request_changes: 'request_changes',
  cancel: 'cancel',
  retry: 'retry',
};

/** The actions a task in this status allows: those whose operation may move it. */
export function allowedActions(status: TaskStatus): TaskAction[] {
  return (Object.keys(ACTION_OPERATIONS) as TaskAction[]).filter((action) =>
    MOVES[ACTION_OPERATIONS[action]].some(([from]) => from === status),
  );
}
