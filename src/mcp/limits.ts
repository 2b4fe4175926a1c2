/**
 * Size limits of MCP answers. Claude Code spills answers over ~25,000 tokens to a file, and every
 * answer carries its JSON twice (structuredContent and the same JSON as text), so one answer's JSON
 * is kept under MAX_ANSWER_BYTES (≈ 10k tokens; both copies together stay under ~80 KB). Long texts
 * are clipped with a pointer saying how to get the rest; lists are paginated.
 */

/** The largest JSON body (bytes) of one tool answer. Default 40,000. */
export const MAX_ANSWER_BYTES = 40_000;

/** A task's spec as handed out by task_next / task_get (characters). */
export const SPEC_CHARS = 16_000;
/** A dependency's result as handed to its dependents (characters, each). */
export const DEP_RESULT_CHARS = 6_000;
/** Results, notes and errors inside handoffs and histories (characters, each). */
export const NOTE_CHARS = 2_000;
/** A chunk of a long text read with task_get's `part` (characters). */
export const TEXT_CHUNK_CHARS = 24_000;
/** Progress notes in list rows (characters). */
export const ROW_NOTE_CHARS = 160;
/** Structured JSON values (task input, result data, checkpoints) in answers (bytes of JSON, each). */
export const JSON_VALUE_BYTES = 8_000;

/**
 * Clips `text` to `max` characters, appending a note saying how much was left out and how to read
 * the rest (`pointer`, e.g. `call task_get with {"task_id": 7, "part": "spec", "offset": 16000}`).
 */
export function clip(text: string, max: number, pointer: string): string;
export function clip(text: string | null, max: number, pointer: string): string | null;
export function clip(text: string | null, max: number, pointer: string): string | null {
  if (text === null || text.length <= max) return text;
  return `${text.slice(0, max)}\n…[truncated: ${text.length - max} of ${text.length} characters left out; ${pointer}]`;
}

/** Replaces a JSON value larger than `maxBytes` with a note (the full value stays readable elsewhere). */
export function clipJson<T>(
  value: T,
  maxBytes: number,
  pointer: string,
): T | { truncated: true; bytes: number; note: string } {
  if (value === null || value === undefined) return value;
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes <= maxBytes) return value;
  return {
    truncated: true,
    bytes,
    note: `this JSON value (${bytes} bytes) is too large to show here; ${pointer}`,
  };
}

export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

/**
 * The last line of defence: if an answer is still too large, clip every long string in it (deeper
 * and deeper) until it fits. Tools clip their own fields first, with precise pointers.
 */
export function fitAnswer<T>(value: T, pointer: string, maxBytes = MAX_ANSWER_BYTES): T {
  if (jsonBytes(value) <= maxBytes) return value;
  for (let limit = 4_000; limit >= 50; limit = Math.floor(limit / 2)) {
    const clipped = clipStrings(value, limit, pointer) as T;
    if (jsonBytes(clipped) <= maxBytes) return clipped;
  }
  return clipStrings(value, 50, pointer) as T;
}

function clipStrings(value: unknown, limit: number, pointer: string): unknown {
  if (typeof value === 'string') return clip(value, limit, pointer);
  if (Array.isArray(value)) return value.map((v) => clipStrings(v, limit, pointer));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clipStrings(v, limit, pointer)]));
  }
  return value;
}
