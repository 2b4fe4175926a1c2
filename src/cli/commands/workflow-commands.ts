import { extname } from 'node:path';
import type { Command } from 'commander';
import type { Coordinator } from '../../coordinator/coordinator.js';
import type { NewTask, NewWorkflow } from '../../core/batch.js';
import { CnsError, InvalidInputError } from '../../core/errors.js';
import { TASK_STATUSES } from '../../core/status.js';
import type { Json, Task, Workflow } from '../../core/types.js';
import {
  AS_HELP,
  intOption,
  parseTime,
  parseWorkflowId,
  readTextFile,
  resolveActor,
  withCoordinator,
} from '../context.js';
import { age, oneLine, print, printJson, table } from '../output.js';

/** `cns workflow …`: DAGs of tasks from a YAML/JSON file. */
export function registerWorkflowCommands(program: Command): void {
  const workflow = program
    .command('workflow')
    .description('create workflows (DAGs of tasks) from a YAML or JSON file; list, show and cancel them');

  workflow
    .command('add')
    .description('create a workflow and all its tasks at once (nothing is written if anything is wrong)')
    .argument('<file>', 'a YAML (.yaml/.yml) or JSON (.json) file; "-" reads stdin')
    .option('--as <name>', AS_HELP)
    .option('--json', 'print {workflow, tasks, created, ids} as JSON (ids: task id by ref)')
    .addHelpText(
      'after',
      `
File shape (snake_case keys; YAML or JSON):

  name: add-health-endpoint        # required
  review: false                    # default review setting for its tasks
  tasks:
    - ref: api                     # local name, used by depends_on
      type: backend                # required: the agent type that may take it
      title: Add GET /health       # required
      spec: |
        Return 200 and the version.
      requires: [node]             # capabilities the agent must have
      priority: 5                  # higher first (default 0)
    - ref: tests
      type: general
      title: Test /health
      depends_on: [api]            # refs in this file, or ids of existing tasks (numbers)
      review: true
      max_attempts: 2

Task keys: ${TASK_KEYS.join(', ')}.
Unknown keys, unknown refs, dependency cycles and missing types are refused with a message naming the task.`,
    )
    .action(async (file: string, opts: { as?: string; json?: boolean }, cmd: Command) => {
      const text = readTextFile(file, 'workflow file');
      const where = file === '-' ? 'stdin' : file;
      // The YAML parser is loaded here, not at the top: other commands do not pay for it.
      const { parse: parseYaml } = await import('yaml');
      const spec = parseWorkflowFile(text, where, file === '-' ? '' : extname(file).toLowerCase(), parseYaml);
      const res = await withCoordinator(cmd, async (c) => {
        const actor = await resolveActor(c, opts.as);
        try {
          return await c.createWorkflow(spec, actor);
        } catch (err) {
          if (err instanceof CnsError && err.code === 'invalid_input') {
            throw new InvalidInputError(`${where}: ${err.message}`, err.details);
          }
          throw err;
        }
      });
      const ids: Record<string, number> = {};
      for (const t of res.tasks) if (t.ref !== null) ids[t.ref] = t.id;
      if (opts.json) return printJson({ ...res, ids });
      const lines = [
        `workflow ${res.workflow?.id ?? '?'} "${oneLine(res.workflow?.name ?? spec.name)}": ${res.tasks.length} task(s)`,
      ];
      lines.push(
        table(
          res.tasks.map((t, i) => ({ t, created: res.created[i] })),
          [
            { header: 'REF', get: (r) => r.t.ref ?? '-' },
            { header: 'ID', get: (r) => r.t.id, align: 'right' },
            { header: 'STATUS', get: (r) => r.t.status + (r.created ? '' : ' (existing)') },
            { header: 'TITLE', get: (r) => r.t.title, max: 60 },
          ],
        ),
      );
      print(lines.join('\n'));
    });

  workflow
    .command('list')
    .description('list workflows with their derived status and task counts')
    .option('--limit <n>', 'page size (default 50, at most 500)', intOption('--limit', 1, 500))
    .option(
      '--after <cursor>',
      'the next page: the cursor printed at the end of the previous one',
      intOption('--after', 0),
    )
    .option('--json', 'print {items, nextCursor} as JSON')
    .action(async (opts: { limit?: number; after?: number; json?: boolean }, cmd: Command) => {
      await withCoordinator(
        cmd,
        async (c) => {
          const [page, now] = await Promise.all([
            c.listWorkflows({ limit: opts.limit, after: opts.after }),
            c.now(),
          ]);
          if (opts.json) return printJson(page);
          if (page.items.length === 0) return print('no workflows yet (create one: cns workflow add FILE)');
          print(
            table(page.items, [
              { header: 'ID', get: (w) => w.id, align: 'right' },
              { header: 'NAME', get: (w) => w.name, max: 40 },
              { header: 'STATUS', get: (w) => w.status },
              { header: 'TASKS', get: (w) => formatCounts(w) },
              { header: 'AGE', get: (w) => age(now - w.createdAt), align: 'right' },
            ]),
          );
          if (page.nextCursor !== null) print(`more: add --after ${page.nextCursor} for the next page`);
        },
        { sweep: true },
      );
    });

  workflow
    .command('show')
    .description('a workflow and its tasks in dependency order, with status and dependencies')
    .argument('<id>', 'the workflow id')
    .option('--json', 'print {workflow, tasks} as JSON (tasks in dependency order)')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const workflowId = parseWorkflowId(id);
      await withCoordinator(
        cmd,
        async (c) => {
          const wf = await c.getWorkflow(workflowId);
          const tasks = dependencyOrder(await allTasks(c, workflowId));
          if (opts.json) return printJson({ workflow: wf, tasks });
          const byId = new Map(tasks.map((t) => [t.id, t]));
          const dep = (d: number) => byId.get(d)?.ref ?? `#${d}`;
          print(
            [
              `workflow ${wf.id} "${oneLine(wf.name)}": ${wf.status} — ${formatCounts(wf)}`,
              table(tasks, [
                { header: 'ID', get: (t) => t.id, align: 'right' },
                { header: 'REF', get: (t) => t.ref ?? '-', max: 24 },
                { header: 'STATUS', get: (t) => t.status },
                { header: 'TYPE', get: (t) => t.type, max: 20 },
                { header: 'TITLE', get: (t) => t.title, max: 50 },
                { header: 'DEPENDS ON', get: (t) => t.dependsOn.map(dep).join(',') || '-', max: 40 },
                { header: 'AGENT', get: (t) => t.lease?.agentName ?? '', max: 24 },
              ]),
            ].join('\n'),
          );
        },
        { sweep: true },
      );
    });

  workflow
    .command('cancel')
    .description('cancel every non-final task of a workflow (holders lose their leases)')
    .argument('<id>', 'the workflow id')
    .option('--reason <text>', 'why (recorded in the event log)')
    .option('--as <name>', AS_HELP)
    .option('--json', 'print the cancelled tasks as JSON')
    .action(async (id: string, opts: { reason?: string; as?: string; json?: boolean }, cmd: Command) => {
      const workflowId = parseWorkflowId(id);
      const changed = await withCoordinator(cmd, async (c) => {
        await c.getWorkflow(workflowId); // not found → exit 3
        return c.cancelWorkflow(workflowId, await resolveActor(c, opts.as), opts.reason);
      });
      if (opts.json) return printJson(changed);
      print(
        `cancelled ${changed.length} task(s) of workflow ${workflowId}${changed.length ? `: ${changed.map((t) => t.id).join(', ')}` : ''}`,
      );
    });
}

// ── the workflow file ───────────────────────────────────────────────────────────────────────────

const WORKFLOW_KEYS = ['name', 'review', 'tasks', 'metadata'];

/** snake_case file key → NewTask key. */
const TASK_KEY_MAP = {
  ref: 'ref',
  type: 'type',
  title: 'title',
  spec: 'spec',
  depends_on: 'dependsOn',
  requires: 'requires',
  priority: 'priority',
  review: 'review',
  max_attempts: 'maxAttempts',
  max_review_rounds: 'maxReviewRounds',
  input: 'input',
  idempotency_key: 'idempotencyKey',
  run_after: 'runAfter',
  metadata: 'metadata',
} as const satisfies Record<string, keyof NewTask>;

const TASK_KEYS = Object.keys(TASK_KEY_MAP);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Parses and checks a workflow file into the coordinator's input (dependencies are checked there). */
export function parseWorkflowFile(
  text: string,
  where: string,
  ext: string,
  parseYaml: (text: string) => unknown,
): NewWorkflow & { tasks: NewTask[] } {
  let doc: unknown;
  try {
    doc = ext === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    const kind = ext === '.json' ? 'JSON' : 'YAML (or JSON)';
    throw new InvalidInputError(`${where} is not valid ${kind}: ${oneLine((err as Error).message, 300)}`);
  }
  if (doc === null || doc === undefined) throw new InvalidInputError(`${where} is empty`);
  if (!isObj(doc)) throw new InvalidInputError(`${where}: expected a mapping with name and tasks`);
  const bad = (msg: string) => new InvalidInputError(`${where}: ${msg}`);
  for (const key of Object.keys(doc)) {
    if (!WORKFLOW_KEYS.includes(key))
      throw bad(`unknown key "${key}" at the top level (known: ${WORKFLOW_KEYS.join(', ')})`);
  }
  if (typeof doc.name !== 'string' || doc.name.trim() === '') throw bad('"name" is required (text)');
  if (doc.review !== undefined && typeof doc.review !== 'boolean')
    throw bad('"review" must be true or false');
  if (doc.metadata !== undefined && !isObj(doc.metadata)) throw bad('"metadata" must be a mapping');
  if (!Array.isArray(doc.tasks) || doc.tasks.length === 0) throw bad('"tasks" must be a non-empty list');

  const tasks = doc.tasks.map((raw: unknown, i: number): NewTask => {
    const label = isObj(raw) && typeof raw.ref === 'string' ? `task "${raw.ref}"` : `task #${i + 1}`;
    const badTask = (msg: string) => bad(`${label}: ${msg}`);
    if (!isObj(raw)) throw badTask('must be a mapping (ref, type, title, …)');
    const out: Obj = {};
    for (const [key, value] of Object.entries(raw)) {
      if (!(key in TASK_KEY_MAP)) {
        const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
        const hint = snake !== key && snake in TASK_KEY_MAP ? ` (did you mean "${snake}"?)` : '';
        throw badTask(`unknown key "${key}"${hint} (known: ${TASK_KEYS.join(', ')})`);
      }
      if (value === null || value === undefined) continue;
      out[TASK_KEY_MAP[key as keyof typeof TASK_KEY_MAP]] = value;
    }
    const list = (
      key: string,
      v: unknown,
      ok: (x: unknown) => boolean,
      what: string,
    ): unknown[] | undefined => {
      if (v === undefined) return undefined;
      const arr = Array.isArray(v) ? v : [v];
      if (!arr.every(ok)) throw badTask(`"${key}" must be ${what}`);
      return arr;
    };
    out.requires = list('requires', out.requires, (x) => typeof x === 'string', 'a list of capability names');
    out.dependsOn = list(
      'depends_on',
      out.dependsOn,
      (x) => typeof x === 'string' || (typeof x === 'number' && Number.isInteger(x)),
      'a list of refs (text) or existing task ids (numbers)',
    );
    if (out.ref !== undefined && typeof out.ref !== 'string') out.ref = String(out.ref as Json);
    if (out.spec !== undefined && typeof out.spec !== 'string') throw badTask('"spec" must be text');
    if (out.title !== undefined && typeof out.title !== 'string') throw badTask('"title" must be text');
    if (out.review !== undefined && typeof out.review !== 'boolean')
      throw badTask('"review" must be true or false');
    if (out.metadata !== undefined && !isObj(out.metadata)) throw badTask('"metadata" must be a mapping');
    if (out.idempotencyKey !== undefined && typeof out.idempotencyKey !== 'string')
      out.idempotencyKey = String(out.idempotencyKey as Json);
    for (const [key, field] of [
      ['priority', 'priority'],
      ['max_attempts', 'maxAttempts'],
      ['max_review_rounds', 'maxReviewRounds'],
    ] as const) {
      if (out[field] !== undefined && !Number.isInteger(out[field]))
        throw badTask(`"${key}" must be an integer`);
    }
    if (out.runAfter !== undefined) {
      if (typeof out.runAfter !== 'string')
        throw badTask('"run_after" must be an ISO time or a delay like +5m');
      out.runAfter = parseTime(`${label} run_after`, out.runAfter);
    }
    for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
    return out as unknown as NewTask;
  });
  return {
    name: doc.name.trim(),
    review: doc.review as boolean | undefined,
    metadata: doc.metadata as Record<string, Json> | undefined,
    tasks,
  };
}

// ── reading ─────────────────────────────────────────────────────────────────────────────────────

async function allTasks(c: Coordinator, workflowId: number): Promise<Task[]> {
  const tasks: Task[] = [];
  let after: number | undefined;
  for (;;) {
    const page = await c.listTasks({ workflowId, limit: 500, after });
    tasks.push(...page.items);
    if (page.nextCursor === null) return tasks;
    after = page.nextCursor;
  }
}

/** Tasks ordered so that each comes after the tasks (of the same list) it depends on; ties by id. */
export function dependencyOrder(tasks: Task[]): Task[] {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const done = new Set<number>();
  const out: Task[] = [];
  const remaining = [...tasks].sort((a, b) => a.id - b.id);
  while (remaining.length > 0) {
    const i = remaining.findIndex((t) => t.dependsOn.every((d) => !byId.has(d) || done.has(d)));
    const next = remaining.splice(i === -1 ? 0 : i, 1)[0]!; // -1: a cycle (cannot happen); keep going
    done.add(next.id);
    out.push(next);
  }
  return out;
}

function formatCounts(w: Workflow): string {
  return (
    TASK_STATUSES.filter((s) => (w.counts[s] ?? 0) > 0)
      .map((s) => `${w.counts[s]} ${s}`)
      .join(', ') || 'no tasks'
  );
}
