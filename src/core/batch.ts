import { InvalidInputError } from './errors.js';
import {
  checkActorName,
  checkBool,
  checkId,
  checkInt,
  checkJson,
  checkText,
  ID_MAX,
  PRIORITY_MAX,
  PRIORITY_MIN,
  TEXT_LIMITS,
  TIME_MAX,
} from './input.js';
import type { Json, Millis } from './types.js';

/** A task to create. Defaults are applied by `normalizeBatch`. */
export interface NewTask {
  /** Local reference, unique within the batch; other tasks of the batch depend on it by this name. */
  ref?: string;
  type: string;
  title: string;
  spec?: string;
  input?: Json;
  /** Capabilities the agent must have. Default none. */
  requires?: string[];
  /** Higher first: an integer from -2147483648 to 2147483647. Default 0. */
  priority?: number;
  /** Not claimable before (ms since 1970, an integer from 0 to 8640000000000000). Default: now. */
  runAfter?: Millis;
  /** Numbers are ids of existing tasks; strings are refs of tasks in the same batch. */
  dependsOn?: (number | string)[];
  /** Default: the policy's maxAttempts (3). */
  maxAttempts?: number;
  /** Default: the workflow's review setting, else false. */
  review?: boolean;
  /** Default: the policy's maxReviewRounds (3). */
  maxReviewRounds?: number;
  /** The same key returns the existing task instead of creating another. */
  idempotencyKey?: string;
  metadata?: Record<string, Json>;
}

export interface NewWorkflow {
  name: string;
  /** Default review setting for its tasks. */
  review?: boolean;
  metadata?: Record<string, Json>;
}

export interface CreateTasksInput {
  /** Create a workflow holding the tasks. */
  workflow?: NewWorkflow;
  /** Or add the tasks to an existing workflow. */
  workflowId?: number;
  tasks: NewTask[];
  /** Who creates them (recorded in events). */
  actor: string;
}

/** A validated task ready to insert: dependencies split into batch indices and existing ids. */
export interface NormalizedTask {
  ref: string | null;
  type: string;
  title: string;
  spec: string;
  input: Json | null;
  requires: string[];
  priority: number;
  runAfter: Millis | null;
  /** Indices (into the normalized array) of batch tasks this one depends on; always smaller than its own index. */
  dependsOnIndices: number[];
  /** Ids of existing tasks this one depends on. */
  dependsOnIds: number[];
  maxAttempts: number;
  review: boolean;
  maxReviewRounds: number;
  idempotencyKey: string | null;
  metadata: Record<string, Json>;
}

export interface NormalizedBatch {
  workflow: NewWorkflow | null;
  workflowId: number | null;
  /** Topologically ordered: every task comes after the batch tasks it depends on. */
  tasks: NormalizedTask[];
  /** For each normalized task, its index in the input (so results can be returned in input order). */
  inputIndex: number[];
  actor: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$/;
const MAX_TASKS = 1_000;
const MAX_TITLE = TEXT_LIMITS.title;
const MAX_SPEC = TEXT_LIMITS.spec;
/** The most entries a task's `requires` or `dependsOn` may list. */
const MAX_LIST = 1_000;

/**
 * Validates a batch and orders it so dependencies come first. Throws InvalidInputError naming the
 * offending task (by ref or position) and what to change; its `details.field` names the field.
 * Every value is checked as input.ts says (no NUL or unpaired surrogates in text or JSON, bounded
 * sizes, integers within their ranges), so no backend is ever handed what it cannot store.
 * Fields it does not know are ignored.
 */
export function normalizeBatch(
  input: CreateTasksInput,
  defaults: { maxAttempts: number; maxReviewRounds: number },
): NormalizedBatch {
  checkActorName('actor', input.actor);
  if (!Array.isArray(input.tasks) || input.tasks.length === 0) {
    throw new InvalidInputError('at least one task is required', { field: 'tasks' });
  }
  if (input.tasks.length > MAX_TASKS) {
    throw new InvalidInputError(
      `at most ${MAX_TASKS} tasks may be created at once (got ${input.tasks.length})`,
      { field: 'tasks' },
    );
  }
  if (input.workflow != null && input.workflowId != null) {
    throw new InvalidInputError('give either a new workflow or an existing workflowId, not both', {
      field: 'workflowId',
    });
  }
  if (input.workflowId != null) checkId('workflowId', input.workflowId);
  if (input.workflow != null) {
    const wf = input.workflow as unknown;
    if (typeof wf !== 'object' || Array.isArray(wf))
      throw new InvalidInputError('workflow must be an object { name, review?, metadata? }', {
        field: 'workflow',
      });
    checkText('workflow name', input.workflow.name, TEXT_LIMITS.workflowName, { nonEmpty: true });
    if (input.workflow.review != null) checkBool('workflow review', input.workflow.review);
    if (input.workflow.metadata != null)
      checkJson('workflow metadata', input.workflow.metadata, { object: true });
  }
  const refs = new Map<string, number>();
  input.tasks.forEach((t, i) => {
    const where = label(t, i);
    /** Refuses with the task named: `details` has the field, the task's position and ref. */
    const at = <T>(field: string, check: () => T): T => {
      try {
        return check();
      } catch (err) {
        if (!(err instanceof InvalidInputError)) throw err;
        throw new InvalidInputError(`${where}: ${err.message}`, {
          ...err.details,
          field,
          index: i,
          ...(typeof t?.ref === 'string' ? { ref: t.ref } : {}),
        });
      }
    };
    const fail: (field: string, message: string) => never = (field, message) =>
      at(field, () => {
        throw new InvalidInputError(message, { field });
      });
    if (t === null || typeof t !== 'object' || Array.isArray(t)) fail('tasks', 'a task must be an object');
    if (t.ref != null) {
      if (typeof t.ref !== 'string' || !NAME.test(t.ref)) {
        fail('ref', `ref must be 1-128 letters, digits or _.:/- (got ${shortJson(t.ref)})`);
      }
      if (refs.has(t.ref)) fail('ref', `ref "${t.ref}" is used twice in this batch`);
      refs.set(t.ref, i);
    }
    if (typeof t.type !== 'string' || !NAME.test(t.type)) {
      fail('type', `type is required: 1-128 letters, digits or _.:/- (got ${shortJson(t.type)})`);
    }
    if (t.title === undefined || t.title === null || (typeof t.title === 'string' && t.title.trim() === ''))
      fail('title', `title is required: text of 1 to ${MAX_TITLE} characters`);
    at('title', () => checkText('title', t.title, MAX_TITLE, { nonEmpty: true }));
    if (t.spec != null) at('spec', () => checkText('spec', t.spec, MAX_SPEC));
    if (t.input !== undefined) at('input', () => checkJson('input', t.input));
    if (
      t.requires != null &&
      (!Array.isArray(t.requires) ||
        t.requires.length > MAX_LIST ||
        t.requires.some((c) => typeof c !== 'string' || !NAME.test(c)))
    ) {
      fail(
        'requires',
        `requires must be a list of at most ${MAX_LIST} capability names (1-128 letters, digits or _.:/-)`,
      );
    }
    if (t.priority != null)
      at('priority', () => checkInt('priority', t.priority, PRIORITY_MIN, PRIORITY_MAX));
    if (t.runAfter != null)
      at('runAfter', () => checkInt('runAfter (a time in ms)', t.runAfter, 0, TIME_MAX));
    if (t.maxAttempts != null) at('maxAttempts', () => checkInt('maxAttempts', t.maxAttempts, 1, 1000));
    if (t.maxReviewRounds != null)
      at('maxReviewRounds', () => checkInt('maxReviewRounds', t.maxReviewRounds, 1, 100));
    if (t.review != null) at('review', () => checkBool('review', t.review));
    if (t.idempotencyKey != null)
      at('idempotencyKey', () =>
        checkText('idempotencyKey', t.idempotencyKey, TEXT_LIMITS.idempotencyKey, { nonEmpty: true }),
      );
    if (t.metadata != null) at('metadata', () => checkJson('metadata', t.metadata, { object: true }));
    if (t.dependsOn != null && (!Array.isArray(t.dependsOn) || t.dependsOn.length > MAX_LIST))
      fail('dependsOn', `dependsOn must be a list of at most ${MAX_LIST} refs or task ids`);
  });

  // Resolve dependencies and order topologically (Kahn), reporting a cycle by its refs.
  const n = input.tasks.length;
  const batchDeps: number[][] = [];
  const idDeps: number[][] = [];
  input.tasks.forEach((t, i) => {
    const b = new Set<number>();
    const ids = new Set<number>();
    for (const d of t.dependsOn ?? []) {
      const refused: (message: string) => never = (message) => {
        throw new InvalidInputError(`${label(t, i)}: ${message}`, { field: 'dependsOn', index: i });
      };
      if (typeof d === 'number') {
        if (!Number.isSafeInteger(d) || d <= 0)
          refused(`dependency ${d} is not a task id (an integer from 1 to ${ID_MAX})`);
        ids.add(d);
      } else if (typeof d === 'string') {
        const asId = /^#(\d+)$/.exec(d);
        if (asId) {
          const id = Number(asId[1]);
          if (!Number.isSafeInteger(id) || id <= 0)
            refused(`dependency ${shortJson(d)} is not a task id (#1 to #${ID_MAX})`);
          ids.add(id);
          continue;
        }
        const j = refs.get(d);
        if (j === undefined) {
          refused(
            `depends on ${shortJson(d)}, which is no ref in this batch (use a number for an existing task)`,
          );
        }
        if (j === i) refused('a task cannot depend on itself');
        b.add(j);
      } else {
        refused('dependsOn entries must be refs (text) or task ids (numbers)');
      }
    }
    batchDeps.push([...b]);
    idDeps.push([...ids]);
  });
  const indegree = batchDeps.map((d) => d.length);
  const dependents: number[][] = Array.from({ length: n }, () => []);
  batchDeps.forEach((deps, i) => deps.forEach((j) => dependents[j]!.push(i)));
  const order: number[] = [];
  const ready = indegree.flatMap((d, i) => (d === 0 ? [i] : []));
  while (ready.length > 0) {
    const i = ready.shift()!;
    order.push(i);
    for (const k of dependents[i]!) if (--indegree[k]! === 0) ready.push(k);
  }
  if (order.length < n) {
    const stuck = input.tasks.flatMap((t, i) => (indegree[i]! > 0 ? [label(t, i)] : []));
    throw new InvalidInputError(`the dependencies form a cycle among: ${stuck.join(', ')}`, {
      field: 'dependsOn',
    });
  }
  const position = new Map(order.map((orig, pos) => [orig, pos]));
  const wfReview = input.workflow?.review ?? false;
  const tasks = order.map((orig): NormalizedTask => {
    const t = input.tasks[orig]!;
    return {
      ref: t.ref ?? null,
      type: t.type,
      title: t.title.trim(),
      spec: t.spec ?? '',
      input: t.input ?? null,
      requires: [...new Set(t.requires ?? [])].sort(),
      priority: t.priority ?? 0,
      runAfter: t.runAfter ?? null,
      dependsOnIndices: batchDeps[orig]!.map((j) => position.get(j)!),
      dependsOnIds: idDeps[orig]!,
      maxAttempts: t.maxAttempts ?? defaults.maxAttempts,
      review: t.review ?? wfReview,
      maxReviewRounds: t.maxReviewRounds ?? defaults.maxReviewRounds,
      idempotencyKey: t.idempotencyKey ?? null,
      metadata: t.metadata ?? {},
    };
  });
  return {
    workflow: input.workflow ?? null,
    workflowId: input.workflowId ?? null,
    tasks,
    inputIndex: order,
    actor: input.actor,
  };
}

function label(t: { ref?: unknown } | null, i: number): string {
  return t && typeof t.ref === 'string' && NAME.test(t.ref)
    ? `task "${t.ref}"`
    : `task #${i + 1} of the batch`;
}

/** A value as JSON, cut short (a refusal quotes what it refused, never a whole long text). */
function shortJson(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? 'a list' : typeof value; // nested too deeply to print
  }
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
