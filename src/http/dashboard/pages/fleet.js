// @ts-check
// The fleet overview (`#/`): counts by status, the agents, what is stuck, the workflows, activity.

import { api } from '../api.js';
import { h } from '../dom.js';
import { label, plural, query } from '../format.js';
import { TASK_STATUSES } from '../lifecycle.js';
import { setInboxCount } from '../live.js';
import { groupByReason, explanationNode } from '../explain.js';
import { loadTaskInfo, rememberAgents, rememberTasks, state } from '../state.js';
import {
  agentBadge,
  countsBar,
  details,
  empty,
  section,
  statusBadge,
  tags,
  taskLink,
  time,
  workflowLink,
} from '../widgets.js';
import { eventList } from './events.js';

/** @typedef {import('../../../coordinator/api-types.js').FleetStatus} FleetStatus */
/** @typedef {import('../../../core/types.js').Agent} Agent */
/** @typedef {import('../../../core/types.js').Task} Task */
/** @typedef {import('../../../core/types.js').Workflow} Workflow */

/** Agents offline for longer than this are folded away on the overview. */
export const RECENTLY_OFFLINE_MS = 60 * 60 * 1000;
/** How many stuck tasks the overview asks to have explained (the count covers them all). */
const STUCK_LISTED = 100;
/** Tasks shown per group of stuck tasks before "and N more". */
const GROUP_SHOWN = 5;

/** @param {HTMLElement} c */
export async function renderFleet(c) {
  /** @type {[FleetStatus, { items: Task[] }, { items: Workflow[] }]} */
  const [status, active, workflows] = await Promise.all([
    api(`/api/status${query({ stuck: STUCK_LISTED })}`),
    api(`/api/tasks${query({ status: ['assigned', 'in_progress'], limit: 500 })}`),
    api(`/api/workflows${query({ limit: 100 })}`),
  ]);
  rememberTasks(active.items);
  rememberAgents(status.agents);
  await loadTaskInfo(status.stuck.map((ex) => ex.taskId));
  const total = TASK_STATUSES.reduce((n, s) => n + (status.counts[s] ?? 0), 0);
  const openQuestions = status.openQuestions ?? status.counts.waiting_input ?? 0;
  setInboxCount(openQuestions);

  c.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, 'Fleet'),
      h('span', { class: 'muted' }, `${status.backend} · ${plural(total, 'task')}`),
    ),
  );

  c.append(
    h(
      'div',
      { class: 'counts' },
      TASK_STATUSES.map((s) =>
        h(
          'a',
          { class: `count st-${s}${status.counts[s] ? '' : ' zero'}`, href: `#/tasks?status=${s}` },
          h('span', { class: 'count-n' }, String(status.counts[s] ?? 0)),
          h('span', { class: 'count-label' }, label(s)),
        ),
      ),
      h(
        'a',
        {
          class: `count count-questions st-waiting_input${openQuestions ? ' hot' : ' zero'}`,
          href: '#/questions',
          id: 'fleet-questions',
          title: 'questions agents asked, waiting for an answer',
        },
        h('span', { class: 'count-n' }, String(openQuestions)),
        h('span', { class: 'count-label' }, `open question${openQuestions === 1 ? '' : 's'} →`),
      ),
    ),
  );

  c.append(agentsSection(status.agents, status.at));

  const grid = h('div', { class: 'grid2' });
  grid.append(stuckSection(status));
  const wfs = [...workflows.items].reverse().slice(0, 8);
  grid.append(
    section(
      'Workflows',
      wfs.length === 0
        ? empty('No workflows yet.')
        : h(
            'ul',
            { class: 'wf-list' },
            wfs.map((w) =>
              h(
                'li',
                null,
                h('div', { class: 'wf-line' }, workflowLink(w.id, w.name), statusBadge(w.status)),
                countsBar(w.counts),
              ),
            ),
          ),
      h('p', null, h('a', { href: '#/workflows', class: 'more' }, 'All workflows →')),
    ),
  );
  c.append(grid);

  c.append(
    section(
      'Recent activity',
      eventList(state.events.slice(0, 12), { compact: true }),
      h('p', null, h('a', { href: '#/events', class: 'more' }, 'Live event feed →')),
    ),
  );
}

/** @param {string} s */
function agentOrder(s) {
  return s === 'working' ? 0 : s === 'idle' ? 1 : 2;
}

/**
 * When an offline agent was last heard of (its sign-off, or its last heartbeat).
 * @param {Agent} a
 */
function offlineSince(a) {
  return a.deregisteredAt ?? a.lastHeartbeatAt;
}

/**
 * The live agents and those offline for less than an hour; the older offline ones are folded
 * behind a toggle (they stay registered until someone forgets them).
 * @param {Agent[]} all
 * @param {number} now the server's time
 */
function agentsSection(all, now) {
  const agents = [...all].sort(
    (a, b) =>
      agentOrder(a.status) - agentOrder(b.status) ||
      (a.status === 'offline' ? offlineSince(b) - offlineSince(a) : 0) ||
      a.name.localeCompare(b.name),
  );
  const live = agents.filter((a) => a.status !== 'offline').length;
  const old = agents.filter((a) => a.status === 'offline' && now - offlineSince(a) > RECENTLY_OFFLINE_MS);
  const oldSet = new Set(old);
  if (agents.length === 0) {
    return section(
      'Agents · none',
      empty(
        'No agent has registered yet. Start one with ',
        h('code', null, 'cns mcp --role agent --type <type>'),
        '.',
      ),
    );
  }
  const rows = agents.map((a) => {
    const row = agentRow(a);
    if (oldSet.has(a)) {
      row.classList.add('agent-old');
      row.hidden = !state.showOldAgents;
    }
    return row;
  });
  const toggle =
    old.length === 0
      ? null
      : h('button', {
          type: 'button',
          class: 'btn btn-quiet older-toggle',
          id: 'older-agents',
          'aria-expanded': String(state.showOldAgents),
        });
  const setToggle = () => {
    if (!toggle) return;
    toggle.textContent = state.showOldAgents
      ? `Hide the ${plural(old.length, 'older offline agent')}`
      : `${plural(old.length, 'older offline agent')} (offline for more than an hour)`;
    toggle.setAttribute('aria-expanded', String(state.showOldAgents));
  };
  setToggle();
  toggle?.addEventListener('click', () => {
    state.showOldAgents = !state.showOldAgents;
    for (const row of rows) if (row.classList.contains('agent-old')) row.hidden = !state.showOldAgents;
    setToggle();
  });
  return section(
    `Agents · ${live} live of ${agents.length}`,
    h(
      'table',
      { class: 'table agents' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ['Agent', 'Status', 'Type', 'Capabilities', 'Heartbeat', 'Working on'].map((t) => h('th', null, t)),
        ),
      ),
      h('tbody', null, rows),
    ),
    toggle ? h('p', { class: 'older' }, toggle) : null,
  );
}

/** @param {Agent} a */
function agentRow(a) {
  return h(
    'tr',
    { class: `agent ag-row-${a.status}`, dataset: { agent: a.name } },
    h(
      'td',
      null,
      h('span', { class: `dot ag-${a.status}` }),
      h('a', { href: `#/tasks${query({ agent: a.id })}`, class: 'agent-name' }, a.name),
      a.host ? h('span', { class: 'muted small' }, ` ${a.host}${a.pid ? `:${a.pid}` : ''}`) : null,
    ),
    h('td', null, agentBadge(a.status)),
    h('td', null, h('span', { class: 'type' }, a.type)),
    h('td', null, tags(a.capabilities)),
    h(
      'td',
      null,
      a.deregisteredAt
        ? h('span', { class: 'muted' }, 'signed off ', time(a.deregisteredAt))
        : time(a.lastHeartbeatAt),
    ),
    h(
      'td',
      { class: 'working-on' },
      a.heldTasks.length === 0
        ? h('span', { class: 'muted' }, '—')
        : a.heldTasks.map((id) =>
            h(
              'div',
              null,
              taskLink(id),
              ' ',
              h('span', { class: 'ellipsis' }, state.taskInfo.get(id)?.title ?? ''),
            ),
          ),
    ),
  );
}

/**
 * The tasks that are not moving: the true count, and the listed ones grouped by the same reason.
 * @param {FleetStatus} status
 */
function stuckSection(status) {
  const total = status.stuckTotal ?? status.stuck.length;
  const exact = status.stuckTotalExact ?? true;
  const heading = h(
    'span',
    { id: 'stuck-count', title: exact ? '' : 'there are too many open tasks to examine them all' },
    exact ? String(total) : `at least ${total}`,
  );
  if (status.stuck.length === 0) return section(['Stuck · ', heading], empty('Nothing is stuck.'));
  const groups = groupByReason(status.stuck);
  const listed = status.stuck.length;
  return section(
    ['Stuck · ', heading],
    h(
      'ul',
      { class: 'stuck' },
      groups.map((g) => {
        const taskLine = (/** @type {number} */ id) =>
          h(
            'li',
            { class: 'stuck-task', dataset: { task: id } },
            taskLink(id),
            ' ',
            h('span', { class: 'stuck-title' }, state.taskInfo.get(id)?.title ?? ''),
          );
        const shown = g.taskIds.slice(0, GROUP_SHOWN);
        const rest = g.taskIds.slice(GROUP_SHOWN);
        return h(
          'li',
          { class: 'stuck-group', dataset: { count: g.taskIds.length } },
          h(
            'div',
            { class: 'stuck-reason' },
            statusBadge(g.explanation.status),
            g.taskIds.length > 1
              ? h(
                  'span',
                  { class: 'stuck-n', title: `${g.taskIds.length} tasks for the same reason` },
                  `× ${g.taskIds.length}`,
                )
              : null,
            h('span', { class: 'explain-text' }, explanationNode(g.explanation)),
          ),
          h('ul', { class: 'stuck-tasks' }, shown.map(taskLine)),
          rest.length > 0
            ? details(
                `and ${rest.length} more`,
                h('ul', { class: 'stuck-tasks' }, rest.map(taskLine)),
                `stuck-${g.key}`,
              )
            : null,
        );
      }),
    ),
    listed < total
      ? h(
          'p',
          { class: 'muted small', id: 'stuck-more' },
          `The first ${listed} of ${exact ? total : `at least ${total}`} are listed.`,
        )
      : null,
  );
}
