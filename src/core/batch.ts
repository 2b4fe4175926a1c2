import { InvalidInputError } from './errors.js';
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
  /** Higher first. Default 0. */
  priority?: number;
  /** Not claimable before. Default: now. */
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
const MAX_TITLE = 500;
const MAX_SPEC = 200_000;

/**
 * Validates a batch and orders it so dependencies come first. Throws InvalidInputError naming the
 * offending task (by ref or position) and what to change.
 */
export function normalizeBatch(
  input: CreateTasksInput,
  defaults: { maxAttempts: number; maxReviewRounds: number },
): NormalizedBatch {
  if (!Array.isArray(input.tasks) || input.tasks.length === 0) {
    throw new InvalidInputError('at least one task is required');
  }
  if (input.tasks.length > MAX_TASKS) {
    throw new InvalidInputError(
      `at most ${MAX_TASKS} tasks may be created at once (got ${input.tasks.length})`,
    );
  }
  if (input.workflow && input.workflowId !== undefined) {
    throw new InvalidInputError('give either a new workflow or an existing workflowId, not both');
  }
  if (input.workflow && (typeof input.workflow.name !== 'string' || input.workflow.name.trim() === '')) {
    throw new InvalidInputError('a workflow needs a non-empty name');
  }
  const refs = new Map<string, number>();
  input.tasks.forEach((t, i) => {
    const where = label(t, i);
    if (t === null || typeof t !== 'object') throw new InvalidInputError(`${where}: must be an object`);
    if (t.ref !== undefined) {
      if (typeof t.ref !== 'string' || !NAME.test(t.ref)) {
        throw new InvalidInputError(
          `${where}: ref must be 1-128 letters, digits or _.:/- (got ${JSON.stringify(t.ref)})`,
        );
      }
      if (refs.has(t.ref))
        throw new InvalidInputError(`${where}: ref "${t.ref}" is used twice in this batch`);
      refs.set(t.ref, i);
    }
    if (typeof t.type !== 'string' || !NAME.test(t.type)) {
      throw new InvalidInputError(
        `${where}: type is required: 1-128 letters, digits or _.:/- (got ${JSON.stringify(t.type)})`,
      );
    }
    if (typeof t.title !== 'string' || t.title.trim() === '')
      throw new InvalidInputError(`${where}: title is required`);
    if (t.title.length > MAX_TITLE)
      throw new InvalidInputError(`${where}: title is longer than ${MAX_TITLE} characters`);
    if (t.spec !== undefined && typeof t.spec !== 'string')
      throw new InvalidInputError(`${where}: spec must be text`);
    if ((t.spec ?? '').length > MAX_SPEC)
      throw new InvalidInputError(`${where}: spec is longer than ${MAX_SPEC} characters`);
    if (
      t.requires !== undefined &&
      (!Array.isArray(t.requires) || t.requires.some((c) => typeof c !== 'string' || !NAME.test(c)))
    ) {
      throw new InvalidInputError(`${where}: requires must be a list of capability names`);
    }
    if (t.priority !== undefined && !Number.isInteger(t.priority))
      throw new InvalidInputError(`${where}: priority must be an integer`);
    if (t.runAfter !== undefined && !Number.isFinite(t.runAfter))
      throw new InvalidInputError(`${where}: runAfter must be a time in ms`);
    if (
      t.maxAttempts !== undefined &&
      (!Number.isInteger(t.maxAttempts) || t.maxAttempts < 1 || t.maxAttempts > 1000)
    ) {
      throw new InvalidInputError(`${where}: maxAttempts must be an integer from 1 to 1000`);
    }
    if (
      t.maxReviewRounds !== undefined &&
      (!Number.isInteger(t.maxReviewRounds) || t.maxReviewRounds < 1 || t.maxReviewRounds > 100)
    ) {
      throw new InvalidInputError(`${where}: maxReviewRounds must be an integer from 1 to 100`);
    }
    if (
      t.idempotencyKey !== undefined &&
      (typeof t.idempotencyKey !== 'string' || t.idempotencyKey === '' || t.idempotencyKey.length > 256)
    ) {
      throw new InvalidInputError(`${where}: idempotencyKey must be 1-256 characters`);
    }
    if (t.dependsOn !== undefined && !Array.isArray(t.dependsOn))
      throw new InvalidInputError(`${where}: dependsOn must be a list`);
  });

  // Resolve dependencies and order topologically (Kahn), reporting a cycle by its refs.
  const n = input.tasks.length;
  const batchDeps: number[][] = [];
  const idDeps: number[][] = [];
  input.tasks.forEach((t, i) => {
    const b = new Set<number>();
    const ids = new Set<number>();
    for (const d of t.dependsOn ?? []) {
      if (typeof d === 'number') {
        if (!Number.isSafeInteger(d) || d <= 0)
          throw new InvalidInputError(`${label(t, i)}: dependency ${d} is not a task id`);
        ids.add(d);
      } else if (typeof d === 'string') {
        const asId = /^#(\d+)$/.exec(d);
        if (asId) {
          ids.add(Number(asId[1]));
          continue;
        }
        const j = refs.get(d);
        if (j === undefined) {
          throw new InvalidInputError(
            `${label(t, i)}: depends on "${d}", which is no ref in this batch (use a number for an existing task)`,
          );
        }
        if (j === i) throw new InvalidInputError(`${label(t, i)}: a task cannot depend on itself`);
        b.add(j);
      } else {
        throw new InvalidInputError(
          `${label(t, i)}: dependsOn entries must be refs (text) or task ids (numbers)`,
        );
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
    throw new InvalidInputError(`the dependencies form a cycle among: ${stuck.join(', ')}`);
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
  return t && typeof t.ref === 'string' ? `task "${t.ref}"` : `task #${i + 1} of the batch`;
}
