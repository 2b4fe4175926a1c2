// The cns dashboard: a small hash-routed page over the HTTP API of `cns serve`. No framework, no
// build step. Live updates come from the server-sent event stream (/api/events/stream).
//
// SECURITY: everything agents wrote (titles, specs, notes, results, errors, names) is untrusted.
// The DOM is built with createElement/textContent only (see `h` and `svg`): never innerHTML, never
// an href or attribute made from such text except through setAttribute on inert attributes.

const STATUSES = [
  'blocked',
  'pending',
  'assigned',
  'in_progress',
  'waiting_input',
  'awaiting_review',
  'completed',
  'failed',
  'cancelled',
];
const FINAL = new Set(['completed', 'failed', 'cancelled']);
const LABEL = {
  in_progress: 'in progress',
  waiting_input: 'waiting input',
  awaiting_review: 'awaiting review',
};
const label = (status) => LABEL[status] ?? status;

const state = {
  /** `{ role, name }` once signed in. */
  user: null,
  /** The most recent events, newest first (the feed and the overview's activity list). */
  events: [],
  lastEventId: 0,
  source: null,
  /** Bumped on every navigation, so a slow render of a page left behind is dropped. */
  renderSeq: 0,
  rendering: false,
  refreshAgain: false,
  refreshTimer: 0,
  lastRefresh: 0,
  /** The page being shown: `{ name, render, onEvent? }`. */
  page: null,
  /** Agent names by id, as last seen (events carry only the id). */
  agentNames: new Map(),
  /**
   * Questions answered (or tried) from the page on screen, by id: `{ error }` (null once answered).
   * They stay in view with their outcome after they leave the open list; cleared on navigation.
   */
  answering: new Map(),
  /** Task titles and workflows by task id (they never change), for the inbox. */
  taskInfo: new Map(),
  /** The open-question count in the nav, re-read after the events that change it. */
  inboxTimer: 0,
  inboxSeq: 0,
};
const MAX_EVENTS = 300;
const QUESTION_STATUSES = ['open', 'answered', 'closed'];
/** The events after which the open questions may have changed. */
const QUESTION_EVENTS = new Set(['task.asked', 'task.answered', 'task.cancelled']);

const main = document.getElementById('main');

// ── DOM helpers ─────────────────────────────────────────────────────────────────────────────────

/** Creates an element. Children that are not nodes become text nodes (never parsed as HTML). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  add(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  add(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key.startsWith('on')) throw new Error(`event handler ${key} must be a function`);
    else if (key === 'class') el.setAttribute('class', value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'value') el.value = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

function add(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// ── formatting ──────────────────────────────────────────────────────────────────────────────────

function ago(at, now = Date.now()) {
  if (at === null || at === undefined) return '—';
  const s = Math.round((now - at) / 1000);
  const future = s < 0;
  const abs = Math.abs(s);
  let text;
  if (abs < 2) return future ? 'now' : 'just now';
  if (abs < 60) text = `${abs}s`;
  else if (abs < 3600) text = `${Math.floor(abs / 60)}m ${abs % 60 ? `${abs % 60}s` : ''}`.trim();
  else if (abs < 86400) text = `${Math.floor(abs / 3600)}h ${Math.floor((abs % 3600) / 60)}m`;
  else text = `${Math.floor(abs / 86400)}d ${Math.floor((abs % 86400) / 3600)}h`;
  return future ? `in ${text}` : `${text} ago`;
}

/** A relative time that keeps itself current (see the ticker), with the absolute time on hover. */
function time(at) {
  if (at === null || at === undefined) return h('span', { class: 'muted' }, '—');
  return h(
    'time',
    { datetime: new Date(at).toISOString(), title: new Date(at).toLocaleString(), dataset: { at } },
    ago(at),
  );
}

/** The time of day (with the date when it is not today), for logs. */
function clock(at) {
  const d = new Date(at);
  const today = d.toDateString() === new Date().toDateString();
  const text = today
    ? d.toLocaleTimeString()
    : d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() }, text);
}

function statusBadge(status) {
  return h('span', { class: `badge st-${status}`, dataset: { status } }, label(status));
}

function agentBadge(status) {
  return h('span', { class: `badge ag-${status}` }, status);
}

function taskLink(id, text) {
  return h('a', { href: `#/tasks/${Number(id)}`, class: 'tasklink' }, text ?? `#${id}`);
}

function workflowLink(id, text) {
  return h('a', { href: `#/workflows/${Number(id)}` }, text ?? `workflow #${id}`);
}

function questionLink(id, text) {
  return h('a', { href: `#/questions/${Number(id)}`, class: 'qlink' }, text ?? `question #${id}`);
}

function tags(list) {
  if (!list || list.length === 0) return h('span', { class: 'muted' }, '—');
  return h(
    'span',
    { class: 'tags' },
    list.map((t) => h('span', { class: 'tag' }, t)),
  );
}

function json(value) {
  return h('pre', { class: 'block json' }, JSON.stringify(value, null, 2));
}

function textBlock(text, cls = '') {
  return h('pre', { class: `block text ${cls}` }, text);
}

function empty(text) {
  return h('p', { class: 'empty' }, text);
}

function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', null, title), ...children);
}

function progressBar(percent) {
  const p = Math.max(0, Math.min(100, Number(percent) || 0));
  const bar = h('span', { class: 'bar-fill' });
  bar.style.width = `${p}%`;
  return h('span', { class: 'bar', title: `${p}%` }, bar);
}

/** A bar split by status: how far a set of tasks has come. */
function countsBar(counts) {
  const total = STATUSES.reduce((n, s) => n + (counts[s] ?? 0), 0);
  const bar = h('span', { class: 'stack', title: countsTitle(counts) });
  if (total === 0) return bar;
  for (const s of STATUSES) {
    const n = counts[s] ?? 0;
    if (n === 0) continue;
    const part = h('span', { class: `stack-part st-${s}` });
    part.style.flexGrow = String(n);
    bar.append(part);
  }
  return bar;
}

function countsTitle(counts) {
  return STATUSES.filter((s) => counts[s])
    .map((s) => `${counts[s]} ${label(s)}`)
    .join(', ');
}

/** Why a task is not moving, from the explanation's reasons (falls back to its summary). */
function explanationNode(ex) {
  const parts = ex.reasons.map(reasonNode);
  if (parts.length === 0 || parts.includes(null)) return ex.summary.replace(/^task \d+ is [a-z_]+: /, '');
  return parts.map((p, i) => [i ? '; ' : '', p]);
}

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

function errorBox(err) {
  return h(
    'div',
    { class: 'alert', role: 'alert' },
    h('strong', null, err.code ? `${err.code}: ` : 'error: '),
    err.message ?? String(err),
  );
}

// ── the API ─────────────────────────────────────────────────────────────────────────────────────

class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

async function api(path, { method = 'GET', body } = {}) {
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'unreachable', 'the cns server cannot be reached');
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const e = data?.error ?? {};
    const err = new ApiError(
      res.status,
      e.code ?? String(res.status),
      e.message ?? res.statusText,
      e.details,
    );
    if (res.status === 401 && path !== '/api/session') signedOut();
    throw err;
  }
  return data;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// ── session ─────────────────────────────────────────────────────────────────────────────────────

async function start() {
  document.getElementById('signout').addEventListener('click', signOut);
  window.addEventListener('hashchange', () => navigate());
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
  document.getElementById('topbar').hidden = false;
  const who = document.getElementById('who');
  who.replaceChildren(
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

function showSignIn(message) {
  state.renderSeq++;
  state.page = null;
  document.getElementById('topbar').hidden = true;
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

  async function submit(ev) {
    ev.preventDefault();
    button.disabled = true;
    status.textContent = '';
    try {
      await api('/api/session', { method: 'POST', body: { token: input.value.trim() } });
      state.user = await api('/api/whoami');
      await signedIn();
    } catch (err) {
      status.textContent = err.status === 401 ? 'That token is not valid.' : err.message;
      button.disabled = false;
      input.select();
    }
  }
}

// ── live updates ────────────────────────────────────────────────────────────────────────────────

async function loadRecentEvents() {
  try {
    const { events } = await api(`/api/events${query({ newest: 1, limit: 100 })}`);
    const sorted = [...events].sort((a, b) => b.id - a.id);
    state.events = sorted;
    state.lastEventId = sorted[0]?.id ?? 0;
  } catch (err) {
    if (err.status === 401) throw err;
    state.events = [];
  }
}

function connectStream() {
  disconnectStream();
  const source = new EventSource(`/api/events/stream${query({ after: state.lastEventId })}`);
  state.source = source;
  setLive('connecting');
  source.addEventListener('open', () => setLive('live'));
  source.addEventListener('cns', (msg) => {
    let event;
    try {
      event = JSON.parse(msg.data);
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
          /* signedOut() ran, or the server is down: the next attempt comes from the ticker */
        }
      }, 3000);
    } else {
      setLive('reconnecting');
    }
  });
}

function disconnectStream() {
  if (state.source) state.source.close();
  state.source = null;
}

function setLive(mode) {
  const el = document.getElementById('live');
  el.className = `live live-${mode}`;
  el.textContent = mode;
  el.title = mode === 'live' ? 'receiving live updates' : 'live updates are not flowing';
}

/** Re-read the open-question count soon (one read covers a burst of events). */
function scheduleInboxCount(delay = 150) {
  if (state.inboxTimer) return;
  state.inboxTimer = setTimeout(() => {
    state.inboxTimer = 0;
    void updateInboxCount();
  }, delay);
}

async function updateInboxCount() {
  const seq = ++state.inboxSeq;
  try {
    const status = await api(`/api/status${query({ stuck: 0 })}`);
    if (seq !== state.inboxSeq) return; // a later read is under way: it has the newer count
    setInboxCount(status.openQuestions ?? status.counts.waiting_input ?? 0);
  } catch {
    /* signed out, or the server is down: the next event tries again */
  }
}

/** The badge on the nav's Inbox link (hidden at zero), and the window title. */
function setInboxCount(n) {
  const count = Number(n) || 0;
  const el = document.getElementById('inbox-count');
  el.textContent = String(count);
  el.hidden = count === 0;
  el.title = `${count} open question${count === 1 ? '' : 's'}`;
  document.title = count > 0 ? `(${count}) cns` : 'cns';
}

/**
 * Re-render the visible page soon. Events often come in bursts: one pending refresh covers all of
 * them, and refreshes are at least a second apart.
 */
function scheduleRefresh(delay = 250) {
  if (state.refreshTimer) return;
  const wait = Math.max(delay, state.lastRefresh + 1000 - Date.now());
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = 0;
    state.lastRefresh = Date.now();
    void refresh();
  }, wait);
}

async function refresh() {
  if (!state.page || !state.user) return;
  if (state.rendering) {
    state.refreshAgain = true;
    return;
  }
  await renderPage(state.page, false);
}

let ticks = 0;
function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll('time[data-at]')) {
    const text = ago(Number(el.dataset.at), now);
    if (el.textContent !== text) el.textContent = text;
  }
  ticks++;
  // Heartbeats are not events: refresh the fleet now and then so liveness stays true.
  if (ticks % 15 === 0 && state.page?.name === 'fleet') scheduleRefresh(0);
  if (ticks % 10 === 0 && state.user && !state.source) connectStream();
}

// ── routing ─────────────────────────────────────────────────────────────────────────────────────

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, search = ''] = raw.split('?');
  return { parts: path.split('/').filter(Boolean), params: new URLSearchParams(search) };
}

function route() {
  const { parts, params } = parseHash();
  const [section, id] = parts;
  const num = id !== undefined && /^\d+$/.test(id) ? Number(id) : null;
  if (!section) return { name: 'fleet', render: renderFleet };
  if (section === 'tasks' && num !== null) return { name: 'tasks', render: (c) => renderTask(c, num) };
  if (section === 'tasks') return { name: 'tasks', render: (c) => renderBoard(c, params) };
  if (section === 'workflows' && num !== null)
    return { name: 'workflows', render: (c) => renderWorkflow(c, num) };
  if (section === 'workflows') return { name: 'workflows', render: renderWorkflows };
  if (section === 'events') return { name: 'events', render: renderEvents, live: true };
  // The inbox re-reads only after the events that change questions (not on every progress note).
  const onQuestionEvent = (e) => {
    if (QUESTION_EVENTS.has(e.kind)) scheduleRefresh();
  };
  if (section === 'questions' && num !== null)
    return { name: 'questions', render: (c) => renderQuestion(c, num), onEvent: onQuestionEvent };
  if (section === 'questions')
    return { name: 'questions', render: (c) => renderInbox(c, params), onEvent: onQuestionEvent };
  return { name: 'none', render: (c) => c.append(empty('No such page.')) };
}

function navigate() {
  if (!state.user) return;
  const page = route();
  state.renderSeq++;
  state.page = page;
  state.answering.clear();
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.route === page.name);
  }
  window.scrollTo(0, 0);
  void renderPage(page, true);
}

/**
 * Renders a page into a fresh container and swaps it in. Inputs marked `data-keep` keep their
 * value, focus and selection across re-renders (a live refresh must not eat a half-typed review).
 */
async function renderPage(page, first) {
  const seq = state.renderSeq;
  state.rendering = true;
  const loading = first
    ? setTimeout(() => main.replaceChildren(h('p', { class: 'loading' }, 'Loading…')), 150)
    : 0;
  const container = h('div', { class: `page page-${page.name}` });
  try {
    await page.render(container);
  } catch (err) {
    if (err.status === 401) return;
    container.replaceChildren(errorBox(err));
  } finally {
    clearTimeout(loading);
    state.rendering = false;
  }
  if (seq !== state.renderSeq || state.page !== page) return;
  const kept = keepInputs();
  main.replaceChildren(container);
  restoreInputs(kept);
  fitTexts();
  if (state.refreshAgain) {
    state.refreshAgain = false;
    scheduleRefresh();
  }
}

/** SVG text cannot wrap or ellipsize itself: shorten each `data-fit` text to its width, once laid out. */
function fitTexts() {
  for (const el of main.querySelectorAll('text[data-fit]')) {
    const max = Number(el.dataset.fit);
    const full = el.textContent;
    if (el.getComputedTextLength() <= max) continue;
    let lo = 0;
    let hi = full.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      el.textContent = `${full.slice(0, mid).trimEnd()}…`;
      if (el.getComputedTextLength() <= max) lo = mid;
      else hi = mid - 1;
    }
    el.textContent = `${full.slice(0, lo).trimEnd()}…`;
  }
}

function keepInputs() {
  const kept = new Map();
  for (const el of main.querySelectorAll('[data-keep]')) {
    kept.set(el.dataset.keep, {
      value: el.value,
      open: el.open,
      focused: document.activeElement === el,
      start: el.selectionStart,
      end: el.selectionEnd,
      revealed: el.closest('[data-revealable]')?.classList.contains('revealed') ?? false,
    });
  }
  return kept;
}

function restoreInputs(kept) {
  for (const el of main.querySelectorAll('[data-keep]')) {
    const k = kept.get(el.dataset.keep);
    if (!k) continue;
    if (el.tagName === 'DETAILS') el.open = k.open;
    else if (k.value !== undefined) el.value = k.value;
    if (k.revealed) el.closest('[data-revealable]')?.classList.add('revealed');
    if (k.focused) {
      el.focus();
      if (k.start !== null && k.start !== undefined && el.setSelectionRange)
        el.setSelectionRange(k.start, k.end);
    }
  }
}

// ── fleet overview ──────────────────────────────────────────────────────────────────────────────

async function renderFleet(c) {
  const [status, active, workflows] = await Promise.all([
    api('/api/status'),
    api(`/api/tasks${query({ status: ['assigned', 'in_progress'], limit: 500 })}`),
    api(`/api/workflows${query({ limit: 100 })}`),
  ]);
  const titles = new Map(active.items.map((t) => [t.id, t.title]));
  rememberAgents(status.agents);
  const total = STATUSES.reduce((n, s) => n + (status.counts[s] ?? 0), 0);
  const openQuestions = status.openQuestions ?? status.counts.waiting_input ?? 0;
  setInboxCount(openQuestions);

  c.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, 'Fleet'),
      h('span', { class: 'muted' }, `${status.backend} · ${total} task${total === 1 ? '' : 's'}`),
    ),
  );

  c.append(
    h(
      'div',
      { class: 'counts' },
      STATUSES.map((s) =>
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

  const agents = [...status.agents].sort(
    (a, b) => agentOrder(a.status) - agentOrder(b.status) || a.name.localeCompare(b.name),
  );
  const live = agents.filter((a) => a.status !== 'offline').length;
  c.append(
    section(
      `Agents · ${live} live of ${agents.length}`,
      agents.length === 0
        ? empty('No agent has registered yet. Start one with `cns mcp --role agent --type <type>`.')
        : h(
            'table',
            { class: 'table agents' },
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                ['Agent', 'Status', 'Type', 'Capabilities', 'Heartbeat', 'Working on'].map((t) =>
                  h('th', null, t),
                ),
              ),
            ),
            h(
              'tbody',
              null,
              agents.map((a) =>
                h(
                  'tr',
                  { class: `agent ag-row-${a.status}`, dataset: { agent: a.name } },
                  h(
                    'td',
                    null,
                    h('span', { class: `dot ag-${a.status}` }),
                    h('a', { href: `#/tasks${query({ agent: a.id })}`, class: 'agent-name' }, a.name),
                    a.host
                      ? h('span', { class: 'muted small' }, ` ${a.host}${a.pid ? `:${a.pid}` : ''}`)
                      : null,
                  ),
                  h('td', null, agentBadge(a.status)),
                  h('td', null, h('span', { class: 'type' }, a.type)),
                  h('td', null, tags(a.capabilities)),
                  h(
                    'td',
                    null,
                    a.deregisteredAt ? h('span', { class: 'muted' }, 'signed off') : time(a.lastHeartbeatAt),
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
                            h('span', { class: 'ellipsis' }, titles.get(id) ?? ''),
                          ),
                        ),
                  ),
                ),
              ),
            ),
          ),
    ),
  );

  const grid = h('div', { class: 'grid2' });
  grid.append(
    section(
      `Stuck · ${status.stuck.length}`,
      status.stuck.length === 0
        ? empty('Nothing is stuck.')
        : h(
            'ul',
            { class: 'stuck' },
            status.stuck.map((ex) =>
              h(
                'li',
                null,
                h('div', null, taskLink(ex.taskId), ' ', statusBadge(ex.status)),
                h('div', { class: 'explain-text' }, explanationNode(ex)),
              ),
            ),
          ),
    ),
  );
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

function rememberAgents(agents) {
  for (const a of agents) state.agentNames.set(a.id, a.name);
  return state.agentNames;
}

function agentOrder(s) {
  return s === 'working' ? 0 : s === 'idle' ? 1 : 2;
}

// ── task board ──────────────────────────────────────────────────────────────────────────────────

async function renderBoard(c, params) {
  const selected = (params.get('status') ?? '').split(',').filter((s) => STATUSES.includes(s));
  const search = params.get('search') ?? '';
  const type = params.get('type') ?? '';
  const workflow = params.get('workflow') ?? '';
  const agent = params.get('agent') ?? '';
  const after = params.get('after') ?? '';
  const filter = { status: selected, search, type, workflow, agent, newest: 1, limit: 100, after };
  const [page, status, agents, workflows] = await Promise.all([
    api(`/api/tasks${query(filter)}`),
    api('/api/status?stuck=0'),
    api('/api/agents'),
    api(`/api/workflows${query({ limit: 500 })}`),
  ]);
  const agentNames = rememberAgents(agents.agents);
  const workflowNames = new Map(workflows.items.map((w) => [w.id, w.name]));

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
    STATUSES.map((s) => {
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

  const searchInput = h('input', {
    type: 'search',
    class: 'search',
    placeholder: 'Search titles…',
    value: search,
    'aria-label': 'search titles',
    dataset: { keep: 'board-search' },
  });
  let searchTimer = 0;
  const boardPage = state.page;
  searchInput.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      if (state.page !== boardPage) return; // navigated away meanwhile
      history.replaceState(null, '', setParams({ search: searchInput.value }));
      navigateQuietly();
    }, 250);
  });

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

/** Re-render the current route without scrolling (after replaceState, which fires no hashchange). */
function navigateQuietly() {
  const page = route();
  state.renderSeq++;
  state.page = page;
  void renderPage(page, false);
}

function taskTable(tasks, agentNames, { workflowColumn = true, workflowNames = new Map() } = {}) {
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
            t.progress.percent !== null && t.status === 'in_progress'
              ? progressBar(t.progress.percent)
              : null,
            t.progress.note && t.status === 'in_progress'
              ? h('span', { class: 'note ellipsis' }, t.progress.note)
              : null,
          ),
          h('td', null, time(t.updatedAt)),
        );
      }),
    ),
  );
}

// ── task detail ─────────────────────────────────────────────────────────────────────────────────

async function renderTask(c, id) {
  const [detail, agents] = await Promise.all([api(`/api/tasks/${id}`), api('/api/agents')]);
  const { task, dependencies, dependents, attempts, events, explanation } = detail;
  const questions = detail.questions ?? [];
  const wf =
    task.workflowId !== null ? await api(`/api/workflows/${task.workflowId}`).catch(() => null) : null;
  const agentNames = rememberAgents(agents.agents);
  const titles = new Map((wf?.tasks ?? []).map((t) => [t.id, t.title]));
  const agentName = (aid) => (aid === null ? null : (agentNames.get(aid) ?? `#${aid}`));

  c.append(
    h(
      'nav',
      { class: 'crumbs' },
      h('a', { href: '#/tasks' }, 'Tasks'),
      wf ? [' / ', workflowLink(wf.workflow.id, wf.workflow.name)] : null,
      ` / #${task.id}`,
    ),
    h(
      'div',
      { class: 'page-head task-head' },
      h('h1', { class: 'task-title', id: 'task-title' }, task.title),
      statusBadge(task.status),
    ),
  );

  if (!FINAL.has(task.status)) {
    c.append(
      h(
        'div',
        { class: `explain st-${task.status}`, id: 'explanation' },
        h('span', { class: 'explain-label' }, 'Why'),
        h('span', null, explanationNode(explanation)),
      ),
    );
  }

  const actions = taskActions(task, agents.agents);
  if (actions?.classList.contains('actions-compact')) c.querySelector('.task-head').append(actions);
  else if (actions) c.append(actions);

  const lease = task.lease;
  const facts = [
    ['Type', h('span', { class: 'type' }, task.type)],
    ['Requires', tags(task.requires)],
    ['Priority', String(task.priority)],
    ['Attempts', `${task.attempts} of ${task.maxAttempts}`],
    [
      'Review',
      task.review
        ? `required · ${task.reviewRounds} of ${task.maxReviewRounds} rounds of changes`
        : 'not required',
    ],
    lease ? ['Held by', [lease.agentName, ' · lease ', time(lease.expiresAt)]] : null,
    task.assignedTo !== null ? ['Assigned to', agentName(task.assignedTo)] : null,
    task.completedBy !== null
      ? [task.status === 'completed' ? 'Completed by' : 'Result by', agentName(task.completedBy)]
      : null,
    task.runAfter > Date.now() && !FINAL.has(task.status) ? ['Not before', time(task.runAfter)] : null,
    ['Created', [time(task.createdAt), task.createdBy ? ` by ${task.createdBy}` : '']],
    ['Updated', time(task.updatedAt)],
    task.startedAt ? ['Started', time(task.startedAt)] : null,
    task.finishedAt ? ['Finished', time(task.finishedAt)] : null,
    task.idempotencyKey ? ['Idempotency key', h('code', null, task.idempotencyKey)] : null,
  ].filter(Boolean);

  const left = h('div', { class: 'col-main' });
  const right = h('div', { class: 'col-side' });

  right.append(
    section(
      'Details',
      h(
        'dl',
        { class: 'facts' },
        facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]),
      ),
    ),
  );

  // The questions, oldest first, with their answers; an open one (the task waits for it) comes first.
  const answerable = canSupervise() && (task.allowedActions ?? []).includes('answer');
  const questionSection =
    questions.length === 0
      ? null
      : h(
          'section',
          { class: 'card', id: 'questions' },
          h('h2', null, `Questions · ${questions.length}`),
          h(
            'div',
            { class: 'q-thread' },
            questions.map((q) => questionCard(q, { inThread: true, canAnswer: answerable })),
          ),
        );
  const waiting = questions.some((q) => q.status === 'open');
  if (questionSection && waiting) left.append(questionSection);

  const p = task.progress;
  if (p.note || p.percent !== null || p.checkpoint !== null) {
    left.append(
      section(
        task.status === 'in_progress' ? 'Progress' : 'Last progress',
        h(
          'div',
          { class: 'progress-line' },
          p.percent !== null ? [progressBar(p.percent), h('span', { class: 'pct' }, `${p.percent}%`)] : null,
          p.at ? h('span', { class: 'muted small' }, time(p.at)) : null,
        ),
        p.note ? textBlock(p.note, 'progress-note') : null,
        p.checkpoint !== null ? details('Checkpoint', json(p.checkpoint), 'checkpoint') : null,
      ),
    );
  }

  if (task.error) left.append(section('Error', textBlock(task.error, 'error-text')));
  if (task.result !== null || task.resultData !== null) {
    left.append(
      section(
        'Result',
        task.result !== null ? textBlock(task.result, 'result-text') : null,
        task.resultData !== null ? details('Result data', json(task.resultData), 'result-data', true) : null,
      ),
    );
  }

  left.append(
    section(
      'Specification',
      task.spec ? textBlock(task.spec, 'spec') : empty('No specification text.'),
      task.input !== null ? details('Input', json(task.input), 'input', true) : null,
    ),
  );
  if (questionSection && !waiting) left.append(questionSection);

  if (dependencies.length > 0) {
    left.append(
      section(
        `Depends on · ${dependencies.length}`,
        h(
          'ul',
          { class: 'deps' },
          dependencies.map((d) =>
            h(
              'li',
              null,
              h(
                'div',
                { class: 'dep-line' },
                statusBadge(d.status),
                taskLink(d.taskId),
                ' ',
                h('span', null, d.title),
                d.ref ? h('span', { class: 'ref' }, d.ref) : null,
              ),
              d.result !== null ? details('Result', textBlock(d.result), `dep-${d.taskId}`) : null,
            ),
          ),
        ),
      ),
    );
  }
  if (dependents.length > 0) {
    right.append(
      section(
        `Needed by · ${dependents.length}`,
        h(
          'ul',
          { class: 'plain' },
          dependents.map((did) => h('li', null, taskLink(did), ' ', titles.get(did) ?? '')),
        ),
      ),
    );
  }

  if (attempts.length > 0)
    left.append(section(`Attempts and handoffs · ${attempts.length}`, attemptList(attempts)));

  right.append(section(`Timeline · ${events.length}`, timeline(events)));

  if (Object.keys(task.metadata ?? {}).length > 0) right.append(section('Metadata', json(task.metadata)));

  c.append(h('div', { class: 'task-grid' }, left, right));
}

function details(summary, body, key, open = false) {
  return h('details', { dataset: { keep: `details-${key}` }, open }, h('summary', null, summary), body);
}

function attemptList(attempts) {
  return h(
    'ol',
    { class: 'attempts' },
    [...attempts]
      .reverse()
      .map((a) =>
        h(
          'li',
          { class: `attempt out-${a.outcome}` },
          h(
            'div',
            { class: 'attempt-head' },
            h('strong', null, `#${a.seq}`),
            ' ',
            h('span', { class: 'agent-name' }, a.agentName),
            ' ',
            h('span', { class: `outcome out-${a.outcome}` }, a.outcome.replace(/_/g, ' ')),
            h(
              'span',
              { class: 'muted small' },
              ' ',
              time(a.startedAt),
              a.endedAt ? [' → ', clock(a.endedAt)] : '',
            ),
          ),
          a.note || a.percent !== null
            ? h(
                'div',
                { class: 'attempt-row' },
                h('span', { class: 'k' }, 'note'),
                h('span', { class: 'v' }, a.percent !== null ? `${a.percent}% ` : '', a.note ?? ''),
              )
            : null,
          a.error
            ? h(
                'div',
                { class: 'attempt-row error-text' },
                h('span', { class: 'k' }, 'error'),
                h('span', { class: 'v' }, a.error),
              )
            : null,
          a.feedback
            ? h(
                'div',
                { class: 'attempt-row feedback' },
                h('span', { class: 'k' }, 'review'),
                h('span', { class: 'v' }, a.feedback),
              )
            : null,
          a.result
            ? h(
                'div',
                { class: 'attempt-row' },
                h('span', { class: 'k' }, 'result'),
                h('span', { class: 'v' }, a.result),
              )
            : null,
          a.checkpoint !== null ? details('Checkpoint', json(a.checkpoint), `att-${a.seq}-cp`) : null,
        ),
      ),
  );
}

function timeline(events) {
  if (events.length === 0) return empty('No events.');
  return h(
    'ol',
    { class: 'timeline' },
    [...events]
      .reverse()
      .map((e) =>
        h(
          'li',
          { class: 'tl-item', dataset: { kind: e.kind } },
          h('span', { class: `tl-dot ${e.toStatus ? `st-${e.toStatus}` : 'st-none'}` }),
          h(
            'div',
            { class: 'tl-body' },
            h(
              'div',
              { class: 'tl-head' },
              h('span', { class: 'kind' }, e.kind.replace(/^task\./, '').replace(/_/g, ' ')),
              ' ',
              h('span', { class: 'muted' }, 'by '),
              h('span', { class: 'actor' }, e.actor),
              h('span', { class: 'muted small tl-time' }, clock(e.at)),
            ),
            e.message ? h('div', { class: 'tl-msg' }, e.message) : null,
          ),
        ),
      ),
  );
}

/** Whether the signed-in user may act (review, answer, cancel…): supervisors and admins. */
function canSupervise() {
  const role = state.user?.role;
  return role === 'supervisor' || role === 'admin';
}

/**
 * The controls a supervisor or admin gets on a task's page: one for each action the server says
 * the task allows now (`task.allowedActions`, from core/status.ts), never worked out here.
 */
function taskActions(task, agents) {
  if (!canSupervise()) return null;
  const allowed = new Set(task.allowedActions ?? []);
  const reviewing = allowed.has('approve') || allowed.has('request_changes');
  const root = h('div', { class: reviewing ? 'actions card' : 'actions-compact' });
  const message = h('span', { class: 'action-msg', role: 'status' });
  const act = async (path, body) => {
    for (const b of root.querySelectorAll('button')) b.disabled = true;
    message.textContent = '';
    message.className = 'action-msg';
    try {
      await api(`/api/tasks/${task.id}/${path}`, { method: 'POST', body });
      message.textContent = 'Done.';
      for (const input of root.querySelectorAll('[data-keep]')) input.value = '';
      await refresh();
    } catch (err) {
      message.textContent = err.message;
      message.className = 'action-msg bad';
      for (const b of root.querySelectorAll('button')) b.disabled = false;
    }
  };
  /** A quiet button that reveals a field and the button that confirms. */
  const revealing = (label, id, field, confirm) => {
    const wrap = h('span', { class: 'revealable', dataset: { revealable: '1' } }, field, confirm);
    const button = h('button', { type: 'button', class: 'btn btn-quiet', id }, label);
    button.addEventListener('click', () => {
      wrap.classList.toggle('revealed');
      if (wrap.classList.contains('revealed')) field.focus();
    });
    return [button, wrap];
  };

  const row = h('div', { class: 'btn-row' });
  if (reviewing) {
    const feedback = h('textarea', {
      id: 'feedback',
      rows: 3,
      placeholder: 'What should change? (required to request changes)',
      dataset: { keep: `feedback-${task.id}` },
    });
    if (allowed.has('approve')) {
      const approve = h('button', { type: 'button', class: 'btn btn-good', id: 'approve' }, 'Approve');
      approve.addEventListener('click', () =>
        act('review', { approve: true, feedback: feedback.value.trim() || undefined }),
      );
      row.append(approve);
    }
    if (allowed.has('request_changes')) {
      const changes = h(
        'button',
        { type: 'button', class: 'btn btn-warn', id: 'request-changes' },
        'Request changes',
      );
      changes.addEventListener('click', () => {
        if (!feedback.value.trim()) {
          message.textContent = 'Say what to change first.';
          message.className = 'action-msg bad';
          feedback.focus();
          return;
        }
        void act('review', { approve: false, feedback: feedback.value.trim() });
      });
      row.append(changes);
    }
    root.append(h('h2', null, 'Review'), feedback);
  }

  // Agents that could take it: of its type, with the capabilities it requires, not deregistered.
  const candidates = (agents ?? []).filter(
    (a) =>
      a.type === task.type &&
      a.deregisteredAt === null &&
      task.requires.every((cap) => a.capabilities.includes(cap)),
  );
  if (allowed.has('assign') && candidates.length > 0) {
    const agent = h(
      'select',
      { id: 'assign-agent', 'aria-label': 'agent', dataset: { keep: `assign-${task.id}` } },
      candidates.map((a) =>
        h('option', { value: a.name, selected: task.assignedTo === a.id }, `${a.name} (${a.status})`),
      ),
    );
    const confirmAssign = h(
      'button',
      { type: 'button', class: 'btn btn-primary', id: 'confirm-assign' },
      'Assign',
    );
    confirmAssign.addEventListener('click', () => act('assign', { agent: agent.value }));
    row.append(...revealing('Assign…', 'assign', agent, confirmAssign));
  }

  if (allowed.has('cancel')) {
    const reason = h('input', {
      type: 'text',
      id: 'cancel-reason',
      placeholder: 'Reason (optional)',
      dataset: { keep: `cancel-${task.id}` },
    });
    const confirmCancel = h(
      'button',
      { type: 'button', class: 'btn btn-bad', id: 'confirm-cancel' },
      'Cancel task',
    );
    confirmCancel.addEventListener('click', () =>
      act('cancel', { reason: reason.value.trim() || undefined }),
    );
    row.append(...revealing('Cancel…', 'cancel', reason, confirmCancel));
  }

  if (allowed.has('retry')) {
    const retry = h('button', { type: 'button', class: 'btn btn-primary', id: 'retry' }, 'Retry');
    retry.addEventListener('click', () => act('retry', {}));
    row.append(retry, h('span', { class: 'muted small' }, 'starts a new attempt (recorded)'));
  }

  if (row.childElementCount === 0) return null;
  row.append(message);
  root.append(row);
  return root;
}

// ── questions (the inbox) ───────────────────────────────────────────────────────────────────────

/**
 * The inbox: the questions agents asked (their tasks wait in waiting_input), newest first. Open ones
 * by default; `?status=open,answered,closed`, `?for=` and `?workflow=` filter. A question answered
 * (or tried) here stays in view under "Just answered", with who answered it.
 */
async function renderInbox(c, params) {
  const asked = (params.get('status') ?? '').split(',').filter((s) => QUESTION_STATUSES.includes(s));
  const selected = asked.length > 0 ? asked : ['open'];
  const forWhom = params.get('for') ?? '';
  const workflow = params.get('workflow') ?? '';
  const [{ questions }, waiting, workflows] = await Promise.all([
    api(`/api/questions${query({ status: selected, for: forWhom, workflow, limit: 200 })}`),
    api(`/api/tasks${query({ status: ['waiting_input'], limit: 500 })}`),
    api(`/api/workflows${query({ limit: 500 })}`),
  ]);
  rememberTasks(waiting.items);
  const listed = new Set(questions.map((q) => q.id));
  const recent = await Promise.all(
    [...state.answering.keys()]
      .filter((id) => !listed.has(id))
      .sort((a, b) => b - a)
      .map((id) =>
        api(`/api/questions/${id}`).then(
          (r) => r.question,
          () => null,
        ),
      ),
  );
  const answered = recent.filter(Boolean);
  await loadTaskInfo([...questions, ...answered].map((q) => q.taskId));
  const workflowNames = new Map(workflows.items.map((w) => [w.id, w.name]));

  const setParams = (changes) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === '' || v === null || (Array.isArray(v) && v.length === 0)) next.delete(k);
      else next.set(k, Array.isArray(v) ? v.join(',') : v);
    }
    const s = next.toString();
    return `#/questions${s ? `?${s}` : ''}`;
  };
  const onlyOpen = selected.length === 1 && selected[0] === 'open';
  const all = QUESTION_STATUSES.every((s) => selected.includes(s));

  c.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, 'Inbox'),
      h(
        'span',
        { class: 'muted', id: 'inbox-summary' },
        !onlyOpen
          ? `${questions.length} question${questions.length === 1 ? '' : 's'}`
          : questions.length === 0
            ? 'nothing waits for an answer'
            : `${questions.length} open question${questions.length === 1 ? '' : 's'} · each task waits for its answer`,
      ),
    ),
  );

  const filters = [];
  if (forWhom) filters.push(['for', `for: ${forWhom}`]);
  if (workflow)
    filters.push(['workflow', `workflow: ${workflowNames.get(Number(workflow)) ?? `#${workflow}`}`]);
  c.append(
    h(
      'div',
      { class: 'chips', role: 'group', 'aria-label': 'filter by status' },
      QUESTION_STATUSES.map((s) => {
        const on = selected.includes(s);
        const next = on ? selected.filter((x) => x !== s) : [...selected, s];
        return h(
          'a',
          {
            class: `chip q-st-${s}${on ? ' on' : ''}`,
            href: setParams({ status: next.length === 1 && next[0] === 'open' ? [] : next }),
            dataset: { status: s },
          },
          h('span', { class: 'dot' }),
          s,
        );
      }),
      h(
        'a',
        { class: `chip${all ? ' on' : ''}`, href: setParams({ status: QUESTION_STATUSES }), id: 'show-all' },
        'all',
      ),
      filters.map(([k, text]) =>
        h(
          'a',
          { class: 'chip on removable', href: setParams({ [k]: '' }), title: 'remove this filter' },
          text,
          ' ×',
        ),
      ),
    ),
  );

  const card = (q) =>
    questionCard(q, {
      task: state.taskInfo.get(q.taskId) ?? null,
      workflowName: q.workflowId !== null ? (workflowNames.get(q.workflowId) ?? null) : null,
      canAnswer: canSupervise(),
    });
  c.append(
    questions.length === 0
      ? section(
          onlyOpen ? 'Nothing to answer' : 'No questions',
          empty(
            onlyOpen
              ? 'No open questions. When an agent asks one, it appears here at once.'
              : 'No question matches these filters.',
          ),
        )
      : h('div', { class: 'q-list', id: 'question-list' }, questions.map(card)),
  );
  if (answered.length > 0) {
    c.append(
      h(
        'section',
        { class: 'q-recent' },
        h('h2', null, 'Just answered'),
        h('div', { class: 'q-list', id: 'answered-list' }, answered.map(card)),
      ),
    );
  }
}

/** One question on its own page (`#/questions/7`): a link to send someone. */
async function renderQuestion(c, id) {
  const [{ question }, workflows] = await Promise.all([
    api(`/api/questions/${id}`),
    api(`/api/workflows${query({ limit: 500 })}`),
  ]);
  await loadTaskInfo([question.taskId]);
  const wf = workflows.items.find((w) => w.id === question.workflowId);
  c.append(
    h('nav', { class: 'crumbs' }, h('a', { href: '#/questions' }, 'Inbox'), ` / question #${question.id}`),
    h('div', { class: 'q-list', id: 'question-list' }, [
      questionCard(question, {
        task: state.taskInfo.get(question.taskId) ?? null,
        workflowName: wf?.name ?? null,
        canAnswer: canSupervise(),
      }),
    ]),
  );
}

function rememberTasks(tasks) {
  for (const t of tasks) state.taskInfo.set(t.id, { title: t.title, workflowId: t.workflowId });
}

/** Reads the titles of the tasks not seen yet (a title never changes, so once is enough). */
async function loadTaskInfo(ids) {
  const missing = [...new Set(ids)].filter((id) => !state.taskInfo.has(id));
  const tasks = await Promise.all(
    missing.map((id) =>
      api(`/api/tasks/${id}${query({ view: 'task' })}`).then(
        (r) => r.task,
        () => null,
      ),
    ),
  );
  rememberTasks(tasks.filter(Boolean));
}

/**
 * A question: what was asked, by whom, for whom, about which task, the context the agent gave and
 * — for a supervisor or admin, while it is open — the answer controls: one button per choice (a
 * click answers with it) and a free-text answer. `inThread`: inside the task's page (no task line).
 */
function questionCard(q, { task = null, workflowName = null, canAnswer = false, inThread = false } = {}) {
  const note = state.answering.get(q.id);
  const card = h('article', {
    class: `question q-${q.status}${inThread ? '' : ' card'}`,
    id: `question-${q.id}`,
    dataset: { question: q.id, status: q.status },
  });
  const forLink = h(
    'a',
    { href: `#/questions${query({ for: q.for })}`, class: 'q-for-name', title: `questions for ${q.for}` },
    q.for,
  );
  card.append(
    h(
      'div',
      { class: 'q-head' },
      h('span', { class: `badge q-st-${q.status}` }, q.status),
      h('span', { class: 'q-for' }, 'for ', forLink),
      h(
        'span',
        { class: 'q-asked muted' },
        'asked by ',
        h('strong', { class: 'q-asker' }, q.askedBy.name),
        ' ',
        time(q.askedAt),
        inThread ? ` · attempt #${q.attemptSeq}` : '',
      ),
      questionLink(q.id, `#${q.id}`),
    ),
  );
  if (!inThread) {
    card.append(
      h(
        'div',
        { class: 'q-task' },
        h('span', { class: 'muted' }, 'task '),
        taskLink(q.taskId),
        ' ',
        h('a', { href: `#/tasks/${Number(q.taskId)}`, class: 'task-title q-task-title' }, task?.title ?? ''),
        q.workflowId !== null
          ? [h('span', { class: 'muted' }, ' · '), workflowLink(q.workflowId, workflowName ?? undefined)]
          : null,
      ),
    );
  }
  card.append(h('p', { class: 'q-text' }, q.text));
  if (q.context !== null && q.context !== undefined) {
    // Collapsible; open at first unless it is long.
    const text = JSON.stringify(q.context, null, 2);
    const long = text.length > 600 || text.split('\n').length > 14;
    const box = details('Context', json(q.context), `q-${q.id}-context`, !long);
    box.classList.add('q-context');
    card.append(box);
  }
  if (q.status === 'open' && q.choices?.length && !canAnswer) {
    card.append(
      h(
        'div',
        { class: 'q-choices read-only' },
        h('span', { class: 'muted small' }, 'choices: '),
        q.choices.map((choice) => h('span', { class: 'tag q-choice-tag' }, choice)),
      ),
    );
  }
  if (q.status === 'open' && canAnswer) card.append(answerControls(q, card));
  else if (q.status === 'open') {
    card.append(h('p', { class: 'muted small q-readonly' }, 'A supervisor or admin answers it.'));
  }
  if (q.status === 'answered') {
    card.append(
      h(
        'div',
        { class: 'q-answer' },
        h(
          'div',
          { class: 'q-answer-head' },
          h('span', { class: 'q-label' }, 'Answer'),
          ' by ',
          h('strong', { class: 'q-answered-by' }, q.answeredBy?.name ?? 'someone'),
          ' ',
          time(q.answeredAt),
        ),
        h('pre', { class: 'block text q-answer-text' }, q.answer ?? ''),
      ),
    );
  }
  if (q.status === 'closed') {
    card.append(
      h(
        'p',
        { class: 'q-closed muted' },
        'Closed without an answer',
        q.closedReason ? `: ${q.closedReason}` : '',
      ),
    );
  }
  if (note?.error) {
    const box = errorBox(note.error);
    box.classList.add('q-error');
    card.append(box);
  }
  return card;
}

/** The choices (one click answers) and the free-text answer of an open question. */
function answerControls(q, card) {
  const message = h('span', { class: 'action-msg', role: 'status' });
  const input = h('textarea', {
    class: 'q-input',
    rows: 2,
    placeholder: q.choices?.length ? 'Or write another answer…' : 'Write an answer…',
    'aria-label': `answer to question ${q.id}`,
    dataset: { keep: `answer-${q.id}` },
  });
  const send = async (answer) => {
    for (const el of card.querySelectorAll('button, textarea')) el.disabled = true;
    message.textContent = 'Sending…';
    message.className = 'action-msg';
    try {
      await api(`/api/questions/${q.id}/answer`, { method: 'POST', body: { answer } });
      state.answering.set(q.id, { error: null });
      input.value = '';
    } catch (err) {
      if (err.status === 401) return;
      // Kept (shown in the card) across the re-render: a refusal must not vanish with it.
      state.answering.set(q.id, { error: { code: err.code, message: err.message } });
    }
    scheduleInboxCount(0);
    await refresh();
  };
  const submit = h('button', { type: 'button', class: 'btn btn-primary q-submit' }, 'Answer');
  submit.addEventListener('click', () => {
    const text = input.value.trim();
    if (!text) {
      message.textContent = 'Write an answer first.';
      message.className = 'action-msg bad';
      input.focus();
      return;
    }
    void send(text);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      submit.click();
    }
  });
  return h(
    'div',
    { class: 'q-controls' },
    q.choices?.length
      ? h(
          'div',
          { class: 'q-choices', role: 'group', 'aria-label': 'answer with one of the choices' },
          q.choices.map((choice) =>
            h(
              'button',
              {
                type: 'button',
                class: 'btn q-choice',
                dataset: { choice },
                title: 'answer with this choice',
                onclick: () => void send(choice),
              },
              choice,
            ),
          ),
        )
      : null,
    h('div', { class: 'q-compose' }, input, h('div', { class: 'q-send' }, submit, message)),
  );
}

// ── workflows ───────────────────────────────────────────────────────────────────────────────────

async function renderWorkflows(c) {
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

async function renderWorkflow(c, id) {
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

function legend() {
  return h(
    'div',
    { class: 'legend' },
    STATUSES.map((s) => h('span', { class: `legend-item st-${s}` }, h('span', { class: 'dot' }), label(s))),
  );
}

/**
 * The workflow's tasks as a layered DAG, left to right: a task's column is the length of the longest
 * dependency chain before it. Rows are ordered by the mean row of each node's dependencies
 * (one barycentre pass), which keeps most edges short and uncrossed.
 */
function dependencyGraph(tasks) {
  if (tasks.length === 0) return empty('This workflow has no tasks.');
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const depth = new Map();
  const depthOf = (t, seen = new Set()) => {
    if (depth.has(t.id)) return depth.get(t.id);
    if (seen.has(t.id)) return 0;
    seen.add(t.id);
    let d = 0;
    for (const dep of t.dependsOn ?? []) {
      const parent = byId.get(dep);
      if (parent) d = Math.max(d, depthOf(parent, seen) + 1);
    }
    depth.set(t.id, d);
    return d;
  };
  const layers = [];
  for (const t of [...tasks].sort((a, b) => a.id - b.id)) {
    const d = depthOf(t);
    (layers[d] ??= []).push(t);
  }
  const row = new Map();
  layers.forEach((layer, i) => {
    if (i > 0) {
      const score = (t) => {
        const parents = (t.dependsOn ?? []).filter((p) => row.has(p));
        return parents.length ? parents.reduce((n, p) => n + row.get(p), 0) / parents.length : Infinity;
      };
      layer.sort((a, b) => score(a) - score(b) || a.id - b.id);
    }
    layer.forEach((t, j) => row.set(t.id, j));
  });

  const W = 240;
  const H = 56;
  const GX = 72;
  const GY = 18;
  const PAD = 12;
  const tallest = Math.max(...layers.map((l) => l.length));
  const width = PAD * 2 + layers.length * W + (layers.length - 1) * GX;
  const height = PAD * 2 + tallest * H + (tallest - 1) * GY;
  const pos = new Map();
  layers.forEach((layer, i) => {
    const offset = ((tallest - layer.length) * (H + GY)) / 2;
    layer.forEach((t, j) => pos.set(t.id, { x: PAD + i * (W + GX), y: PAD + offset + j * (H + GY) }));
  });

  const root = svg('svg', {
    class: 'graph',
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-label': 'dependency graph',
  });
  root.append(
    svg(
      'defs',
      null,
      svg(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: 9,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: 'auto-start-reverse',
        },
        svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }),
      ),
    ),
  );
  const edges = svg('g', { class: 'edges' });
  for (const t of tasks) {
    for (const dep of t.dependsOn ?? []) {
      const a = pos.get(dep);
      const b = pos.get(t.id);
      if (!a || !b) continue;
      const x1 = a.x + W;
      const y1 = a.y + H / 2;
      const x2 = b.x - 2;
      const y2 = b.y + H / 2;
      const mx = (x1 + x2) / 2;
      const done = byId.get(dep)?.status === 'completed';
      edges.append(
        svg('path', {
          d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`,
          class: `edge${done ? ' done' : ''}`,
          'marker-end': 'url(#arrow)',
          dataset: { from: dep, to: t.id },
        }),
      );
    }
  }
  root.append(edges);

  const nodes = svg('g', { class: 'nodes' });
  for (const t of tasks) {
    const { x, y } = pos.get(t.id);
    const go = () => {
      location.hash = `#/tasks/${t.id}`;
    };
    const node = svg(
      'g',
      {
        class: `node st-${t.status}`,
        transform: `translate(${x} ${y})`,
        tabindex: 0,
        role: 'link',
        'aria-label': `task ${t.id}: ${t.title} (${label(t.status)})`,
        dataset: { task: t.id, status: t.status },
        onclick: go,
        onkeydown: (e) => {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault();
            go();
          }
        },
      },
      svg(
        'title',
        null,
        `#${t.id} ${t.title}\n${label(t.status)}${t.lease ? ` · ${t.lease.agentName}` : ''}`,
      ),
      svg('rect', { class: 'node-box', width: W, height: H, rx: 8 }),
      svg('rect', { class: 'node-stripe', width: 5, height: H - 2, x: 1, y: 1, rx: 2 }),
      svg('text', { class: 'node-title', x: 14, y: 22, dataset: { fit: W - 24 } }, clip(t.title, 60)),
      svg(
        'text',
        { class: 'node-meta', x: 14, y: 42, dataset: { fit: W - 24 } },
        `#${t.id} · ${label(t.status)}${t.lease ? ` · ${clip(t.lease.agentName, 14)}` : ''}`,
      ),
    );
    if (t.progress.percent !== null && t.status === 'in_progress') {
      node.append(
        svg('rect', {
          class: 'node-progress',
          x: 6,
          y: H - 4,
          height: 3,
          width: ((W - 12) * Math.min(100, t.progress.percent)) / 100,
        }),
      );
    }
    nodes.append(node);
  }
  root.append(nodes);
  return h('div', { class: 'graph-scroll' }, root);
}

function clip(text, n) {
  const s = String(text).replace(/\s+/g, ' ');
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

// ── events ──────────────────────────────────────────────────────────────────────────────────────

async function renderEvents(c) {
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
  state.page.onEvent = (e) => {
    const feed = document.getElementById('event-feed');
    if (!feed) return;
    feed.querySelector('.empty')?.remove();
    const item = eventItem(e);
    item.classList.add('fresh');
    feed.prepend(item);
    while (feed.childElementCount > MAX_EVENTS) feed.lastElementChild.remove();
  };
}

function eventList(events, { compact = false } = {}) {
  const list = h('ol', { class: `events${compact ? ' compact' : ''}` });
  if (events.length === 0) list.append(h('li', { class: 'empty' }, 'No events yet.'));
  for (const e of events) list.append(eventItem(e));
  return list;
}

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

void start();
