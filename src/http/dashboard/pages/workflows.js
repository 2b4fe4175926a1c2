// @ts-check
// The workflows (`#/workflows`) and one workflow (`#/workflows/3`): its graph and its tasks.

import { api } from '../api.js';
import { h } from '../dom.js';
import { query } from '../format.js';
import { dependencyGraph } from '../graph.js';
import { rememberAgents } from '../state.js';
import { countsBar, empty, legend, section, statusBadge, time, workflowLink } from '../widgets.js';
import { taskTable } from './tasks.js';

/** @typedef {import('../../../core/types.js').Workflow} Workflow */
/** @typedef {import('../../../core/types.js').Task} Task */

/** @param {HTMLElement} c */
export async function renderWorkflows(c) {
  /** @type {{ items: Workflow[] }} */
  const page = await api(`/api/workflows${query({ limit: 200 })}`);
  c.append(h('div', { class: 'page-head' }, h('h1', null, 'Workflows')));
  if (page.items.length === 0) {
    c.append(section('No workflows', empty('Workflows group tasks with dependencies. None yet.')));
    return;
  }
  c.append(
    h(
      'div',
      { class: 'card flush' },
      h(
        'table',
        { class: 'table' },
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ['#', 'Name', 'Status', 'Progress', 'Tasks', 'Created'].map((t) => h('th', null, t)),
          ),
        ),
        h(
          'tbody',
          null,
          [...page.items].reverse().map((w) => {
            const total = Object.values(w.counts).reduce((n, x) => n + x, 0);
            return h(
              'tr',
              null,
              h('td', { class: 'num' }, workflowLink(w.id, `#${w.id}`)),
              h('td', null, workflowLink(w.id, w.name)),
              h('td', null, statusBadge(w.status)),
              h('td', { class: 'wide' }, countsBar(w.counts)),
              h('td', null, `${w.counts.completed ?? 0} / ${total}`),
              h('td', null, time(w.createdAt)),
            );
          }),
        ),
      ),
    ),
  );
}

/**
 * @param {HTMLElement} c
 * @param {number} id
 */
export async function renderWorkflow(c, id) {
  /** @type {[{ workflow: Workflow, tasks: Task[] }, { agents: import('../../../core/types.js').Agent[] }]} */
  const [{ workflow, tasks }, agents] = await Promise.all([api(`/api/workflows/${id}`), api('/api/agents')]);
  const agentNames = rememberAgents(agents.agents);
  const total = tasks.length;
  c.append(
    h('nav', { class: 'crumbs' }, h('a', { href: '#/workflows' }, 'Workflows'), ` / #${workflow.id}`),
    h(
      'div',
      { class: 'page-head' },
      h('h1', { id: 'workflow-name' }, workflow.name),
      statusBadge(workflow.status),
      h(
        'span',
        { class: 'muted' },
        `${workflow.counts.completed ?? 0} of ${total} completed · created `,
        time(workflow.createdAt),
        workflow.createdBy ? ` by ${workflow.createdBy}` : '',
      ),
    ),
    h('div', { class: 'wf-bar' }, countsBar(workflow.counts)),
  );
  c.append(
    h(
      'section',
      { class: 'card graph-card' },
      h('h2', null, 'Dependency graph'),
      dependencyGraph(tasks),
      legend(),
    ),
  );
  c.append(h('div', { class: 'card flush' }, taskTable(tasks, agentNames, { workflowColumn: false })));
}
