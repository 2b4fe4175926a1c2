// @ts-check
// Live updates: the server-sent event stream (/api/events/stream), the open-question count in the
// nav, and the ticker that keeps relative times current.

import { api, statusOf } from './api.js';
import { ago, query } from './format.js';
import { scheduleRefresh } from './router.js';
import { MAX_EVENTS, QUESTION_EVENTS, state } from './state.js';

/** @typedef {import('../../core/types.js').CnsEvent} CnsEvent */

/** The newest events, read once after signing in (the stream continues from the last). */
export async function loadRecentEvents() {
  try {
    /** @type {{ events: CnsEvent[] }} */
    const { events } = await api(`/api/events${query({ newest: 1, limit: 100 })}`);
    const sorted = [...events].sort((a, b) => b.id - a.id);
    state.events = sorted;
    state.lastEventId = sorted[0]?.id ?? 0;
  } catch (err) {
    if (statusOf(err) === 401) throw err;
    state.events = [];
  }
}

export function connectStream() {
  disconnectStream();
  const source = new EventSource(`/api/events/stream${query({ after: state.lastEventId })}`);
  state.source = source;
  setLive('connecting');
  source.addEventListener('open', () => setLive('live'));
  source.addEventListener('cns', (msg) => {
    /** @type {CnsEvent} */
    let event;
    try {
      event = JSON.parse(/** @type {MessageEvent<string>} */ (msg).data);
    } catch {
      return;
    }
    if (typeof event?.id !== 'number' || event.id <= state.lastEventId) return;
    state.lastEventId = event.id;
    state.events.unshift(event);
    if (state.events.length > MAX_EVENTS) state.events.length = MAX_EVENTS;
    if (QUESTION_EVENTS.has(event.kind)) scheduleInboxCount();
    if (state.page?.onEvent) state.page.onEvent(event);
    else scheduleRefresh();
  });
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) {
      setLive('offline');
      // Closed for good (e.g. the session ended): find out why, and reconnect if still signed in.
      setTimeout(async () => {
        if (state.source !== source) return;
        try {
          await api('/api/whoami');
          connectStream();
        } catch {
          /* signed out, or the server is down: the next attempt comes from the ticker */
        }
      }, 3000);
    } else {
      setLive('reconnecting');
    }
  });
}

export function disconnectStream() {
  if (state.source) state.source.close();
  state.source = null;
}

/** @param {'connecting' | 'live' | 'offline' | 'reconnecting'} mode */
function setLive(mode) {
  const el = /** @type {HTMLElement} */ (document.getElementById('live'));
  el.className = `live live-${mode}`;
  el.textContent = mode;
  el.title = mode === 'live' ? 'receiving live updates' : 'live updates are not flowing';
}

/**
 * Re-reads the open-question count soon (one read covers a burst of events).
 * @param {number} [delay]
 */
export function scheduleInboxCount(delay = 150) {
  if (state.inboxTimer) return;
  state.inboxTimer = setTimeout(() => {
    state.inboxTimer = 0;
    void updateInboxCount();
  }, delay);
}

export async function updateInboxCount() {
  const seq = ++state.inboxSeq;
  try {
    /** @type {import('../../coordinator/api-types.js').FleetStatus} */
    const status = await api(`/api/status${query({ stuck: 0 })}`);
    if (seq !== state.inboxSeq) return; // a later read is under way: it has the newer count
    setInboxCount(status.openQuestions ?? status.counts.waiting_input ?? 0);
  } catch {
    /* signed out, or the server is down: the next event tries again */
  }
}

/**
 * The badge on the nav's Inbox link (hidden at zero), and the window title.
 * @param {number} n
 */
export function setInboxCount(n) {
  const count = Number(n) || 0;
  const el = /** @type {HTMLElement} */ (document.getElementById('inbox-count'));
  el.textContent = String(count);
  el.hidden = count === 0;
  el.title = `${count} open question${count === 1 ? '' : 's'}`;
  document.title = count > 0 ? `(${count}) cns` : 'cns';
}

let ticks = 0;
/** Once a second: relative times, the fleet's liveness, and a lost stream. */
export function tick() {
  const now = Date.now();
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('time[data-at]'))) {
    const text = ago(Number(el.dataset.at), now);
    if (el.textContent !== text) el.textContent = text;
  }
  ticks++;
  // Heartbeats are not events: refresh the fleet now and then so liveness stays true.
  if (ticks % 15 === 0 && state.page?.name === 'fleet') scheduleRefresh(0);
  if (ticks % 10 === 0 && state.user && !state.source) connectStream();
}
