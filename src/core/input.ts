/**
 * The checks of values that come in from outside — the fronts (CLI, MCP, HTTP) and the public
 * TypeScript API — made once, above the stores, so that both backends refuse the same inputs in the
 * same way and before anything is written. The coordinator calls them at its entry points and
 * `normalizeBatch` (batch.ts) for the tasks it creates.
 *
 * What every backend can store exactly is what is accepted:
 *
 * - text has no NUL character (U+0000: PostgreSQL's text and jsonb cannot hold it) and no unpaired
 *   UTF-16 surrogate (U+D800–U+DFFF alone: not Unicode, and not storable as UTF-8), and is bounded;
 * - JSON values (task input and metadata, checkpoints, result data, client info) are plain JSON
 *   (null, booleans, finite numbers, text as above, arrays, objects whose keys are text as above),
 *   at most `JSON_MAX_DEPTH` levels deep and `JSON_MAX_CHARS` characters once serialised;
 * - integers (ids, priorities, attempts, times, lease lengths) are safe integers — at most
 *   Number.MAX_SAFE_INTEGER (2^53 − 1) in size, so never rounded — within each field's range.
 *
 * Every refusal is an InvalidInputError whose message names the field and what is accepted, and
 * whose `details.field` is the field's name.
 */
import { InvalidInputError } from './errors.js';
import type { Json } from './types.js';

/** Bounds of text fields (characters). The fronts may bound some lower (docs/http-api.md). */
export const TEXT_LIMITS = {
  /** A task's title. */
  title: 500,
  /** A task's spec. */
  spec: 200_000,
  /** A completed task's result. */
  result: 1_000_000,
  /** A failure's error, a review's feedback. */
  error: 100_000,
  feedback: 100_000,
  /** A progress note; the reason of a release or a cancellation. */
  note: 20_000,
  reason: 20_000,
  /** A workflow's name. */
  workflowName: 200,
  /** Who acts; a token's name. */
  name: 128,
  /** An agent's host. */
  host: 256,
  /** A lease token, an agent session (cns mints 32 hex digits; anything else is simply unknown). */
  token: 200,
  /** An idempotency key. */
  idempotencyKey: 256,
  /** A title search, a task type filter, an event kind. */
  filter: 500,
} as const;

/** The deepest nesting of a JSON value (an array or object inside another counts one level). */
export const JSON_MAX_DEPTH = 64;
/** The longest JSON value, in characters once serialised. */
export const JSON_MAX_CHARS = 1_000_000;

/** Ids of tasks, workflows, agents, tokens, events: 1 to 2^53 − 1. */
export const ID_MAX = Number.MAX_SAFE_INTEGER;
/** A task's priority: a 32-bit integer (higher first). */
export const PRIORITY_MIN = -2_147_483_648;
export const PRIORITY_MAX = 2_147_483_647;
/** Times (ms since 1970-01-01 UTC): up to the latest time a JavaScript Date can hold (year 275760). */
export const TIME_MAX = 8_640_000_000_000_000;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function refuse(field: string, message: string, details: Record<string, unknown> = {}): never {
  throw new InvalidInputError(`${field} ${message}`, { field, ...details });
}

/** What a refused value was, briefly (never the whole of a long text). */
function shown(value: unknown): string {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && !Number.isSafeInteger(value))
      return `${value < 0 ? 'a negative number' : 'a number'} beyond 2^53 − 1 in size, which cannot be represented exactly`;
    return String(value);
  }
  if (typeof value === 'string')
    return value.length > 40 ? `text of ${value.length} characters` : JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/** What every accepted text is. */
const STORABLE = 'without NUL characters or unpaired surrogates';

/** Why a string cannot be stored (a NUL, an unpaired surrogate), or null when it can. */
export function textProblem(value: string): string | null {
  const nul = value.indexOf('\u0000');
  if (nul >= 0) return `it has a NUL (\\u0000) at position ${nul}`;
  const m = LONE_SURROGATE.exec(value);
  if (m) return `it has an unpaired surrogate (\\u${m[0].charCodeAt(0).toString(16)}) at position ${m.index}`;
  return null;
}

/**
 * Text of at most `max` characters with no NUL and no unpaired surrogate; `nonEmpty`: not blank.
 * Returns it.
 */
export function checkText(
  field: string,
  value: unknown,
  max: number,
  options: { nonEmpty?: boolean } = {},
): string {
  const kind = `text of ${options.nonEmpty ? '1' : '0'} to ${max} characters ${STORABLE}`;
  if (typeof value !== 'string') refuse(field, `must be ${kind} (got ${shown(value)})`);
  if (value.length > max) refuse(field, `must be ${kind} (got ${value.length} characters)`, { max });
  if (options.nonEmpty && value.trim() === '') refuse(field, `must be ${kind}, not blank`);
  const problem = textProblem(value);
  if (problem) refuse(field, `must be ${kind} (${problem})`);
  return value;
}

/** Like checkText, and undefined (or null) passes as absent. */
export function checkOptionalText(field: string, value: unknown, max: number): string | undefined {
  return value === undefined || value === null ? undefined : checkText(field, value, max);
}

/** An integer from `min` to `max` (both safe integers). Returns it. */
export function checkInt(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    refuse(field, `must be an integer from ${min} to ${max} (got ${shown(value)})`, { min, max });
  return value;
}

/** A finite number from `min` to `max`. Returns it. */
export function checkNumber(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max)
    refuse(field, `must be a number from ${min} to ${max} (got ${shown(value)})`, { min, max });
  return value;
}

/** An id: an integer from 1 to 2^53 − 1. */
export function checkId(field: string, value: unknown): number {
  return checkInt(field, value, 1, ID_MAX);
}

/** true or false. */
export function checkBool(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') refuse(field, `must be true or false (got ${shown(value)})`);
  return value;
}

/** An agent by id (an integer from 1 to 2^53 − 1) or by name (text of 1 to 128 characters). */
export function checkAgentRef(field: string, value: unknown): number | string {
  const accepted = `must be an agent id (an integer from 1 to ${ID_MAX}) or an agent name (text of 1 to ${TEXT_LIMITS.name} characters)`;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 1) refuse(field, `${accepted} (got ${shown(value)})`);
    return value;
  }
  if (typeof value !== 'string' || value === '' || value.length > TEXT_LIMITS.name)
    refuse(field, `${accepted} (got ${shown(value)})`);
  const problem = textProblem(value);
  if (problem) refuse(field, `${accepted} (${problem})`);
  return value;
}

/**
 * Who acts: a name (deprecated) or an Actor `{ name, agentId, role }`; the name is text of 1 to 128
 * characters. Returns the name.
 */
export function checkActorName(field: string, value: unknown): string {
  const accepted = `is required: who acts, as an Actor { name, agentId, role } or a name (text of 1 to ${TEXT_LIMITS.name} characters)`;
  if (typeof value === 'string') return checkText(field, value, TEXT_LIMITS.name, { nonEmpty: true });
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    refuse(field, `${accepted} (got ${shown(value)})`);
  const { name, agentId } = value as { name?: unknown; agentId?: unknown };
  if (agentId !== undefined && agentId !== null) checkId(`${field}.agentId`, agentId);
  return checkText(`${field}.name`, name, TEXT_LIMITS.name, { nonEmpty: true });
}

/**
 * A JSON value that every backend stores as given: plain JSON, finite numbers, text without NUL or
 * unpaired surrogates (object keys included), at most JSON_MAX_DEPTH deep and JSON_MAX_CHARS long.
 * `object`: it must be an object (metadata). Returns it.
 */
export function checkJson(field: string, value: unknown, options: { object?: boolean } = {}): Json {
  const accepted = `must be a JSON ${options.object ? 'object' : 'value'} (finite numbers, text ${STORABLE}, at most ${JSON_MAX_DEPTH} levels deep and ${JSON_MAX_CHARS} characters)`;
  if (options.object && (value === null || typeof value !== 'object' || Array.isArray(value)))
    refuse(field, `${accepted} (got ${shown(value)})`);
  // Iterative, so a hostile nesting cannot exhaust the stack before the depth check.
  const stack: { v: unknown; depth: number; path: string }[] = [{ v: value, depth: 0, path: field }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (v === null || typeof v === 'boolean') continue;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) refuse(field, `${accepted}: ${path} is not a finite number`, { path });
      continue;
    }
    if (typeof v === 'string') {
      const problem = textProblem(v);
      if (problem) refuse(field, `${accepted}: ${path}: ${problem}`, { path });
      continue;
    }
    if (typeof v !== 'object') refuse(field, `${accepted}: ${path} is ${shown(v)}, not JSON`, { path });
    if (depth >= JSON_MAX_DEPTH)
      refuse(field, `${accepted}: ${path} is nested more than ${JSON_MAX_DEPTH} levels deep`, { path });
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--)
        stack.push({ v: v[i], depth: depth + 1, path: `${path}[${i}]` });
      continue;
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null)
      refuse(field, `${accepted}: ${path} is not a plain object`, { path });
    for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
      const problem = textProblem(k);
      if (problem) refuse(field, `${accepted}: a key of ${path}: ${problem}`, { path });
      if (item !== undefined) stack.push({ v: item, depth: depth + 1, path: `${path}.${k.slice(0, 40)}` });
    }
  }
  const chars = JSON.stringify(value)?.length ?? 0;
  if (chars > JSON_MAX_CHARS) refuse(field, `${accepted} (got ${chars} characters)`, { max: JSON_MAX_CHARS });
  return value as Json;
}

/** Like checkJson, and undefined passes as absent (null is a JSON value). */
export function checkOptionalJson(
  field: string,
  value: unknown,
  options: { object?: boolean } = {},
): Json | undefined {
  return value === undefined ? undefined : checkJson(field, value, options);
}

/** A list of at most `max` entries, each checked by `each`. Returns it. */
export function checkList<T>(
  field: string,
  value: unknown,
  max: number,
  each: (entryField: string, entry: unknown) => T,
): T[] {
  if (!Array.isArray(value) || value.length > max)
    refuse(
      field,
      `must be a list of at most ${max} entries (got ${shown(value)}${Array.isArray(value) ? ` of ${value.length}` : ''})`,
    );
  return value.map((entry, i) => each(`${field}[${i}]`, entry));
}

// ── the coordinator's entry points (structural: the core knows no store types) ───────────────────

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,127}$/;

/** An agent name, type or capability: 1-128 letters, digits or _.:/@- (so no NUL, no surrogates). */
export function checkName(field: string, value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value))
    refuse(field, `must be 1-128 letters, digits or _.:/@- (got ${shown(value)})`);
  return value;
}

/** An agent session: null, or text of at most 200 characters. */
export function checkSession(value: unknown): void {
  if (value !== null && value !== undefined) checkText('session', value, TEXT_LIMITS.token);
}

/** An agent's registration. */
export function checkRegistration(r: {
  name: unknown;
  type: unknown;
  capabilities?: unknown;
  host?: unknown;
  pid?: unknown;
  clientInfo?: unknown;
}): void {
  checkName('agent name', r.name);
  checkName('agent type', r.type);
  if (r.capabilities !== undefined && r.capabilities !== null)
    checkList('capabilities', r.capabilities, 100, (f, c) => checkName(f, c));
  checkOptionalText('host', r.host, TEXT_LIMITS.host);
  if (r.pid !== undefined && r.pid !== null) checkInt('pid', r.pid, 0, 2 ** 31);
  if (r.clientInfo !== undefined && r.clientInfo !== null) checkJson('clientInfo', r.clientInfo);
}

/** The agent (and session) a claim is made for. */
export function checkClaimant(agent: {
  id: unknown;
  name: unknown;
  type: unknown;
  session?: unknown;
  capabilities?: unknown;
}): void {
  checkId('agent id', agent.id);
  checkName('agent name', agent.name);
  checkName('agent type', agent.type);
  checkSession(agent.session);
  if (agent.capabilities !== undefined)
    checkList('capabilities', agent.capabilities, 100, (f, c) => checkName(f, c));
}

/** A task id and the lease token a holder's write presents. */
export function checkLease(taskId: unknown, leaseToken: unknown): void {
  checkId('task id', taskId);
  checkText('leaseToken', leaseToken, TEXT_LIMITS.token);
}

export function checkProgress(p: { note?: unknown; percent?: unknown; checkpoint?: unknown }): void {
  checkOptionalText('note', p.note, TEXT_LIMITS.note);
  if (p.percent !== undefined) checkNumber('percent', p.percent, 0, 100);
  if (p.checkpoint !== undefined) checkJson('checkpoint', p.checkpoint);
}

export function checkCompletion(c: { result: unknown; data?: unknown }): void {
  checkText('result', c.result, TEXT_LIMITS.result);
  if (c.data !== undefined) checkJson('data', c.data);
}

export function checkFailure(f: { error: unknown; retryable?: unknown }): void {
  if (typeof f.error !== 'string' || f.error.trim() === '')
    refuse('error', `must say what went wrong: text of 1 to ${TEXT_LIMITS.error} characters`);
  checkText('error', f.error, TEXT_LIMITS.error, { nonEmpty: true });
  if (f.retryable !== undefined) checkBool('retryable', f.retryable);
}

export function checkReview(
  taskId: unknown,
  r: { reviewer: unknown; approve: unknown; feedback?: unknown; reviewerAgentId?: unknown },
): void {
  checkId('task id', taskId);
  checkActorName('reviewer', r.reviewer);
  checkBool('approve', r.approve);
  checkOptionalText('feedback', r.feedback, TEXT_LIMITS.feedback);
  if (r.reviewerAgentId !== undefined && r.reviewerAgentId !== null)
    checkId('reviewerAgentId', r.reviewerAgentId);
}

/** A supervisor's write about a task or workflow: cancel, retry. */
export function checkSupervisorWrite(idField: string, id: unknown, actor: unknown, reason?: unknown): void {
  checkId(idField, id);
  checkActorName('actor', actor);
  checkOptionalText('reason', reason, TEXT_LIMITS.reason);
}

/** A page of a list: `limit` (clamped by the store) and the cursor `after`. */
export function checkPage(filter: { limit?: unknown; after?: unknown }): void {
  if (filter.limit !== undefined && filter.limit !== null) checkInt('limit', filter.limit, 0, ID_MAX);
  if (filter.after !== undefined && filter.after !== null) checkInt('after', filter.after, 0, ID_MAX);
}

export function checkTaskFilter(filter: {
  status?: unknown;
  type?: unknown;
  workflowId?: unknown;
  agentId?: unknown;
  search?: unknown;
  limit?: unknown;
  after?: unknown;
}): void {
  if (filter.status !== undefined)
    checkList('status', filter.status, 100, (f, s) => checkText(f, s, TEXT_LIMITS.filter));
  checkOptionalText('type', filter.type, TEXT_LIMITS.filter);
  checkOptionalText('search', filter.search, TEXT_LIMITS.filter);
  if (filter.workflowId !== undefined) checkId('workflow id', filter.workflowId);
  if (filter.agentId !== undefined) checkId('agent id', filter.agentId);
  checkPage(filter);
}

export function checkEventFilter(filter: {
  after?: unknown;
  taskId?: unknown;
  workflowId?: unknown;
  agentId?: unknown;
  kinds?: unknown;
  limit?: unknown;
}): void {
  if (filter.taskId !== undefined) checkId('task id', filter.taskId);
  if (filter.workflowId !== undefined) checkId('workflow id', filter.workflowId);
  if (filter.agentId !== undefined) checkId('agent id', filter.agentId);
  if (filter.kinds !== undefined)
    checkList('kind', filter.kinds, 100, (f, k) => checkText(f, k, TEXT_LIMITS.filter));
  checkPage(filter);
}

/** A token to store (the store checks its role and hash; these are the texts). */
export function checkNewToken(t: {
  name: unknown;
  agentName?: unknown;
  agentType?: unknown;
  capabilities?: unknown;
}): void {
  checkText('token name', t.name, TEXT_LIMITS.name, { nonEmpty: true });
  if (t.agentName !== undefined && t.agentName !== null) checkName('agent name', t.agentName);
  if (t.agentType !== undefined && t.agentType !== null) checkName('agent type', t.agentType);
  if (t.capabilities !== undefined && t.capabilities !== null)
    checkList('capabilities', t.capabilities, 100, (f, c) => checkName(f, c));
}

/** A question an agent asks about its task (the coordinator also checks its own rules). */
export function checkQuestionInput(q: {
  text?: unknown;
  choices?: unknown;
  context?: unknown;
  for?: unknown;
}): void {
  checkText('text', q.text, TEXT_LIMITS.note, { nonEmpty: true });
  if (q.choices !== undefined && q.choices !== null)
    checkList('choices', q.choices, 20, (f, c) => checkText(f, c, 500, { nonEmpty: true }));
  if (q.context !== undefined && q.context !== null) checkJson('context', q.context);
  if (q.for !== undefined && q.for !== null) checkName('for', q.for);
}

/** An answer to a question. */
export function checkAnswer(questionId: unknown, a: { answer?: unknown; by?: unknown }): void {
  checkId('question id', questionId);
  checkText('answer', a.answer, TEXT_LIMITS.feedback, { nonEmpty: true });
  checkActorName('by', a.by);
}

export function checkQuestionFilter(filter: {
  status?: unknown;
  taskId?: unknown;
  workflowId?: unknown;
  for?: unknown;
  limit?: unknown;
}): void {
  if (filter.status !== undefined)
    checkList('status', filter.status, 100, (f, s) => checkText(f, s, TEXT_LIMITS.filter));
  if (filter.taskId !== undefined) checkId('task id', filter.taskId);
  if (filter.workflowId !== undefined) checkId('workflow id', filter.workflowId);
  checkOptionalText('for', filter.for, TEXT_LIMITS.filter);
  checkPage({ limit: filter.limit });
}
