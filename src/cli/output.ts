/**
 * Printing for the CLI: tables and text for people, JSON for machines. Everything agents wrote
 * (titles, specs, results, notes, names) is untrusted: text output passes through `sanitize`, which
 * strips terminal control sequences (DESIGN.md §7). JSON output escapes control characters.
 */

// eslint-disable-next-line no-control-regex
const CSI = /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]/g;
// OSC, DCS, SOS, PM, APC strings: ESC ] … (BEL | ESC \), and their 8-bit forms.
// eslint-disable-next-line no-control-regex
const STRING_SEQ = /(?:\x1b[\]P^_X]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?/g;
// eslint-disable-next-line no-control-regex
const ESC_SEQ = /\x1b[ -/]*[0-~]?/g;
// C0 controls except tab and newline, DEL, C1 controls, and Unicode bidi overrides/isolates.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/** Removes terminal escape sequences and control characters, keeping newlines and tabs. */
export function sanitize(text: string): string {
  return text
    .replace(/\r\n/g, '\n')
    .replace(STRING_SEQ, '')
    .replace(CSI, '')
    .replace(ESC_SEQ, '')
    .replace(CONTROL, '');
}

/** One line of untrusted text, for a table cell or a label: sanitized, whitespace collapsed, truncated. */
export function oneLine(text: string | null | undefined, max = Infinity): string {
  const s = sanitize(text ?? '')
    .replace(/\s+/g, ' ')
    .trim();
  return s.length > max ? `${s.slice(0, Math.max(1, max - 1))}…` : s;
}

/** Prints text (sanitized) to stdout, one newline added. */
export function print(text = ''): void {
  process.stdout.write(`${sanitize(text)}\n`);
}

/** Prints a line (sanitized) to stderr. */
export function printErr(text: string): void {
  process.stderr.write(`${sanitize(text)}\n`);
}

/** JSON.stringify, with C1 controls and bidi overrides escaped too (JSON already escapes C0). */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(
    /[\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Pretty JSON to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${toJson(value, 2)}\n`);
}

/** One JSON object per line (NDJSON). */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${toJson(value)}\n`);
}

export interface Column<T> {
  header: string;
  get: (row: T) => string | number | null | undefined;
  /** Truncate longer cells. */
  max?: number;
  align?: 'left' | 'right';
}

/** A plain-text table: a header row and padded columns (cells sanitized and on one line). */
export function table<T>(rows: readonly T[], columns: Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => oneLine(String(c.get(r) ?? ''), c.max)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const fmt = (row: string[]) =>
    row
      .map((cell, i) => (columns[i]!.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(columns.map((c) => c.header)), ...cells.map(fmt)].join('\n');
}

/** "12s", "5m", "3h", "2d" (how long ago, or how long until when negative → "in 5m"). */
export function age(ms: number): string {
  if (ms < 0) return `in ${age(-ms)}`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

export function iso(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : new Date(ms).toISOString();
}

/** A time with its distance from now: "2026-01-01T00:00:00.000Z (5m ago)". */
export function when(ms: number, now: number): string {
  const d = now - ms;
  return `${iso(ms)} (${d >= 0 ? `${age(d)} ago` : age(d)})`;
}

/** Indents every line of a block of (untrusted) text. */
export function indent(text: string, prefix = '  '): string {
  return sanitize(text)
    .split('\n')
    .map((l) => (l === '' ? '' : prefix + l))
    .join('\n');
}
