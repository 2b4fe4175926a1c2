// @ts-check
// The task board (`#/tasks`): filters by status, search, type, workflow and agent; the task table.

import { api } from '../api.js';
import { h } from '../dom.js';
import { label } from '../format.js';
import { TASK_STATUSES } from '../lifecycle.js';
import { navigateQuietly } from '../router.js';
import { rememberAgents, state } from '../state.js';
import { empty, progressBar, section, statusBadge, taskLink, time, workflowLink } from '../widgets.js';
import { query } from '../format.js';

/** @typedef {import('../../../core/types.js').Task} Task */
/** @typedef {import('../../../core/status.js').TaskStatus} TaskStatus */

/**
 * @param {HTMLElement} c
 * @param {URLSearchParams} params
 */
export async function renderBoard(c, params) {
  const selected = /** @type {TaskStatus[]} */ (
    (params.get('status') ?? '')
      .split(',')
      .filter((s) => /** @type {readonly string[]} */ (TASK_STATUSES).includes(s))
  );
  const search = params.get('search') ?? '';
  const type = params.get('type') ?? '';
  const workflow = params.get('workflow') ?? '';
  const agent = params.get('agent') ?? '';
  const after = params.get('after') ?? '';
  const filter = { status: selected, search, type, workflow, agent, newest: 1, limit: 100, after };
  /** @type {[{ items: Task[], nextCursor: number | null }, import('../../../coordinator/api-types.js').FleetStatus, { agents: import('../../../core/types.js').Agent[] }, { items: import('../../../core/types.js').Workflow[] }]} */
  const [page, status, agents, workflows] = await Promise.all([
    api(`/api/tasks${query(filter)}`),
    api('/api/status?stuck=0'),
    api('/api/agents'),
    api(`/api/workflows${query({ limit: 500 })}`),
  ]);
  const agentNames = rememberAgents(agents.agents);
  const workflowNames = new Map(workflows.items.map((w) => [w.id, w.name]));

  /** @param {Record<string, string | string[]>} changes */
  const setParams = (changes) => {
    const next = new URLSearchParams(params);
    next.delete('after');
    for (const [k, v] of Object.entries(changes)) {
      if (v === '' || v === null || (Array.isArray(v) && v.length === 0)) next.delete(k);
      else next.set(k, Array.isArray(v) ? v.join(',') : v);
    }
    const s = next.toString();
    return `#/tasks${s ? `?${s}` : ''}`;
  };

  c.append(h('div', { class: 'page-head' }, h('h1', null, 'Tasks')));

  const chips = h(
    'div',
    { class: 'chips', role: 'group', 'aria-label': 'filter by status' },
    h('a', { class: `chip${selected.length === 0 ? ' on' : ''}`, href: setParams({ status: [] }) }, 'all'),
    TASK_STATUSES.map((s) => {
      const on = selected.includes(s);
      const next = on ? selected.filter((x) => x !== s) : [...selected, s];
      return h(
        'a',
        {
          class: `chip st-${s}${on ? ' on' : ''}`,
          href: setParams({ status: next }),
          dataset: { status: s },
        },
        h('span', { class: 'dot' }),
        label(s),
        h('span', { class: 'chip-n' }, String(status.counts[s] ?? 0)),
      );
    }),
  );

  // Filled from the address (a link to #/tasks?search=x shows x), kept while typing.
  const searchInput = h('input', {
    type: 'search',
    class: 'search',
    placeholder: 'Search titles…',
    value: search,
    'aria-label': 'search titles',
    dataset: { keep: 'board-search' },
  });
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let searchTimer;
  const boardPage = state.page;
  searchInput.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      if (state.page !== boardPage) return; // navigated away meanwhile
      history.replaceState(null, '', setParams({ search: searchInput.value }));
      navigateQuietly();
    }, 250);
  });

  /** @type {[string, string][]} */
  const active = [];
  if (type) active.push(['type', `type: ${type}`]);
  if (workflow) active.push(['workflow', `workflow #${workflow}`]);
  if (agent) active.push(['agent', `agent: ${agentNames.get(Number(agent)) ?? `#${agent}`}`]);
  c.append(
    h(
      'div',
      { class: 'toolbar' },
      searchInput,
      active.map(([k, text]) =>
        h(
          'a',
          { class: 'chip on removable', href: setParams({ [k]: '' }), title: 'remove this filter' },
          text,
          ' ×',
        ),
      ),
    ),
    chips,
  );

  if (page.items.length === 0) {
    c.append(
      section(
        'No tasks',
        empty(search || selected.length ? 'No task matches these filters.' : 'No tasks yet.'),
      ),
    );
    return;
  }
  c.append(h('div', { class: 'card flush' }, taskTable(page.items, agentNames, { workflowNames })));
  const nav = h('div', { class: 'pager' });
  if (after) nav.append(h('a', { href: setParams({}), class: 'btn btn-quiet' }, '← Newest'));
  if (page.nextCursor !== null) {
    const next = new URLSearchParams(params);
    next.set('after', String(page.nextCursor));
    nav.append(h('a', { href: `#/tasks?${next}`, class: 'btn btn-quiet' }, 'Older →'));
  }
  if (nav.childElementCount) c.append(nav);
}

/**
 * A table of tasks (the board's, a workflow's).
 * @param {Task[]} tasks
 * @param {Map<number, string>} agentNames
 * @param {{ workflowColumn?: boolean, workflowNames?: Map<number, string> }} [options]
 */
export function taskTable(tasks, agentNames, { workflowColumn = true, workflowNames = new Map() } = {}) {
  return h(
    'table',
    { class: 'table tasks' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', { class: 'num' }, '#'),
        h('th', null, 'Status'),
        h('th', null, 'Title'),
        h('th', null, 'Type'),
        workflowColumn ? h('th', null, 'Workflow') : null,
        h('th', null, 'Agent'),
        h('th', null, 'Progress'),
        h('th', null, 'Updated'),
      ),
    ),
    h(
      'tbody',
      null,
      tasks.map((t) => {
        const who =
          t.lease?.agentName ??
          (t.assignedTo !== null ? (agentNames.get(t.assignedTo) ?? `#${t.assignedTo}`) : null);
        // Progress is the running attempt's: shown only while the task is in progress.
        const running = t.status === 'in_progress';
        return h(
          'tr',
          { class: 'task-row', dataset: { task: t.id, status: t.status } },
          h('td', { class: 'num' }, taskLink(t.id)),
          h('td', null, statusBadge(t.status)),
          h(
            'td',
            { class: 'title-cell' },
            h('a', { href: `#/tasks/${t.id}`, class: 'task-title' }, t.title),
            t.ref ? h('span', { class: 'ref' }, t.ref) : null,
            t.review ? h('span', { class: 'tag tag-review', title: 'needs review' }, 'review') : null,
          ),
          h('td', null, h('span', { class: 'type' }, t.type)),
          workflowColumn
            ? h(
                'td',
                { class: 'wf-cell' },
                t.workflowId !== null
                  ? workflowLink(t.workflowId, workflowNames.get(t.workflowId) ?? `#${t.workflowId}`)
                  : h('span', { class: 'muted' }, '—'),
              )
            : null,
          h('td', { class: 'nowrap' }, who ?? h('span', { class: 'muted' }, '—')),
          h(
            'td',
            { class: 'progress-cell' },
            running && t.progress.percent !== null ? progressBar(t.progress.percent) : null,
            running && t.progress.note ? h('span', { class: 'note ellipsis' }, t.progress.note) : null,
          ),
          h('td', null, time(t.updatedAt)),
        );
      }),
    ),
  );
}
