// @ts-check
// The live event feed (`#/events`), and the event list the overview shows.

import { h } from '../dom.js';
import { MAX_EVENTS, state } from '../state.js';
import { clock, statusBadge, taskLink, workflowLink } from '../widgets.js';

/** @typedef {import('../../../core/types.js').CnsEvent} CnsEvent */

/** @param {HTMLElement} c */
export async function renderEvents(c) {
  c.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, 'Events'),
      h('span', { class: 'muted' }, 'every state change and every agent join and leave, live'),
    ),
  );
  const list = eventList(state.events);
  list.id = 'event-feed';
  c.append(h('div', { class: 'card flush' }, list));
  // New events are prepended as they come, without re-rendering the page.
  if (state.page)
    state.page.onEvent = (e) => {
      const feed = document.getElementById('event-feed');
      if (!feed) return;
      feed.querySelector('.empty')?.remove();
      const item = eventItem(e);
      item.classList.add('fresh');
      feed.prepend(item);
      while (feed.childElementCount > MAX_EVENTS) feed.lastElementChild?.remove();
    };
}

/**
 * @param {CnsEvent[]} events
 * @param {{ compact?: boolean }} [options]
 */
export function eventList(events, { compact = false } = {}) {
  const list = h('ol', { class: `events${compact ? ' compact' : ''}` });
  if (events.length === 0) list.append(h('li', { class: 'empty' }, 'No events yet.'));
  for (const e of events) list.append(eventItem(e));
  return list;
}

/** @param {CnsEvent} e */
function eventItem(e) {
  return h(
    'li',
    { class: 'event', dataset: { event: e.id, kind: e.kind } },
    h('span', { class: 'ev-time muted' }, clock(e.at)),
    h('span', { class: `ev-kind k-${e.kind.split('.')[0]}` }, e.kind),
    h(
      'span',
      { class: 'ev-what' },
      e.taskId !== null
        ? taskLink(e.taskId, `task #${e.taskId}`)
        : e.workflowId !== null
          ? workflowLink(e.workflowId)
          : e.agentId !== null
            ? h(
                'span',
                { class: 'ev-agent' },
                'agent ',
                h('strong', null, state.agentNames.get(e.agentId) ?? `#${e.agentId}`),
              )
            : null,
      e.fromStatus && e.fromStatus === e.toStatus
        ? h('span', { class: 'ev-move' }, statusBadge(e.toStatus))
        : e.fromStatus || e.toStatus
          ? h(
              'span',
              { class: 'ev-move' },
              e.fromStatus ? statusBadge(e.fromStatus) : null,
              h('span', { class: 'arrow' }, '→'),
              e.toStatus ? statusBadge(e.toStatus) : null,
            )
          : null,
    ),
    h('span', { class: 'ev-actor' }, h('span', { class: 'muted' }, 'by '), e.actor),
    e.message ? h('span', { class: 'ev-msg' }, e.message) : null,
  );
}
