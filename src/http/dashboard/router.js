// @ts-check
// Hash routing (`#/tasks/12`, `#/tasks?status=failed`) and rendering the page on screen.

import { statusOf } from './api.js';
import { h } from './dom.js';
import { state } from './state.js';
import { errorBox } from './widgets.js';
import { notFound } from './pages/not-found.js';

/** @typedef {import('./state.js').Page} Page */
/** @typedef {{ parts: string[], params: URLSearchParams }} Location */

const main = /** @type {HTMLElement} */ (document.getElementById('main'));

/** @type {(where: Location) => Page} */
let routeOf = () => ({ name: 'none', render: () => undefined });

/**
 * The route table, given by the entry module (pages import this module, so it cannot import them).
 * @param {(where: Location) => Page} routes
 */
export function setRoutes(routes) {
  routeOf = routes;
}

/** @returns {Location} */
export function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const at = raw.indexOf('?');
  const path = at < 0 ? raw : raw.slice(0, at);
  const search = at < 0 ? '' : raw.slice(at + 1);
  return { parts: path.split('/').filter(Boolean), params: new URLSearchParams(search) };
}

/** Shows the page the address names (after a hash change, and once signed in). */
export function navigate() {
  if (!state.user) return;
  const page = routeOf(parseHash());
  state.renderSeq++;
  state.page = page;
  state.answering.clear();
  for (const a of /** @type {NodeListOf<HTMLAnchorElement>} */ (document.querySelectorAll('#nav a'))) {
    a.classList.toggle('active', a.dataset.route === page.name);
  }
  window.scrollTo(0, 0);
  void renderPage(page, true);
}

/** Re-renders the current route without scrolling (after replaceState, which fires no hashchange). */
export function navigateQuietly() {
  const page = routeOf(parseHash());
  state.renderSeq++;
  state.page = page;
  void renderPage(page, false);
}

/** Re-renders the page on screen now (after an action). */
export async function refresh() {
  if (!state.page || !state.user) return;
  if (state.rendering) {
    state.refreshAgain = true;
    return;
  }
  await renderPage(state.page, false);
}

/**
 * Re-renders the visible page soon. Events often come in bursts: one pending refresh covers all of
 * them, and refreshes are at least a second apart.
 * @param {number} [delay]
 */
export function scheduleRefresh(delay = 250) {
  if (state.refreshTimer) return;
  const wait = Math.max(delay, state.lastRefresh + 1000 - Date.now());
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = 0;
    state.lastRefresh = Date.now();
    void refresh();
  }, wait);
}

/**
 * Renders a page into a fresh container and swaps it in. On a re-render of the same page, inputs
 * marked `data-keep` keep their value, focus and selection (a live refresh must not eat a
 * half-typed review); a navigation starts from what the address says.
 * @param {Page} page
 * @param {boolean} first
 */
async function renderPage(page, first) {
  const seq = state.renderSeq;
  state.rendering = true;
  const loading = first
    ? setTimeout(() => main.replaceChildren(h('p', { class: 'loading' }, 'Loading…')), 150)
    : 0;
  // The address this render shows: a test (or a script) can wait for the page it asked for rather
  // than for an element the previous page may also have.
  const container = h('div', { class: `page page-${page.name}`, 'data-hash': location.hash });
  try {
    await page.render(container);
  } catch (err) {
    if (statusOf(err) === 401) return;
    if (statusOf(err) === 404) notFound(container, /** @type {Error} */ (err).message);
    else container.replaceChildren(errorBox(err));
  } finally {
    clearTimeout(loading);
    state.rendering = false;
  }
  if (seq !== state.renderSeq || state.page !== page) return;
  const kept = first ? new Map() : keepInputs();
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
  for (const el of /** @type {NodeListOf<SVGTextElement>} */ (main.querySelectorAll('text[data-fit]'))) {
    const max = Number(el.dataset.fit);
    const full = el.textContent ?? '';
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

/**
 * @typedef {object} Kept
 * @property {string} value
 * @property {boolean} open
 * @property {boolean} focused
 * @property {number | null} start
 * @property {number | null} end
 * @property {boolean} revealed
 */

/** @returns {Map<string, Kept>} */
function keepInputs() {
  const kept = new Map();
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (main.querySelectorAll('[data-keep]'))) {
    const field = /** @type {HTMLInputElement} */ (el);
    kept.set(el.dataset.keep, {
      value: field.value,
      open: /** @type {HTMLDetailsElement} */ (el).open,
      focused: document.activeElement === el,
      start: field.selectionStart ?? null,
      end: field.selectionEnd ?? null,
      revealed: el.closest('[data-revealable]')?.classList.contains('revealed') ?? false,
    });
  }
  return kept;
}

/** @param {Map<string, Kept>} kept */
function restoreInputs(kept) {
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (main.querySelectorAll('[data-keep]'))) {
    const k = kept.get(el.dataset.keep ?? '');
    if (!k) continue;
    if (el.tagName === 'DETAILS') /** @type {HTMLDetailsElement} */ (el).open = k.open;
    else if (k.value !== undefined) /** @type {HTMLInputElement} */ (el).value = k.value;
    if (k.revealed) el.closest('[data-revealable]')?.classList.add('revealed');
    if (k.focused) {
      el.focus();
      const field = /** @type {HTMLInputElement} */ (el);
      if (k.start !== null && field.setSelectionRange) {
        try {
          field.setSelectionRange(k.start, k.end);
        } catch {
          /* a select has no selection */
        }
      }
    }
  }
}
