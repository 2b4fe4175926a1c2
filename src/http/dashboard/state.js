// @ts-check
// What the dashboard remembers between renders: the signed-in user, the recent events, the page on
// screen and a few caches. One object, shared by every module.

import { api } from './api.js';

/** @typedef {import('../../core/types.js').CnsEvent} CnsEvent */

/**
 * A page: its name (the nav entry it lights), how it renders into a container, and optionally
 * what it does with a live event (by default the page re-renders soon).
 * @typedef {object} Page
 * @property {string} name
 * @property {(container: HTMLElement) => Promise<void> | void} render
 * @property {((event: CnsEvent) => void) | undefined} [onEvent]
 */

export const state = {
  /** @type {{ role: string, name: string } | null} once signed in */
  user: null,
  /** @type {CnsEvent[]} the most recent events, newest first (the feed and the overview's activity list) */
  events: [],
  lastEventId: 0,
  /** @type {EventSource | null} */
  source: null,
  /** Bumped on every navigation, so a slow render of a page left behind is dropped. */
  renderSeq: 0,
  rendering: false,
  refreshAgain: false,
  /** @type {ReturnType<typeof setTimeout> | 0} */
  refreshTimer: 0,
  lastRefresh: 0,
  /** @type {Page | null} the page being shown */
  page: null,
  /** @type {Map<number, string>} agent names by id, as last seen (events carry only the id) */
  agentNames: new Map(),
  /**
   * Questions answered (or tried) from the page on screen, by id: `{ error }` (null once answered).
   * They stay in view with their outcome after they leave the open list; cleared on navigation.
   * @type {Map<number, { error: { code: string, message: string } | null }>}
   */
  answering: new Map(),
  /** @type {Map<number, { title: string, workflowId: number | null }>} task titles by id (they never change) */
  taskInfo: new Map(),
  /** @type {ReturnType<typeof setTimeout> | 0} the open-question count in the nav, re-read after the events that change it */
  inboxTimer: 0,
  inboxSeq: 0,
  /** Whether the fleet page shows the agents offline for more than an hour. */
  showOldAgents: false,
};

export const MAX_EVENTS = 300;
/** @type {readonly import('../../core/types.js').QuestionStatus[]} */
export const QUESTION_STATUSES = ['open', 'answered', 'closed'];
/** The events after which the open questions may have changed. */
export const QUESTION_EVENTS = new Set(['task.asked', 'task.answered', 'task.cancelled']);

/** Whether the signed-in user may act (review, answer, cancel…): supervisors and admins. */
export function canSupervise() {
  const role = state.user?.role;
  return role === 'supervisor' || role === 'admin';
}

/** @param {{ id: number, name: string }[]} agents */
export function rememberAgents(agents) {
  for (const a of agents) state.agentNames.set(a.id, a.name);
  return state.agentNames;
}

/** @param {{ id: number, title: string, workflowId: number | null }[]} tasks */
export function rememberTasks(tasks) {
  for (const t of tasks) state.taskInfo.set(t.id, { title: t.title, workflowId: t.workflowId });
}

/**
 * Reads the titles of the tasks not seen yet (a title never changes, so once is enough): many at
 * once with one list of the open tasks, the rest one by one.
 * @param {number[]} ids
 */
export async function loadTaskInfo(ids) {
  let missing = [...new Set(ids)].filter((id) => !state.taskInfo.has(id));
  if (missing.length > 5) {
    const open = await api('/api/tasks?status=pending,assigned,in_progress,blocked&limit=500').catch(
      () => null,
    );
    if (open) rememberTasks(open.items);
    missing = missing.filter((id) => !state.taskInfo.has(id));
  }
  const tasks = await Promise.all(
    missing.map((id) =>
      api(`/api/tasks/${id}?view=task`).then(
        (/** @type {{ task: import('../../core/types.js').Task }} */ r) => r.task,
        () => null,
      ),
    ),
  );
  rememberTasks(tasks.flatMap((t) => (t ? [t] : [])));
}
