import { hostname } from 'node:os';
import { Option, type Command } from 'commander';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { describeReason } from '../../coordinator/explain.js';
import type { NewTask } from '../../core/batch.js';
import { InvalidInputError } from '../../core/errors.js';
import { isFinal, TASK_STATUSES, type TaskStatus } from '../../core/status.js';
import type { Agent, Attempt, ClaimedTask, DependencyResult, Json, Task } from '../../core/types.js';
import type { TaskFilter } from '../../store/store.js';
import {
  AS_HELP,
  collect,
  collectTaskIds,
  DEFAULT_ACTOR,
  intOption,
  numberOption,
  parseJson,
  parseTaskId,
  parseTime,
  parseWorkflowId,
  readTextFile,
  resolveActor,
  withCoordinator,
} from '../context.js';
import { EXIT } from '../errors.js';
import { age, indent, iso, oneLine, print, printErr, printJson, table, toJson, when } from '../output.js';
import { formatEvent } from './events-command.js';
import { formatQuestion } from './question-commands.js';

const TOKEN_HELP =
  'the lease token printed by "cns task claim" (fencing: a stale token changes nothing, exit 5)';

/** `cns task …`: create, inspect and steer tasks; and the agent's side for shell scripts. */
export function registerTaskCommands(program: Command): void {
  const task = program
    .command('task')
    .description('create, list, inspect and steer tasks; act as an agent from a shell (claim/complete/fail)')
    .addHelpText(
      'after',
      `
Supervisor side:  add, list, show, cancel, retry, review, assign
Agent side:       claim, progress, heartbeat, complete, fail, release, ask  (each write needs --token)
Questions:        cns questions (the inbox), cns answer ID TEXT…

Task ids are numbers; "#42" is accepted too.`,
    );

  registerAdd(task);
  registerList(task);
  registerShow(task);
  registerCancel(task);
  registerRetry(task);
  registerReview(task);
  registerAssign(task);
  registerClaim(task);
  registerComplete(task);
  registerFail(task);
  registerRelease(task);
  registerProgress(task);
  registerHeartbeat(task);
  registerAsk(task);
}

// ── supervisor side ─────────────────────────────────────────────────────────────────────────────

interface AddOptions {
  type: string;
  title: string;
  spec?: string;
  specFile?: string;
  input?: string;
  requires?: string[];
  priority?: number;
  runAfter?: string;
  dependsOn?: number[];
  maxAttempts?: number;
  review?: boolean;
  idempotencyKey?: string;
  workflow?: string;
  as?: string;
  json?: boolean;
}

function registerAdd(task: Command): void {
  task
    .command('add')
    .description('queue a task; prints its id')
    .requiredOption('--type <type>', 'the agent type that may take it (e.g. backend, general)')
    .requiredOption('--title <text>', 'a one-line title')
    .addOption(new Option('--spec <text>', 'the specification (free text / markdown)').conflicts('specFile'))
    .option('--spec-file <file>', 'read the specification from a file ("-" for stdin)')
    .option('--input <json>', 'structured input for the agent (JSON)')
    .option(
      '--requires <capability>',
      'a capability the agent must have (repeatable, or comma-separated)',
      collect,
    )
    .option('--priority <n>', 'higher runs first (default 0)', intOption('--priority'))
    .option(
      '--run-after <time>',
      'not claimable before: an ISO time or a delay like +30s, +5m, +2h (default now)',
    )
    .option(
      '--depends-on <id>',
      'a task that must complete first (repeatable); its result is handed over',
      collectTaskIds,
    )
    .option(
      '--max-attempts <n>',
      'claims before it fails for good (default 3, env CNS_MAX_ATTEMPTS)',
      intOption('--max-attempts', 1, 1000),
    )
    .option('--review', 'a completion goes to awaiting_review until approved (default: no review)')
    .option('--idempotency-key <key>', 'the same key returns the existing task instead of creating another')
    .option('--workflow <id>', 'add the task to an existing workflow')
    .option('--as <name>', AS_HELP)
    .option('--json', 'print {created, task} as JSON')
    .addHelpText(
      'after',
      `
Examples:
  cns task add --type backend --title "Add /health endpoint" --spec "Return 200 with the version"
  id=$(cns task add --type general --title "Write tests" --depends-on 12 --priority 5)
  cns task add --type general --title "Nightly" --run-after +2h --idempotency-key nightly-2026-05-01

Prints the id on stdout. When --idempotency-key matches an existing task, prints that task's id
and says "existing" on stderr; nothing is created.`,
    )
    .action(async (opts: AddOptions, cmd: Command) => {
      const spec = opts.specFile !== undefined ? readTextFile(opts.specFile, 'spec file') : opts.spec;
      const newTask: NewTask & { workflowId?: number } = {
        type: opts.type,
        title: opts.title,
        spec,
        input: opts.input !== undefined ? parseJson('--input', opts.input) : undefined,
        requires: opts.requires,
        priority: opts.priority,
        runAfter: opts.runAfter !== undefined ? parseTime('--run-after', opts.runAfter) : undefined,
        dependsOn: opts.dependsOn,
        maxAttempts: opts.maxAttempts,
        review: opts.review,
        idempotencyKey: opts.idempotencyKey,
        workflowId: opts.workflow !== undefined ? parseWorkflowId(opts.workflow) : undefined,
      };
      const { task: created, created: isNew } = await withCoordinator(cmd, async (c) =>
        c.createTask(newTask, await resolveActor(c, opts.as)),
      );
      if (opts.json) return printJson({ created: isNew, task: created });
      print(String(created.id));
      if (!isNew) printErr(`cns: existing task ${created.id} (idempotency key matched); nothing was created`);
    });
}

interface ListOptions {
  status?: string[];
  type?: string;
  workflow?: string;
  agent?: string;
  search?: string;
  limit?: number;
  after?: string;
  json?: boolean;
}

function registerList(task: Command): void {
  task
    .command('list')
    .description('list tasks (oldest first), one concise row each')
    .option(
      '--status <status>',
      `only these statuses (repeatable or comma-separated): ${TASK_STATUSES.join(', ')}`,
      collect,
    )
    .option('--type <type>', 'only tasks of this agent type')
    .option('--workflow <id>', 'only tasks of this workflow')
    .option('--agent <name>', 'only tasks this agent holds or was assigned')
    .option('--search <text>', 'title contains this text (case-insensitive)')
    .option('--limit <n>', 'page size (default 50, at most 500)', intOption('--limit', 1, 500))
    .option('--after <cursor>', 'the next page: the cursor printed at the end of the previous one')
    .option('--json', 'print {items, nextCursor} as JSON')
    .addHelpText(
      'after',
      `
Examples:
  cns task list --status pending,in_progress
  cns task list --workflow 3 --json | jq '.items[] | {id, status}'`,
    )
    .action(async (opts: ListOptions, cmd: Command) => {
      await withCoordinator(
        cmd,
        async (c) => {
          const filter: TaskFilter = {
            status: opts.status?.map(parseStatus),
            type: opts.type,
            workflowId: opts.workflow !== undefined ? parseWorkflowId(opts.workflow) : undefined,
            search: opts.search,
            limit: opts.limit,
            after: opts.after !== undefined ? parseCursor(opts.after) : undefined,
          };
          if (opts.agent !== undefined) filter.agentId = (await c.getAgent(opts.agent)).id;
          const page = await c.listTasks(filter);
          if (opts.json) return printJson(page);
          if (page.items.length === 0) return print('no tasks match');
          const [agents, now] = await Promise.all([agentNames(c), c.now()]);
          print(
            table(page.items, [
              { header: 'ID', get: (t) => t.id, align: 'right' },
              { header: 'STATUS', get: (t) => t.status },
              { header: 'TYPE', get: (t) => t.type, max: 20 },
              { header: 'PRI', get: (t) => t.priority, align: 'right' },
              { header: 'TITLE', get: (t) => t.title, max: 50 },
              { header: 'AGENT', get: (t) => holder(t, agents), max: 24 },
              { header: 'AGE', get: (t) => age(now - t.createdAt), align: 'right' },
            ]),
          );
          if (page.nextCursor !== null) print(`more: add --after ${page.nextCursor} for the next page`);
        },
        { sweep: true },
      );
    });
}

function registerShow(task: Command): void {
  task
    .command('show')
    .description(
      'everything about a task: spec, dependencies and their results, progress, attempts, result, why it is not moving, recent events',
    )
    .argument('<id>', 'the task id')
    .option('--json', 'print {task, dependencies, dependents, attempts, events, explanation} as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const taskId = parseTaskId(id);
      await withCoordinator(
        cmd,
        async (c) => {
          const detail = await c.getTaskDetail(taskId);
          if (opts.json) return printJson(detail);
          const [agents, now] = await Promise.all([agentNames(c), c.now()]);
          const t = detail.task;
          const lines: string[] = [`Task ${t.id}: ${oneLine(t.title)}`];
          const field = (name: string, value: string) => lines.push(`  ${name.padEnd(12)}${oneLine(value)}`);
          field('status', `${t.status} (attempt ${t.attempts} of ${t.maxAttempts})`);
          field('type', t.type + (t.requires.length ? `; requires ${t.requires.join(', ')}` : ''));
          field('priority', String(t.priority));
          if (t.workflowId !== null) field('workflow', `${t.workflowId}${t.ref ? ` (ref ${t.ref})` : ''}`);
          field('created', `${when(t.createdAt, now)}${t.createdBy ? ` by ${t.createdBy}` : ''}`);
          if (t.runAfter > now) field('run after', when(t.runAfter, now));
          if (t.lease) field('held by', `${t.lease.agentName}, lease until ${when(t.lease.expiresAt, now)}`);
          if (t.assignedTo !== null) field('assigned to', agents.get(t.assignedTo) ?? `#${t.assignedTo}`);
          if (t.review)
            field('review', `required (change requests ${t.reviewRounds} of ${t.maxReviewRounds})`);
          if (t.idempotencyKey) field('idem. key', t.idempotencyKey);
          if (t.finishedAt !== null) field('finished', when(t.finishedAt, now));
          if (t.spec.trim() !== '') lines.push('', 'Spec:', indent(t.spec.trimEnd()));
          if (t.input !== null) lines.push('', `Input: ${toJson(t.input)}`);
          if (detail.dependencies.length > 0) {
            lines.push('', 'Depends on:');
            for (const d of detail.dependencies) lines.push(...formatDependency(d));
          }
          if (detail.dependents.length > 0) lines.push('', `Dependents: ${detail.dependents.join(', ')}`);
          if (t.progress.at !== null)
            lines.push('', `Progress (${when(t.progress.at, now)}): ${formatProgress(t.progress)}`);
          if (detail.questions.length > 0) {
            lines.push('', 'Questions:');
            for (const q of detail.questions) lines.push(indent(formatQuestion(q, now)));
          }
          if (detail.attempts.length > 0) {
            lines.push('', 'Attempts:');
            for (const a of detail.attempts) lines.push(...formatAttempt(a));
          }
          if (t.result !== null) lines.push('', 'Result:', indent(t.result));
          if (t.resultData !== null) lines.push(`Result data: ${toJson(t.resultData)}`);
          if (t.error !== null) lines.push('', `Error: ${oneLine(t.error)}`);
          if (!isFinal(t.status)) {
            lines.push('', 'Why it is not moving:');
            for (const r of detail.explanation.reasons) lines.push(`  - ${describeReason(r)}`);
          }
          const recent = detail.events.slice(-10);
          if (recent.length > 0) {
            lines.push(
              '',
              `Recent events (${recent.length} of ${detail.events.length}; all: cns events --task ${t.id}):`,
            );
            for (const e of recent) lines.push(`  ${formatEvent(e)}`);
          }
          print(lines.join('\n'));
        },
        { sweep: true },
      );
    });
}

function registerCancel(task: Command): void {
  task
    .command('cancel')
    .description('cancel a task and, transitively, the tasks that depend on it (a holder loses its lease)')
    .argument('<id>', 'the task id')
    .option('--reason <text>', 'why (recorded in the event log)')
    .option('--as <name>', AS_HELP)
    .option('--json', 'print the cancelled tasks as JSON')
    .action(async (id: string, opts: { reason?: string; as?: string; json?: boolean }, cmd: Command) => {
      const taskId = parseTaskId(id);
      const changed = await withCoordinator(cmd, async (c) =>
        c.cancel(taskId, await resolveActor(c, opts.as), opts.reason),
      );
      if (opts.json) return printJson(changed);
      const others = changed.filter((t) => t.id !== taskId).map((t) => t.id);
      print(`cancelled task ${taskId}${others.length ? ` and its dependents ${others.join(', ')}` : ''}`);
    });
}

function registerRetry(task: Command): void {
  task
    .command('retry')
    .description(
      'start a failed or cancelled task over (attempts reset; pending, or blocked while dependencies are open)',
    )
    .argument('<id>', 'the task id')
    .option('--as <name>', AS_HELP)
    .option('--json', 'print the task as JSON')
    .action(async (id: string, opts: { as?: string; json?: boolean }, cmd: Command) => {
      const taskId = parseTaskId(id);
      const t = await withCoordinator(cmd, async (c) => c.retry(taskId, await resolveActor(c, opts.as)));
      if (opts.json) return printJson(t);
      print(`task ${t.id} is ${t.status} again`);
    });
}

interface ReviewOptions {
  approve?: boolean;
  requestChanges?: boolean;
  feedback?: string;
  reviewer?: string;
  as?: string;
  json?: boolean;
}

function registerReview(task: Command): void {
  task
    .command('review')
    .description(
      'approve a task awaiting review, or request changes with feedback (it goes back to the queue)',
    )
    .argument('<id>', 'the task id')
    .addOption(
      new Option('--approve', 'accept the result: completed, dependents unblock').conflicts('requestChanges'),
    )
    .option('--request-changes', 'send it back to pending; the feedback is handed to the next claimant')
    .option('--feedback <text>', 'what to change (required with --request-changes)')
    .option('--as <name>', AS_HELP)
    .option('--reviewer <name>', `who reviews: the same as --as (default "${DEFAULT_ACTOR}")`)
    .option('--json', 'print the task as JSON')
    .addHelpText(
      'after',
      `
After the configured number of change requests (default 3, env CNS_MAX_REVIEW_ROUNDS) the task
fails instead, for a person to look at.

Examples:
  cns task review 42 --approve
  cns task review 42 --request-changes --feedback "Handle the empty list too"`,
    )
    .action(async (id: string, opts: ReviewOptions, cmd: Command) => {
      const taskId = parseTaskId(id);
      if (!opts.approve && !opts.requestChanges) {
        throw new InvalidInputError('say --approve or --request-changes --feedback TEXT');
      }
      if (opts.approve && opts.feedback !== undefined) {
        // Feedback with an approval is recorded nowhere; refuse rather than drop it silently.
        throw new InvalidInputError('--feedback goes with --request-changes, not --approve');
      }
      if (opts.as !== undefined && opts.reviewer !== undefined && opts.as !== opts.reviewer) {
        throw new InvalidInputError('--reviewer and --as name who reviews: give one of them');
      }
      const t = await withCoordinator(cmd, async (c) =>
        c.review(taskId, {
          reviewer: await resolveActor(c, opts.reviewer ?? opts.as),
          approve: opts.approve === true,
          feedback: opts.feedback,
        }),
      );
      if (opts.json) return printJson(t);
      if (opts.approve) print(`task ${t.id} approved: ${t.status}`);
      else
        print(
          `changes requested on task ${t.id}: it is ${t.status} (change requests ${t.reviewRounds} of ${t.maxReviewRounds})`,
        );
    });
}

function registerAssign(task: Command): void {
  task
    .command('assign')
    .description('reserve a pending task for a named agent; that agent receives it on its next claim')
    .argument('<id>', 'the task id')
    .requiredOption('--agent <name>', 'the agent (by name, as shown by "cns agents")')
    .option('--as <name>', AS_HELP)
    .option('--json', 'print the task as JSON')
    .action(async (id: string, opts: { agent: string; as?: string; json?: boolean }, cmd: Command) => {
      const taskId = parseTaskId(id);
      const t = await withCoordinator(cmd, async (c) =>
        c.assign(taskId, opts.agent, await resolveActor(c, opts.as)),
      );
      if (opts.json) return printJson(t);
      print(`task ${t.id} assigned to ${opts.agent}`);
    });
}

// ── agent side (a shell script acting as an agent) ──────────────────────────────────────────────

interface ClaimOpts {
  agent: string;
  type: string;
  capability?: string[];
  wait?: number;
  leaseMs?: number;
  json?: boolean;
}

function registerClaim(task: Command): void {
  task
    .command('claim')
    .description(
      'act as an agent: register (by name) and claim the next matching task; prints it and its lease token',
    )
    .requiredOption('--agent <name>', 'the agent name (registered or updated; unique)')
    .requiredOption('--type <type>', 'the agent type: only tasks of this type are claimed')
    .option('--capability <name>', 'a capability this agent has (repeatable, or comma-separated)', collect)
    .option(
      '--wait <seconds>',
      'wait up to this long for a task to become claimable (default 0: return at once)',
      numberOption('--wait', 0, 86_400),
    )
    .option(
      '--lease-ms <ms>',
      'lease length, kept by every renewal ("cns task heartbeat", "cns task progress") (default 30000, env CNS_LEASE_MS)',
      intOption('--lease-ms', 1_000),
    )
    .option(
      '--json',
      'print the full claim (task, leaseToken, leaseExpiresAt, dependencies, handoff) as JSON',
    )
    .addHelpText(
      'after',
      `
The claim is atomic: a task goes to one agent only. Tasks assigned to this agent come first, then
pending tasks of its type whose required capabilities it has, highest priority first, then oldest.
The lease must be renewed (cns task heartbeat) before it expires, or the task goes back to the queue.

Exit code 10 when nothing was claimable (the reason is printed on stderr; with --json,
{"claimed":null,"reason":…} on stdout), so shell loops can test it:

  while out=$(cns task claim --agent sh-1 --type general --wait 30 --json); do
    id=$(jq -r .task.id <<<"$out"); token=$(jq -r .leaseToken <<<"$out")
    # … do the work …
    cns task complete "$id" --token "$token" --result "done"
  done

The agent is not deregistered when this command exits (that would release the task).`,
    )
    .action(async (opts: ClaimOpts, cmd: Command) => {
      const waitMs = Math.round((opts.wait ?? 0) * 1000);
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      try {
        const outcome = await withCoordinator(
          cmd,
          async (c) => {
            const agent = await claimantFor(c, opts);
            return c.claimNext(agent, { waitMs, leaseMs: opts.leaseMs, signal: abort.signal });
          },
          { sweep: true, config: { waitMaxMs: Math.max(50_000, waitMs), leaseMs: opts.leaseMs } },
        );
        if (abort.signal.aborted && !outcome.claimed) {
          process.exitCode = EXIT.interrupted;
          return;
        }
        if (!outcome.claimed) {
          if (opts.json) printJson({ claimed: null, reason: outcome.reason });
          else printErr(`no task: ${outcome.reason}`);
          process.exitCode = EXIT.noTask;
          return;
        }
        if (opts.json) return printJson(outcome.claimed);
        print(formatClaim(outcome.claimed));
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}

/**
 * The agent a shell claim acts as: the registered agent of that name, when its type and
 * capabilities are the ones asked for (marked alive, its session kept: a shell loop's claims are
 * one run of one agent, not a new registration each time); else it registers (again).
 */
async function claimantFor(c: Coordinator, opts: ClaimOpts): Promise<Agent> {
  const capabilities = [...new Set(opts.capability ?? [])].sort();
  const known = await c.findAgent(opts.agent);
  if (
    known &&
    known.session !== null &&
    known.deregisteredAt === null &&
    known.type === opts.type &&
    JSON.stringify([...known.capabilities].sort()) === JSON.stringify(capabilities)
  ) {
    return (await c.heartbeat(known.id, known.session)).agent;
  }
  return c.registerAgent({
    name: opts.agent,
    type: opts.type,
    capabilities,
    host: hostname(),
    pid: null,
    clientInfo: { client: 'cns-cli' },
  });
}

function registerComplete(task: Command): void {
  task
    .command('complete')
    .description('finish a claimed task with a result (it goes to awaiting_review when review is required)')
    .argument('<id>', 'the task id')
    .requiredOption('--token <token>', TOKEN_HELP)
    .addOption(
      new Option('--result <text>', 'the result, for people and for dependent tasks').conflicts('resultFile'),
    )
    .option('--result-file <file>', 'read the result from a file ("-" for stdin)')
    .option('--data <json>', 'structured result data (JSON), handed to dependents too')
    .option('--json', 'print the task as JSON')
    .action(
      async (
        id: string,
        opts: { token: string; result?: string; resultFile?: string; data?: string; json?: boolean },
        cmd: Command,
      ) => {
        const taskId = parseTaskId(id);
        const result =
          opts.resultFile !== undefined ? readTextFile(opts.resultFile, 'result file') : opts.result;
        if (result === undefined)
          throw new InvalidInputError('give the result: --result TEXT or --result-file FILE');
        const data = opts.data !== undefined ? parseJson('--data', opts.data) : undefined;
        const t = await withCoordinator(cmd, (c) => c.complete(taskId, opts.token, { result, data }));
        if (opts.json) return printJson(t);
        print(
          t.status === 'awaiting_review'
            ? `task ${t.id} submitted for review (awaiting_review)`
            : `task ${t.id} ${t.status}`,
        );
      },
    );
}

function registerFail(task: Command): void {
  task
    .command('fail')
    .description('report that a claimed task failed; it is retried (with backoff) while attempts remain')
    .argument('<id>', 'the task id')
    .requiredOption('--token <token>', TOKEN_HELP)
    .requiredOption('--error <text>', 'what went wrong (handed to the next attempt)')
    .option('--no-retry', 'fail for good, even if attempts remain')
    .option('--json', 'print the task as JSON')
    .action(
      async (
        id: string,
        opts: { token: string; error: string; retry: boolean; json?: boolean },
        cmd: Command,
      ) => {
        const taskId = parseTaskId(id);
        const t = await withCoordinator(cmd, (c) =>
          c.fail(taskId, opts.token, { error: opts.error, retryable: opts.retry }),
        );
        if (opts.json) return printJson(t);
        if (t.status === 'failed') print(`task ${t.id} failed (attempt ${t.attempts} of ${t.maxAttempts})`);
        else
          print(
            `task ${t.id} will be retried: ${t.status}, not before ${iso(t.runAfter)} (attempt ${t.attempts} of ${t.maxAttempts} used)`,
          );
      },
    );
}

function registerRelease(task: Command): void {
  task
    .command('release')
    .description('give a claimed task back to the queue without penalty (the attempt is not counted)')
    .argument('<id>', 'the task id')
    .requiredOption('--token <token>', TOKEN_HELP)
    .option('--reason <text>', 'why (handed to the next claimant)')
    .option('--json', 'print the task as JSON')
    .action(async (id: string, opts: { token: string; reason?: string; json?: boolean }, cmd: Command) => {
      const taskId = parseTaskId(id);
      const t = await withCoordinator(cmd, (c) => c.release(taskId, opts.token, opts.reason));
      if (opts.json) return printJson(t);
      print(`task ${t.id} released: ${t.status}`);
    });
}

function registerProgress(task: Command): void {
  task
    .command('progress')
    .description(
      'record progress on a claimed task (also renews its lease); handed to the next claimant if this attempt ends',
    )
    .argument('<id>', 'the task id')
    .requiredOption('--token <token>', TOKEN_HELP)
    .option('--note <text>', 'what was done / what is next')
    .option('--percent <n>', 'how far along, 0-100', numberOption('--percent', 0, 100))
    .option('--checkpoint <json>', 'state to resume from (JSON)')
    .option('--json', 'print the task as JSON')
    .action(
      async (
        id: string,
        opts: { token: string; note?: string; percent?: number; checkpoint?: string; json?: boolean },
        cmd: Command,
      ) => {
        const taskId = parseTaskId(id);
        if (opts.note === undefined && opts.percent === undefined && opts.checkpoint === undefined) {
          throw new InvalidInputError('give at least one of --note, --percent, --checkpoint');
        }
        const checkpoint =
          opts.checkpoint !== undefined ? parseJson('--checkpoint', opts.checkpoint) : undefined;
        const t = await withCoordinator(cmd, (c) =>
          c.progress(taskId, opts.token, { note: opts.note, percent: opts.percent, checkpoint }),
        );
        if (opts.json) return printJson(t);
        print(`progress recorded on task ${t.id}: ${formatProgress(t.progress)}`);
      },
    );
}

function registerHeartbeat(task: Command): void {
  task
    .command('heartbeat')
    .description(
      "renew a claimed task's lease by its length (chosen at the claim) and mark its agent alive; run it well within the lease",
    )
    .argument('<id>', 'the task id')
    .requiredOption('--token <token>', TOKEN_HELP)
    .option('--json', 'print the task as JSON')
    .action(async (id: string, opts: { token: string; json?: boolean }, cmd: Command) => {
      const taskId = parseTaskId(id);
      const t = await withCoordinator(cmd, (c) => c.heartbeatTask(taskId, opts.token));
      if (opts.json) return printJson(t);
      print(`lease on task ${t.id} renewed until ${iso(t.lease?.expiresAt)}`);
    });
}

function registerAsk(task: Command): void {
  task
    .command('ask')
    .description(
      'ask a person or the supervisor about a claimed task: it waits in waiting_input without you (your lease ends, the attempt is not counted); once answered it comes back to you first',
    )
    .argument('<id>', 'the task id')
    .requiredOption('--token <token>', TOKEN_HELP)
    .addOption(
      new Option('--question <text>', 'the question, with what is needed to answer it').conflicts(
        'questionFile',
      ),
    )
    .option('--question-file <file>', 'read the question from a file ("-" for stdin)')
    .option(
      '--choice <text>',
      'an answer to pick from (repeat for each)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--context <json>', 'JSON to decide on (options, costs, files)')
    .option('--for <who>', 'whom it is for: a person or a role (default "supervisor")')
    .option('--json', 'print {task, question} as JSON')
    .addHelpText(
      'after',
      `
Example:
  cns task ask 42 --token T --question "Drop the legacy column?" --choice yes --choice no --for dba
Then: cns task claim (take other work); the answer arrives in the task's handoff when it comes back.`,
    )
    .action(
      async (
        id: string,
        opts: {
          token: string;
          question?: string;
          questionFile?: string;
          choice?: string[];
          context?: string;
          for?: string;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const taskId = parseTaskId(id);
        const text =
          opts.questionFile !== undefined ? readTextFile(opts.questionFile, 'question file') : opts.question;
        if (text === undefined)
          throw new InvalidInputError('give the question: --question TEXT or --question-file FILE');
        const context = opts.context !== undefined ? parseJson('--context', opts.context) : null;
        const res = await withCoordinator(cmd, (c) =>
          c.ask(taskId, opts.token, {
            text,
            choices: opts.choice ?? null,
            context,
            ...(opts.for !== undefined ? { for: opts.for } : {}),
          }),
        );
        if (opts.json) return printJson(res);
        print(
          `question ${res.question.id} asked (for ${res.question.for}); task ${taskId} waits for the answer and is no longer yours`,
        );
      },
    );
}

// ── formatting ──────────────────────────────────────────────────────────────────────────────────

function parseStatus(value: string): TaskStatus {
  if (!(TASK_STATUSES as readonly string[]).includes(value)) {
    throw new InvalidInputError(`unknown status "${value}" (one of ${TASK_STATUSES.join(', ')})`);
  }
  return value as TaskStatus;
}

function parseCursor(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidInputError(`--after must be a cursor number (got ${JSON.stringify(value)})`);
  return n;
}

async function agentNames(c: Coordinator): Promise<Map<number, string>> {
  return new Map((await c.listAgents()).map((a: Agent) => [a.id, a.name]));
}

function holder(t: Task, agents: Map<number, string>): string {
  if (t.lease) return t.lease.agentName;
  if (t.assignedTo !== null) return `→ ${agents.get(t.assignedTo) ?? `#${t.assignedTo}`}`;
  return '';
}

function formatProgress(p: Task['progress']): string {
  const parts: string[] = [];
  if (p.percent !== null) parts.push(`${p.percent}%`);
  if (p.note !== null) parts.push(oneLine(p.note, 200));
  if (p.checkpoint !== null) parts.push(`checkpoint ${oneLine(toJson(p.checkpoint), 200)}`);
  return parts.join(' · ') || '(none)';
}

function formatDependency(d: DependencyResult): string[] {
  const lines = [
    `  #${d.taskId} ${d.status}${d.ref ? ` [${oneLine(d.ref)}]` : ''} "${oneLine(d.title, 80)}"`,
  ];
  if (d.result !== null) lines.push(indent(d.result, '      '));
  if (d.resultData !== null) lines.push(`      data: ${toJson(d.resultData)}`);
  return lines;
}

function formatAttempt(a: Attempt): string[] {
  const lines = [
    `  #${a.seq} ${oneLine(a.agentName)} ${a.outcome}, ${iso(a.startedAt)} → ${a.endedAt !== null ? iso(a.endedAt) : 'now'}`,
  ];
  if (a.note !== null || a.percent !== null) {
    lines.push(`      progress: ${a.percent !== null ? `${a.percent}% ` : ''}${oneLine(a.note ?? '', 200)}`);
  }
  if (a.checkpoint !== null) lines.push(`      checkpoint: ${oneLine(toJson(a.checkpoint), 200)}`);
  if (a.error !== null) lines.push(`      error: ${oneLine(a.error, 300)}`);
  if (a.feedback !== null) lines.push(`      review feedback: ${oneLine(a.feedback, 300)}`);
  return lines;
}

function formatClaim(claim: ClaimedTask): string {
  const t = claim.task;
  const lines = [
    `claimed task ${t.id}: ${oneLine(t.title)}`,
    `id:      ${t.id}`,
    `token:   ${claim.leaseToken}`,
    `lease:   until ${iso(claim.leaseExpiresAt)} (renew: cns task heartbeat ${t.id} --token ${claim.leaseToken})`,
    `attempt: ${t.attempts} of ${t.maxAttempts}${t.review ? '; review required' : ''}`,
  ];
  if (t.spec.trim() !== '') lines.push('', 'Spec:', indent(t.spec.trimEnd()));
  if (t.input !== null) lines.push('', `Input: ${toJson(t.input as Json)}`);
  if (claim.dependencies.length > 0) {
    lines.push('', 'Dependency results:');
    for (const d of claim.dependencies) lines.push(...formatDependency(d));
  }
  if (claim.handoff.length > 0) {
    lines.push('', 'Handoff (earlier attempts, oldest first):');
    for (const a of claim.handoff) lines.push(...formatAttempt(a));
  }
  if (claim.questions.length > 0) {
    lines.push('', 'Questions asked so far, with their answers:');
    for (const q of claim.questions) lines.push(indent(formatQuestion(q, claim.task.updatedAt)));
  }
  lines.push(
    '',
    `When done: cns task complete ${t.id} --token ${claim.leaseToken} --result "…"`,
    `   or:     cns task fail ${t.id} --token ${claim.leaseToken} --error "…"  |  cns task release ${t.id} --token ${claim.leaseToken}`,
  );
  return lines.join('\n');
}
