/**
 * Reading request input (path ids, query parameters, JSON body fields) with errors that say what
 * is wrong: an InvalidInputError (→ 400) whose message names the field and what is accepted, and
 * whose `details.field` is its name. Text is checked as src/core/input.ts says (no NUL, no unpaired
 * surrogates, bounded), so a route refuses bad input before it does anything; the coordinator
 * checks again for every other front.
 */
import { InvalidInputError } from '../core/errors.js';
import { checkText, ID_MAX, TEXT_LIMITS } from '../core/input.js';
import type { Json } from '../core/types.js';

function refuse(field: string, message: string): never {
  throw new InvalidInputError(`${field} ${message}`, { field });
}

/** What a refused text was, briefly. */
function shown(value: string): string {
  return value.length > 40 ? `text of ${value.length} characters` : JSON.stringify(value);
}

/**
 * A path or query id (`42` or `#42`): an integer from 1 to 2^53 − 1. A larger one (say
 * 9223372036854775808) is refused here, never rounded or handed to a database.
 */
export function idOf(value: string | undefined, what: string): number {
  const m = value === undefined ? null : /^#?(\d{1,16})$/.exec(value.trim());
  const id = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(id) || id < 1)
    refuse(`${what} id`, `must be an integer from 1 to ${ID_MAX} (got ${shown(value ?? '')})`);
  return id;
}

/** An agent named in a path or query: an id (digits, as idOf) or a name. */
export function agentRefOf(value: string, what = 'agent'): number | string {
  if (/^#?\d+$/.test(value.trim())) return idOf(value, what);
  return checkText(what, value, TEXT_LIMITS.name, { nonEmpty: true });
}

/** An optional integer query parameter within bounds (digits only, with an optional minus sign). */
export function queryInt(url: URL, name: string, min: number, max: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return undefined;
  const n = /^-?\d{1,16}$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    refuse(`query parameter ${name}`, `must be an integer from ${min} to ${max} (got ${shown(raw)})`);
  return n;
}

/** An optional text query parameter (at most `max` characters, no NUL, no unpaired surrogate). */
export function queryText(url: URL, name: string, max: number = TEXT_LIMITS.filter): string | undefined {
  const raw = url.searchParams.get(name);
  return raw === null || raw === '' ? undefined : checkText(`query parameter ${name}`, raw, max);
}

/** A boolean flag query parameter: 1/true/yes. */
export function queryFlag(url: URL, name: string): boolean {
  const raw = url.searchParams.get(name);
  return raw !== null && /^(1|true|yes)$/i.test(raw);
}

/** A comma-separated (or repeated) list query parameter (each value as queryText). */
export function queryList(url: URL, name: string): string[] | undefined {
  const values = url.searchParams
    .getAll(name)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (values.length > 100) refuse(`query parameter ${name}`, 'must list at most 100 values');
  for (const v of values) checkText(`query parameter ${name}`, v, TEXT_LIMITS.filter);
  return values.length > 0 ? values : undefined;
}

export function optionalText(body: Record<string, unknown>, name: string, max = 200_000): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  return checkText(name, v, max);
}

export function requiredText(body: Record<string, unknown>, name: string, max = 200_000): string {
  const v = optionalText(body, name, max);
  if (v === undefined) refuse(name, `is required (text of at most ${max} characters)`);
  return v;
}

export function optionalBool(body: Record<string, unknown>, name: string): boolean | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') refuse(name, 'must be true or false');
  return v;
}

export function optionalNumber(
  body: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    refuse(name, `must be a number from ${min} to ${max}`);
  return v;
}

export function optionalStrings(body: Record<string, unknown>, name: string): string[] | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > 100 || v.some((x) => typeof x !== 'string'))
    refuse(name, 'must be a list of at most 100 text values');
  for (const x of v as string[]) checkText(name, x, TEXT_LIMITS.name);
  return v as string[];
}

export function optionalJson(body: Record<string, unknown>, name: string): Json | undefined {
  const v = body[name];
  return v === undefined ? undefined : (v as Json);
}

export function optionalObject(
  body: Record<string, unknown>,
  name: string,
): Record<string, unknown> | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) refuse(name, 'must be an object');
  return v as Record<string, unknown>;
}
