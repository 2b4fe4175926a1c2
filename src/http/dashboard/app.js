// @ts-check
// The cns dashboard: a small hash-routed page over the HTTP API of `cns serve`. No framework, no
// build step: native ES modules, type-checked (tsconfig.json here) against the server's types.
// This module signs in and out and names the pages; the others:
//   api.js        the HTTP API              live.js      the event stream, the inbox count, the ticker
//   router.js     routing and rendering     state.js     what is remembered between renders
//   dom.js        building the DOM          format.js    text and times; widgets.js: shared pieces
//   explain.js    why a task is stuck       graph-layout.js, graph.js: the workflow graph
//   lifecycle.js  made by the server from src/core/status.ts (the statuses), never copied here
//   pages/        one module per page

import { api, statusOf, whenSignedOut } from './api.js';
import { h } from './dom.js';
import {
  connectStream,
  disconnectStream,
  loadRecentEvents,
  setInboxCount,
  tick,
  updateInboxCount,
} from './live.js';
import { navigate, scheduleRefresh, setRoutes } from './router.js';
import { QUESTION_EVENTS, state } from './state.js';
import { renderEvents } from './pages/events.js';
import { renderFleet } from './pages/fleet.js';
import { notFound } from './pages/not-found.js';
import { renderInbox, renderQuestion } from './pages/questions.js';
import { renderTask } from './pages/task.js';
import { renderBoard } from './pages/tasks.js';
import { renderWorkflow, renderWorkflows } from './pages/workflows.js';

/** @typedef {import('./state.js').Page} Page */

const main = /** @type {HTMLElement} */ (document.getElementById('main'));

/** @param {import('../../core/types.js').CnsEvent} e */
const onQuestionEvent = (e) => {
  // The inbox re-reads only after the events that change questions (not on every progress note).
  if (QUESTION_EVENTS.has(e.kind)) scheduleRefresh();
};

setRoutes(({ parts, params }) => {
  const [section, id] = parts;
  const num = id !== undefined && /^\d+$/.test(id) ? Number(id) : null;
  const extra = parts.length > 2 || (id !== undefined && num === null);
  if (!section) return { name: 'fleet', render: renderFleet };
  if (extra) return { name: 'none', render: (c) => notFound(c) };
  if (section === 'tasks' && num !== null) return { name: 'tasks', render: (c) => renderTask(c, num) };
  if (section === 'tasks') return { name: 'tasks', render: (c) => renderBoard(c, params) };
  if (section === 'workflows' && num !== null)
    return { name: 'workflows', render: (c) => renderWorkflow(c, num) };
  if (section === 'workflows') return { name: 'workflows', render: renderWorkflows };
  if (section === 'events') return { name: 'events', render: renderEvents };
  if (section === 'questions' && num !== null)
    return { name: 'questions', render: (c) => renderQuestion(c, num), onEvent: onQuestionEvent };
  if (section === 'questions')
    return { name: 'questions', render: (c) => renderInbox(c, params), onEvent: onQuestionEvent };
  return { name: 'none', render: (c) => notFound(c) };
});

async function start() {
  /** @type {HTMLElement} */ (document.getElementById('signout')).addEventListener('click', signOut);
  window.addEventListener('hashchange', () => navigate());
  whenSignedOut(signedOut);
  setInterval(tick, 1000);
  try {
    state.user = await api('/api/whoami');
  } catch {
    state.user = null;
  }
  if (state.user) await signedIn();
  else showSignIn();
}

async function signedIn() {
  if (!state.user) return;
  /** @type {HTMLElement} */ (document.getElementById('topbar')).hidden = false;
  /** @type {HTMLElement} */ (document.getElementById('who')).replaceChildren(
    h('span', { class: 'who-name' }, state.user.name),
    h('span', { class: 'role' }, state.user.role),
  );
  await loadRecentEvents();
  connectStream();
  navigate();
  void updateInboxCount();
}

function signedOut() {
  if (!state.user) return;
  state.user = null;
  disconnectStream();
  showSignIn('Your session ended. Sign in again.');
}

async function signOut() {
  await api('/api/session', { method: 'DELETE' }).catch(() => undefined);
  state.user = null;
  disconnectStream();
  showSignIn();
}

/** @param {string} [message] */
function showSignIn(message) {
  state.renderSeq++;
  state.page = null;
  /** @type {HTMLElement} */ (document.getElementById('topbar')).hidden = true;
  setInboxCount(0);
  const input = h('input', {
    type: 'password',
    name: 'token',
    id: 'token',
    autocomplete: 'current-password',
    placeholder: 'cns_…',
    required: true,
    spellcheck: 'false',
  });
  const status = h('p', { class: 'signin-error', role: 'alert' }, message ?? '');
  const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
  /** @param {Event} ev */
  const submit = async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    status.textContent = '';
    try {
      await api('/api/session', { method: 'POST', body: { token: input.value.trim() } });
      state.user = await api('/api/whoami');
      await signedIn();
    } catch (err) {
      status.textContent =
        statusOf(err) === 401 ? 'That token is not valid.' : String(/** @type {Error} */ (err).message);
      button.disabled = false;
      input.select();
    }
  };
  const form = h(
    'form',
    { class: 'signin card', id: 'signin', onsubmit: submit },
    h('div', { class: 'signin-brand' }, h('span', { class: 'brand-mark' }), 'cns'),
    h('p', { class: 'muted' }, 'Sign in with a cns token to watch the fleet and review its work.'),
    h('label', { for: 'token' }, 'Token'),
    input,
    button,
    status,
    h(
      'p',
      { class: 'hint' },
      'Create one with ',
      h('code', null, 'cns token create --role supervisor'),
      '. It is kept in an HttpOnly cookie, not in this page.',
    ),
  );
  main.replaceChildren(h('div', { class: 'signin-wrap' }, form));
  input.focus();
}

void start();
