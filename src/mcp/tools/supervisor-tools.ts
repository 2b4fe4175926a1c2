import type { McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import type { NewTask } from '../../core/batch.js';
import { InvalidInputError } from '../../core/errors.js';
import { PRIORITY_MAX, PRIORITY_MIN } from '../../core/input.js';
import { isFinal, type TaskStatus } from '../../core/status.js';
import type { Json, Task } from '../../core/types.js';
import { json, next, questionSchema, status, taskId, taskRowSchema, workflowSchema } from '../schemas.js';
import {
  defineTool,
  linkedSignal,
  progressNotifier,
  seconds,
  tracked,
  type McpContext,
} from '../tool-kit.js';
import { agentView, questionView, taskRow, workflowView } from '../views.js';

const name = z.string().min(1).max(128);

/** The fields of a task to create, as the supervisor writes them (snake_case, mapped to NewTask). */
const taskFields = {
  type: name.describe('agent type that may take it (e.g. backend)'),
  title: z.string().min(1).max(500),
  spec: z.string().max(200_000).optional().describe('what to do and what "done" means (markdown)'),
  input: json.optional().describe('optional structured input (JSON)'),
  requires: z.array(name).optional().describe('capabilities the agent must have'),
  priority: z
    .number()
    .int()
    .min(PRIORITY_MIN)
    .max(PRIORITY_MAX)
    .optional()
    .describe('higher first (default 0); a 32-bit integer'),
  review: z.boolean().optional().describe('completion needs your approval'),
  max_attempts: z.number().int().min(1).max(1000).optional(),
  idempotency_key: z.string().min(1).max(256).optional().describe('same key = same task, not a duplicate'),
};

function toNewTask(t: {
  ref?: string;
  type: string;
  title: string;
  spec?: string;
  input?: unknown;
  requires?: string[];
  priority?: number;
  review?: boolean;
  max_attempts?: number;
  idempotency_key?: string;
  depends_on?: (string | number)[];
}): NewTask {
  return {
    ref: t.ref,
    type: t.type,
    title: t.title,
    spec: t.spec,
    input: t.input === undefined ? undefined : (t.input as Json),
    requires: t.requires,
    priority: t.priority,
    review: t.review,
    maxAttempts: t.max_attempts,
    idempotencyKey: t.idempotency_key,
    dependsOn: t.depends_on,
  };
}

/** The supervisor's tools: plan and queue work, watch it, review it, steer it. */
export function registerSupervisorTools(server: McpServer, ctx: McpContext): void {
  const { coordinator } = ctx;
  const waitDefaultS = coordinator.config.waitDefaultMs / 1000;
  const waitMaxS = coordinator.config.waitMaxMs / 1000;

  defineTool(
    server,
    ctx,
    'workflow_create',
    {
      title: 'Queue a workflow',
      description:
        'Queue a whole plan in one call: a named workflow and its tasks, each with a local ref that other tasks list in depends_on. ' +
        'A task becomes available to agents when all its dependencies are completed, and receives their results. ' +
        'Set review on tasks (or on the workflow) whose results you want to approve before dependents start. ' +
        'Returns the workflow id and the created tasks; then watch it with task_wait.',
      input: z.object({
        name: z.string().min(1).max(200),
        review: z.boolean().optional().describe('default review setting for its tasks'),
        tasks: z
          .array(
            z.object({
              ref: name.optional().describe('local name, unique in this call'),
              ...taskFields,
              depends_on: z
                .array(z.union([name, z.number().int()]))
                .optional()
                .describe('refs in this call, or ids of existing tasks'),
            }),
          )
          .min(1)
          .max(200),
      }),
      output: z.object({ workflow: workflowSchema, tasks: z.array(taskRowSchema), next }),
      hints: { readOnly: false, destructive: false, idempotent: false },
    },
    async (args) => {
      const res = await coordinator.createWorkflow(
        { name: args.name, review: args.review, tasks: args.tasks.map(toNewTask) },
        ctx.actor,
      );
      const wf = res.workflow ?? (await coordinator.getWorkflow(res.tasks[0]!.workflowId!));
      return {
        workflow: workflowView(wf),
        tasks: res.tasks.map((t) => taskRow(t)),
        next: `Workflow ${wf.id} is queued. Call task_wait with {"workflow_id": ${wf.id}} to wait for results and reviews.`,
      };
    },
  );

  defineTool(
    server,
    ctx,
    'task_create',
    {
      title: 'Queue one task',
      description:
        'Queue one task for agents of a type, optionally inside an existing workflow and after existing tasks (depends_on: ids). ' +
        'For several related tasks use workflow_create. With idempotency_key, repeating the call returns the same task (created: false).',
      input: z.object({
        ...taskFields,
        workflow_id: z.number().int().positive().optional(),
        depends_on: z.array(z.number().int().positive()).optional().describe('ids of existing tasks'),
      }),
      output: z.object({ task: taskRowSchema, created: z.boolean(), next }),
      hints: { readOnly: false, destructive: false, idempotent: false },
    },
    async (args) => {
      const { task, created } = await coordinator.createTask(
        { ...toNewTask(args), workflowId: args.workflow_id },
        ctx.actor,
      );
      return {
        task: taskRow(task),
        created,
        next: `Task ${task.id} is ${task.status}. Call task_wait with {"task_ids": [${task.id}]} to wait for it.`,
      };
    },
  );

  defineTool(
    server,
    ctx,
    'task_list',
    {
      title: 'List tasks',
      description:
        'List tasks as concise rows (status, holder, progress note, start of result/error), filtered by status, type, workflow, ' +
        'agent or title text, oldest first (or newest_first). Pages of limit rows: pass nextCursor back as cursor for the next page. ' +
        'Use task_get for one task in full.',
      input: z.object({
        status: z.array(status).optional(),
        type: z.string().optional(),
        workflow_id: z.number().int().positive().optional(),
        agent: z.string().optional().describe('agent name: tasks it holds or was assigned'),
        search: z.string().optional().describe('text in the title'),
        newest_first: z.boolean().optional(),
        limit: z.number().int().min(1).max(100).optional().describe('default 30'),
        cursor: z.number().int().optional(),
      }),
      output: z.object({ tasks: z.array(taskRowSchema), nextCursor: z.number().nullable(), next }),
      hints: { readOnly: true, destructive: false, idempotent: true },
    },
    async (args) => {
      const agentId = args.agent !== undefined ? (await coordinator.getAgent(args.agent)).id : undefined;
      const page = await coordinator.listTasks({
        status: args.status as TaskStatus[] | undefined,
        type: args.type,
        workflowId: args.workflow_id,
        agentId,
        search: args.search,
        newestFirst: args.newest_first,
        limit: args.limit ?? 30,
        after: args.cursor,
      });
      return {
        tasks: page.items.map((t) => taskRow(t)),
        nextCursor: page.nextCursor,
        next:
          page.nextCursor !== null
            ? `More tasks match: call task_list again with the same filters and cursor ${page.nextCursor}.`
            : 'That is all of them.',
      };
    },
  );

  defineTool(
    server,
    ctx,
    'task_wait',
    {
      title: 'Wait for tasks',
      description:
        'Wait until the given tasks (task_ids) or a workflow (workflow_id) are all done, one needs your review, an agent asked a ' +
        'question about one, or (until "change", the default) one changes status. ' +
        `Waits up to wait_seconds (default ${waitDefaultS}, max ${waitMaxS}). Returns the outcome ` +
        '(done, review_needed, question, changed, timeout), every watched task as a row and the open questions; call it again to keep waiting. ' +
        'On review_needed, read the task with task_get and decide with task_review; on question, answer with task_answer.',
      input: z.object({
        task_ids: z.array(z.number().int().positive()).min(1).max(50).optional(),
        workflow_id: z.number().int().positive().optional(),
        until: z
          .enum(['change', 'done'])
          .optional()
          .describe('change (default): any status change; done: only all-done or review'),
        wait_seconds: z.number().min(0).max(waitMaxS).optional(),
      }),
      output: z.object({
        outcome: z.enum(['done', 'review_needed', 'question', 'changed', 'timeout']),
        waitedMs: z.number(),
        workflow: workflowSchema.nullable(),
        tasks: z.array(taskRowSchema),
        questions: z.array(questionSchema).describe('open questions about the watched tasks, oldest first'),
        more: z.number().describe('watched tasks not listed'),
        next,
      }),
      hints: { readOnly: true, destructive: false, idempotent: true },
    },
    async (args, req) => {
      if ((args.task_ids === undefined) === (args.workflow_id === undefined)) {
        throw new InvalidInputError('give either task_ids or workflow_id');
      }
      const waitMs = Math.round((args.wait_seconds ?? waitDefaultS) * 1000);
      const until = args.until ?? 'change';
      const load = async (): Promise<Task[]> => {
        if (args.task_ids) return Promise.all(args.task_ids.map((id) => coordinator.getTask(id)));
        const tasks: Task[] = [];
        let after: number | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await coordinator.listTasks({ workflowId: args.workflow_id, limit: 500, after });
          tasks.push(...page.items);
          if (page.nextCursor === null) break;
          after = page.nextCursor;
        }
        return tasks;
      };
      if (args.workflow_id !== undefined) await coordinator.getWorkflow(args.workflow_id);
      let snapshot: Map<number, TaskStatus> | null = null;
      const check = async (): Promise<{
        outcome: 'done' | 'review_needed' | 'question' | 'changed';
        tasks: Task[];
      } | null> => {
        const tasks = await load();
        if (tasks.length > 0 && tasks.every((t) => isFinal(t.status))) return { outcome: 'done', tasks };
        if (tasks.some((t) => t.status === 'awaiting_review')) return { outcome: 'review_needed', tasks };
        if (tasks.some((t) => t.status === 'waiting_input')) return { outcome: 'question', tasks };
        if (snapshot === null) {
          snapshot = new Map(tasks.map((t) => [t.id, t.status]));
          return null;
        }
        const before = snapshot;
        if (until === 'change' && tasks.some((t) => before.get(t.id) !== t.status))
          return { outcome: 'changed', tasks };
        return null;
      };
      const started = Date.now();
      const notify = progressNotifier(req);
      const ticker = notify
        ? setInterval(() => {
            const waited = Date.now() - started;
            notify(waited / 1000, waitMs / 1000, `waiting (${seconds(waited)} of ${seconds(waitMs)})`);
          }, 1_000)
        : null;
      let found: Awaited<ReturnType<typeof check>>;
      const linked = linkedSignal(req.mcpReq.signal, ctx.shutdown);
      try {
        found = await tracked(ctx, coordinator.waitUntil(check, waitMs, linked.signal));
      } finally {
        linked.dispose();
        if (ticker) clearInterval(ticker);
      }
      const tasks = found?.tasks ?? (await load());
      const outcome: 'done' | 'review_needed' | 'question' | 'changed' | 'timeout' =
        found?.outcome ?? 'timeout';
      const waiting = tasks.filter((t) => t.status === 'waiting_input');
      const questions = (
        await Promise.all(
          waiting
            .slice(0, 50)
            .map((t) => coordinator.listQuestions({ taskId: t.id, status: ['open'], limit: 1 })),
        )
      ).flat();
      const workflow =
        args.workflow_id !== undefined ? workflowView(await coordinator.getWorkflow(args.workflow_id)) : null;
      // Show what needs attention first; cap the rows.
      const rank = (t: Task) =>
        t.status === 'awaiting_review' || t.status === 'waiting_input' ? 0 : isFinal(t.status) ? 2 : 1;
      const shown = [...tasks].sort((a, b) => rank(a) - rank(b) || a.id - b.id).slice(0, 100);
      const reviews = tasks.filter((t) => t.status === 'awaiting_review').map((t) => t.id);
      const counts = countBy(tasks.map((t) => t.status));
      return {
        outcome,
        waitedMs: Date.now() - started,
        workflow,
        tasks: shown.map((t) => taskRow(t)),
        questions: questions.map(questionView),
        more: tasks.length - shown.length,
        next:
          outcome === 'question'
            ? `An agent asked: ${questions.map((q) => `question ${q.id} on task ${q.taskId}`).join(', ')}. Answer each with task_answer (the task then goes back to the agent that asked).`
            : outcome === 'done'
              ? `All ${tasks.length} task(s) are final (${counts}). Read results with task_get; task_retry any you want run again.`
              : outcome === 'review_needed'
                ? `Task(s) ${reviews.join(', ')} await your review: read each with task_get, then task_review (approve, or request changes with feedback).`
                : outcome === 'changed'
                  ? `Something changed (${counts}). Act on it if needed, then call task_wait again.`
                  : `No change in ${seconds(waitMs)} (${counts}). Call task_wait again; fleet_status says why tasks are not moving.`,
      };
    },
  );

  defineTool(
    server,
    ctx,
    'task_review',
    {
      title: 'Review a result',
      description:
        'Decide on a task awaiting review: approve (it completes and its dependents start) or request changes with feedback ' +
        '(it goes back to the queue and the next agent receives your feedback in its handoff; after too many rounds it fails for a person to look at). ' +
        'Read the result first with task_get. Feedback should say exactly what to change.',
      input: z.object({
        task_id: taskId,
        approve: z.boolean(),
        feedback: z.string().max(20_000).optional().describe('required when not approving'),
      }),
      output: z.object({ task: taskRowSchema, next }),
      hints: { readOnly: false, destructive: false, idempotent: false },
    },
    async ({ task_id, approve, feedback }) => {
      const task = await coordinator.review(task_id, {
        reviewer: ctx.actor,
        approve,
        feedback,
      });
      return {
        task: taskRow(task),
        next: approve
          ? `Approved: task ${task_id} is ${task.status}.`
          : task.status === 'failed'
            ? `Task ${task_id} used up its review rounds and failed; task_retry it to start over, or cancel it.`
            : `Sent back with your feedback: task ${task_id} is ${task.status} and will be picked up again.`,
      };
    },
  );

  defineTool(
    server,
    ctx,
    'task_answer',
    {
      title: 'Answer a question',
      description:
        "Answer an agent's open question (task_wait and fleet_status show them; task_get shows a task's). The task goes back " +
        'to the queue — to the agent that asked first, for a while — and whoever takes it receives the question and your answer. ' +
        'Answer with one of the choices when the agent gave some, or in your own words.',
      input: z.object({
        question_id: z.number().int().positive(),
        answer: z.string().min(1).max(20_000),
      }),
      output: z.object({ task: taskRowSchema, question: questionSchema, next }),
      hints: { readOnly: false, destructive: false, idempotent: false },
    },
    async ({ question_id, answer }) => {
      const done = await coordinator.answer(question_id, { answer, by: ctx.actor });
      return {
        task: taskRow(done.task),
        question: questionView(done.question),
        next: `Answered. Task ${done.task.id} is ${done.task.status}; ${done.question.askedBy.name} gets it back first.`,
      };
    },
  );

  defineTool(
    server,
    ctx,
    'task_cancel',
    {
      title: 'Cancel tasks',
      description:
        'Cancel a task (and, with it, the unfinished tasks that depend on it) or every unfinished task of a workflow. ' +
        'An agent working on a cancelled task is told to stop at its next report. Finished tasks are left alone. Undo with task_retry.',
      input: z.object({
        task_id: z.number().int().positive().optional(),
        workflow_id: z.number().int().positive().optional(),
        reason: z.string().max(2000).optional(),
      }),
      output: z.object({ cancelled: z.array(taskRowSchema), next }),
      hints: { readOnly: false, destructive: true, idempotent: true },
    },
    async ({ task_id, workflow_id, reason }) => {
      if ((task_id === undefined) === (workflow_id === undefined))
        throw new InvalidInputError('give either task_id or workflow_id');
      const cancelled =
        task_id !== undefined
          ? await coordinator.cancel(task_id, ctx.actor, reason)
          : await coordinator.cancelWorkflow(workflow_id!, ctx.actor, reason);
      return {
        cancelled: cancelled.slice(0, 100).map((t) => taskRow(t)),
        next: `${cancelled.length} task(s) cancelled.`,
      };
    },
  );

  defineTool(
    server,
    ctx,
    'task_retry',
    {
      title: 'Retry a task',
      description:
        'Run a failed or cancelled task again from the start: attempts and review rounds reset, its history (and the handoff of ' +
        'earlier attempts) is kept. It waits for its dependencies again if they are not completed.',
      input: z.object({ task_id: taskId }),
      output: z.object({ task: taskRowSchema, next }),
      hints: { readOnly: false, destructive: false, idempotent: false },
    },
    async ({ task_id }) => {
      const task = await coordinator.retry(task_id, ctx.actor);
      return { task: taskRow(task), next: `Task ${task_id} is ${task.status} again.` };
    },
  );

  defineTool(
    server,
    ctx,
    'fleet_status',
    {
      title: 'Fleet status',
      description:
        'See the fleet: every agent (type, capabilities, idle/working/offline, tasks held), task counts by status, and the tasks ' +
        'that are not moving with the reason (no live agent of that type, held by an offline agent, …). Use it to plan which ' +
        'types to queue for and to find out why nothing is happening.',
      input: z.object({ stuck_limit: z.number().int().min(0).max(50).optional().describe('default 20') }),
      output: z.object({
        backend: z.string(),
        at: z.number(),
        agents: z.array(z.looseObject({ name: z.string(), type: z.string(), status: z.string() })),
        counts: z.record(z.string(), z.number()),
        stuck: z.array(z.object({ taskId: z.number(), status, summary: z.string() })),
        questions: z.array(questionSchema).describe('open questions, newest first (at most 20)'),
        next,
      }),
      hints: { readOnly: true, destructive: false, idempotent: true },
    },
    async ({ stuck_limit }) => {
      const s = await coordinator.status({ stuckLimit: stuck_limit ?? 20 });
      const questions = await coordinator.listQuestions({ status: ['open'], limit: 20 });
      const live = s.agents.filter((a) => a.status !== 'offline');
      const shownAgents = [...live, ...s.agents.filter((a) => a.status === 'offline')].slice(0, 100);
      return {
        backend: s.backend,
        at: s.at,
        agents: shownAgents.map(agentView),
        counts: s.counts,
        stuck: s.stuck.map((e) => ({ taskId: e.taskId, status: e.status, summary: e.summary })),
        questions: questions.map(questionView),
        next:
          questions.length > 0
            ? `${s.counts.waiting_input ?? questions.length} open question(s) wait for an answer: answer them with task_answer.`
            : s.stuck.length > 0
              ? `${s.stuck.length} task(s) are not moving; each summary says why.`
              : `${live.length} live agent(s); nothing is stuck.`,
      };
    },
  );
}

function countBy(values: string[]): string {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return [...m].map(([k, n]) => `${n} ${k}`).join(', ') || 'no tasks';
}
