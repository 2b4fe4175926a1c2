// @ts-check
// Small pieces of page shared by every page: times, badges, links, blocks of text, bars.

import { h } from './dom.js';
import { ago, label } from './format.js';
import { TASK_STATUSES } from './lifecycle.js';

/** @typedef {import('./dom.js').Child} Child */
/** @typedef {import('../../core/status.js').TaskStatus} TaskStatus */

/**
 * A relative time that keeps itself current (see the ticker), with the absolute time on hover.
 * @param {number | null | undefined} at
 */
export function time(at) {
  if (at === null || at === undefined) return h('span', { class: 'muted' }, '—');
  return h(
    'time',
    { datetime: new Date(at).toISOString(), title: new Date(at).toLocaleString(), dataset: { at } },
    ago(at),
  );
}

/**
 * The time of day (with the date when it is not today), for logs.
 * @param {number} at
 */
export function clock(at) {
  const d = new Date(at);
  const today = d.toDateString() === new Date().toDateString();
  const text = today
    ? d.toLocaleTimeString()
    : d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() }, text);
}

/** @param {string} status a task's or a workflow's */
export function statusBadge(status) {
  return h('span', { class: `badge st-${status}`, dataset: { status } }, label(status));
}

/** @param {string} status an agent's */
export function agentBadge(status) {
  return h('span', { class: `badge ag-${status}` }, status);
}

/**
 * @param {number} id
 * @param {Child} [text]
 */
export function taskLink(id, text) {
  return h('a', { href: `#/tasks/${Number(id)}`, class: 'tasklink' }, text ?? `#${id}`);
}

/**
 * @param {number} id
 * @param {Child} [text]
 */
export function workflowLink(id, text) {
  return h('a', { href: `#/workflows/${Number(id)}` }, text ?? `workflow #${id}`);
}

/**
 * @param {number} id
 * @param {Child} [text]
 */
export function questionLink(id, text) {
  return h('a', { href: `#/questions/${Number(id)}`, class: 'qlink' }, text ?? `question #${id}`);
}

/** @param {string[] | null | undefined} list */
export function tags(list) {
  if (!list || list.length === 0) return h('span', { class: 'muted' }, '—');
  return h(
    'span',
    { class: 'tags' },
    list.map((t) => h('span', { class: 'tag' }, t)),
  );
}

/** @param {unknown} value */
export function json(value) {
  return h('pre', { class: 'block json' }, JSON.stringify(value, null, 2));
}

/**
 * @param {string} text
 * @param {string} [cls]
 */
export function textBlock(text, cls = '') {
  return h('pre', { class: `block text ${cls}` }, text);
}

/** @param {Child[]} text */
export function empty(...text) {
  return h('p', { class: 'empty' }, ...text);
}

/**
 * @param {Child} title
 * @param {Child[]} children
 */
export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', null, title), ...children);
}

/**
 * A collapsible block whose open state survives re-renders.
 * @param {Child} summary
 * @param {Child} body
 * @param {string} key
 * @param {boolean} [open]
 */
export function details(summary, body, key, open = false) {
  return h('details', { dataset: { keep: `details-${key}` }, open }, h('summary', null, summary), body);
}

/** @param {number | null | undefined} percent */
export function progressBar(percent) {
  const p = Math.max(0, Math.min(100, Number(percent) || 0));
  const bar = h('span', { class: 'bar-fill' });
  bar.style.width = `${p}%`;
  return h('span', { class: 'bar', title: `${p}%` }, bar);
}

/**
 * A bar split by status: how far a set of tasks has come.
 * @param {Partial<Record<TaskStatus, number>>} counts
 */
export function countsBar(counts) {
  const total = TASK_STATUSES.reduce((n, s) => n + (counts[s] ?? 0), 0);
  const bar = h('span', { class: 'stack', title: countsTitle(counts) });
  if (total === 0) return bar;
  for (const s of TASK_STATUSES) {
    const n = counts[s] ?? 0;
    if (n === 0) continue;
    const part = h('span', { class: `stack-part st-${s}` });
    part.style.flexGrow = String(n);
    bar.append(part);
  }
  return bar;
}

/** @param {Partial<Record<TaskStatus, number>>} counts */
function countsTitle(counts) {
  return TASK_STATUSES.filter((s) => counts[s])
    .map((s) => `${counts[s]} ${label(s)}`)
    .join(', ');
}

/** The colours of the statuses, as the graph and the lists use them. */
export function legend() {
  return h(
    'div',
    { class: 'legend' },
    TASK_STATUSES.map((s) =>
      h(
        'span',
        { class: `legend-item st-${s}`, dataset: { status: s } },
        h('span', { class: 'dot' }),
        label(s),
      ),
    ),
  );
}

/** @param {unknown} err */
export function errorBox(err) {
  const e = /** @type {{ code?: string, message?: string }} */ (err ?? {});
  return h(
    'div',
    { class: 'alert', role: 'alert' },
    h('strong', null, e.code ? `${e.code}: ` : 'error: '),
    e.message ?? String(err),
  );
}
