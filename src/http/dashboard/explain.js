// @ts-check
// Why a task is not moving, from the server's explanation (src/coordinator/explain.ts).

import { h } from './dom.js';
import { label } from './format.js';
import { questionLink, taskLink, time } from './widgets.js';

/** @typedef {import('../../coordinator/explain.js').Explanation} Explanation */
/** @typedef {import('../../coordinator/explain.js').Reason} Reason */
/** @typedef {import('./dom.js').Child} Child */

/**
 * Why a task is not moving, from the explanation's reasons (falls back to its summary).
 * @param {Explanation} ex
 * @returns {Child}
 */
export function explanationNode(ex) {
  const parts = ex.reasons.map(reasonNode);
  if (parts.length === 0 || parts.includes(null)) return ex.summary.replace(/^task \d+ is [a-z_]+: /, '');
  return parts.map((p, i) => [i ? '; ' : '', p]);
}

/**
 * @param {Reason} r
 * @returns {Child}
 */
function reasonNode(r) {
  switch (r.code) {
    case 'final':
      return `it is ${label(r.status)}: final (retry it to run it again)`;
    case 'blocked_by':
      return r.tasks.length === 0
        ? 'blocked, but every dependency is completed: it will be unblocked shortly'
        : [
            'blocked by ',
            r.tasks.map((t, i) => [i ? ', ' : '', taskLink(t.id), ' ', t.title, ' (', label(t.status), ')']),
          ];
    case 'scheduled':
      return ['scheduled: not claimable until ', time(r.at)];
    case 'no_live_agent':
      return r.requires.length === 0
        ? `no live agent of type "${r.type}"`
        : `no live agent of type "${r.type}" with capabilities ${r.requires.join(', ')}` +
            (r.agentsOfType > 0 ? ` (${r.agentsOfType} live agent(s) of that type lack them)` : '');
    case 'agents_busy':
      return `waiting for a free agent: ${r.liveAgents} live agent(s) of type "${r.type}" can take it; ${r.ahead} task(s) ahead of it`;
    case 'assigned':
      return [
        'assigned to ',
        h('strong', null, r.agent),
        ` (${r.agentStatus}), waiting for it to take the task`,
      ];
    case 'held':
      return [
        'held by ',
        h('strong', null, r.agent),
        ` (${r.agentStatus}); lease ends `,
        time(r.until),
        r.expired ? ' — it has expired: the reaper will return the task to the queue' : '',
      ];
    case 'awaiting_review':
      return [
        'awaiting review since ',
        time(r.since),
        r.author ? ` — written by ${r.author}, who cannot approve it` : '',
      ];
    case 'waiting_input':
      return [
        'waiting for an answer from ',
        h('strong', null, r.from),
        ' since ',
        time(r.since),
        ': ',
        r.askedBy,
        ' asked ',
        questionLink(r.questionId),
      ];
    case 'kept_for':
      return [
        'kept for ',
        h('strong', null, r.agent),
        ', who asked about it, until ',
        time(r.until),
        '; then any agent of its type may take it',
      ];
    default:
      return null;
  }
}

/**
 * Stuck tasks grouped by the same reasons (120 tasks with no live agent of their type are one line
 * with a count), the largest group first.
 * @param {Explanation[]} stuck
 * @returns {{ key: string, explanation: Explanation, taskIds: number[] }[]}
 */
export function groupByReason(stuck) {
  /** @type {Map<string, { key: string, explanation: Explanation, taskIds: number[] }>} */
  const groups = new Map();
  for (const ex of stuck) {
    const key = JSON.stringify([ex.status, ex.reasons]);
    const group = groups.get(key);
    if (group) group.taskIds.push(ex.taskId);
    else groups.set(key, { key, explanation: ex, taskIds: [ex.taskId] });
  }
  return [...groups.values()].sort((a, b) => b.taskIds.length - a.taskIds.length);
}
