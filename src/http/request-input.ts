/**
 * Reading request input (path ids, query parameters, JSON body fields) with errors that say what
 * is wrong (InvalidInputError → 400).
 */
import { InvalidInputError } from '../core/errors.js';
import { parseId } from '../core/ids.js';
import type { Json } from '../core/types.js';

/** A path or query id (`42` or `#42`). */
export function idOf(value: string | undefined, what: string): number {
  const id = value === undefined ? null : parseId(value);
  if (id === null)
    throw new InvalidInputError(`${what} id must be a positive number (got ${JSON.stringify(value ?? '')})`);
  return id;
}

/** An optional integer query parameter within bounds. */
export function queryInt(url: URL, name: string, min: number, max: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new InvalidInputError(
      `query parameter ${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`,
    );
  return n;
}

/** An optional text query parameter. */
export function queryText(url: URL, name: string): string | undefined {
  const raw = url.searchParams.get(name);
  return raw === null || raw === '' ? undefined : raw;
}

/** A boolean flag query parameter: 1/true/yes. */
export function queryFlag(url: URL, name: string): boolean {
  const raw = url.searchParams.get(name);
  return raw !== null && /^(1|true|yes)$/i.test(raw);
}

/** A comma-separated (or repeated) list query parameter. */
export function queryList(url: URL, name: string): string[] | undefined {
  const values = url.searchParams
    .getAll(name)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  return values.length > 0 ? values : undefined;
}

export function optionalText(body: Record<string, unknown>, name: string, max = 200_000): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new InvalidInputError(`${name} must be text`);
  if (v.length > max) throw new InvalidInputError(`${name} must be at most ${max} characters`);
  return v;
}

export function requiredText(body: Record<string, unknown>, name: string, max = 200_000): string {
  const v = optionalText(body, name, max);
  if (v === undefined) throw new InvalidInputError(`${name} is required (text)`);
  return v;
}

export function optionalBool(body: Record<string, unknown>, name: string): boolean | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new InvalidInputError(`${name} must be true or false`);
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
    throw new InvalidInputError(`${name} must be a number from ${min} to ${max}`);
  return v;
}

export function optionalStrings(body: Record<string, unknown>, name: string): string[] | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw new InvalidInputError(`${name} must be a list of text values`);
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
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidInputError(`${name} must be an object`);
  return v as Record<string, unknown>;
}
