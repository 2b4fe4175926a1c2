// @ts-check
// Formatting of text and times, without the DOM.

/* eslint-disable no-control-regex -- these patterns exist to find control characters */
// The same sequences the CLI strips (src/cli/output.ts): CSI (ESC [ … or 8-bit CSI), the string
// sequences OSC, DCS, SOS, PM and APC up to their terminator, other ESC sequences, and the C0/C1
// controls (tab and newline kept), DEL and the bidi overrides and isolates.
const CSI = /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]/g;
const STRING_SEQ = /(?:\x1b[\]P^_X]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?/g;
const ESC_SEQ = /\x1b[ -/]*[0-~]?/g;
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;
const ANY_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
/* eslint-enable no-control-regex */

/**
 * Text an agent wrote, without terminal escape sequences and control characters (which a browser
 * shows as boxed glyphs), keeping newlines and tabs.
 * @param {string} text
 */
export function stripTerminal(text) {
  if (!ANY_CONTROL.test(text)) return text;
  return text
    .replace(/\r\n/g, '\n')
    .replace(STRING_SEQ, '')
    .replace(CSI, '')
    .replace(ESC_SEQ, '')
    .replace(CONTROL, '');
}

/** @param {string} status a task or workflow status, as people read it */
export function label(status) {
  return status.replace(/_/g, ' ');
}

/**
 * `1 task`, `3 tasks`.
 * @param {number} n
 * @param {string} one
 * @param {string} [many]
 */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * One line, at most `n` characters.
 * @param {unknown} text
 * @param {number} n
 */
export function clip(text, n) {
  const s = stripTerminal(String(text)).replace(/\s+/g, ' ');
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/**
 * How long ago (or how far ahead) a time is.
 * @param {number | null | undefined} at
 * @param {number} [now]
 */
export function ago(at, now = Date.now()) {
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

/**
 * The query string of an API call: empty values left out, lists joined with commas.
 * @param {Record<string, unknown>} params
 */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
