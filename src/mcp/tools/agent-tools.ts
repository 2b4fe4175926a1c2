import type { McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import type { AgentSession } from '../../coordinator/agent-session.js';
import { ForbiddenError, LeaseLostError, type LeaseLostReason } from '../../core/errors.js';
import type { Json, Task } from '../../core/types.js';
import { claimedSchema, json, next, taskBriefSchema, taskId } from '../schemas.js';
import {
  defineTool,
  linkedSignal,
  progressNotifier,
  seconds,
  tracked,
  type McpContext,
} from '../tool-kit.js';
import { claimedView, taskBrief } from '../views.js';

/**
 * The agent's tools: take the next task (long-poll), report progress, complete, fail, release.
 * The process holds the lease tokens; the model names tasks by id.
 */
export function registerAgentTools(server: McpServer, ctx: McpContext): void {
  const session = ctx.session;
  if (!session) throw new Error('the agent tools need an agent session');
  const { coordinator } = ctx;
  const waitDefaultS = coordinator.config.waitDefaultMs / 1000;
  const waitMaxS = coordinator.config.waitMaxMs / 1000;

  defineTool(
    server,
    ctx,
    'task_next',
    {
      title: 'Take the next task',
      description:
        `Take the next task for you (your type and capabilities) and make it yours. Call it when you are ready for work: at the start and after finishing, failing, releasing or asking about a task. ` +
        `If no task is ready it waits up to wait_seconds (default ${waitDefaultS}, max ${waitMaxS}) and returns the moment one is; otherwise it returns task: null with the reason, and you just call it again. ` +
        `The task comes with its spec, input, the results of the tasks it depends on, the handoff (earlier attempts' notes, checkpoints, errors, review feedback) and any questions asked with their answers. ` +
        `Continue from the last checkpoint, act on feedback and answers instead of starting over. ` +
        `You hold one task at a time: while you hold one, task_next returns that task again.`,
      input: z.object({
        wait_seconds: z
          .number()
          .min(0)
          .max(waitMaxS)
          .optional()
          .describe(`seconds to wait when nothing is ready (default ${waitDefaultS}; 0 = do not wait)`),
      }),
      output: z.object({
        task: claimedSchema.nullable().describe('the task you now hold, or null'),
        reason: z.string().nullable().describe('why nothing was given'),
        waitedMs: z.number(),
        next,
      }),
      hints: { readOnly: false, destructive: false, idempotent: false },
    },
    async ({ wait_seconds }, req) => {
      const waitMs = Math.round((wait_seconds ?? waitDefaultS) * 1000);
      const { signal, dispose } = linkedSignal(req.mcpReq.signal, ctx.shutdown);
      const notify = progressNotifier(req);
      const started = Date.now();
      let outcome;
      try {
        outcome = await tracked(
          ctx,
          session.next({
            waitMs,
            signal,
            onWaiting: notify
              ? (waited) =>
                  notify(
                    waited / 1000,
                    waitMs / 1000,
                    `waiting for a task (${seconds(waited)} of ${seconds(waitMs)})`,
                  )
              : undefined,
          }),
        );
      } finally {
        dispose();
      }
      const waitedMs = Date.now() - started;
      if (!outcome.claimed) {
        return {
          task: null,
          reason: outcome.reason,
          waitedMs,
          next: 'Nothing for you yet. Call task_next again to keep waiting (unless you were told to stop).',
        };
      }
      const t = outcome.claimed.task;
      ctx.claimed.set(t.id, 'held');
      if (outcome.resumed) {
        // One task at a time: this agent already holds it (an earlier task_next's answer may have
        // been lost with a cancelled call). It stays held, whatever becomes of this call.
        const workflow =
          t.workflowId !== null ? await coordinator.getWorkflow(t.workflowId).catch(() => null) : null;
        return {
          task: claimedView(outcome.claimed, workflow),
          reason: null,
          waitedMs,
          next:
            `You already hold task ${t.id}: finish it before taking another. Continue from its progress and ` +
            `checkpoint, report with task_update, then call task_complete (or task_fail / task_release).`,
        };
      }
      // A claim made as the call was cancelled was given back by the coordinator; one whose answer
      // is lost all the same stays this session's, and the next task_next hands it back.
      const workflow =
        t.workflowId !== null ? await coordinator.getWorkflow(t.workflowId).catch(() => null) : null;
      return {
        task: claimedView(outcome.claimed, workflow),
        reason: null,
        waitedMs,
        next:
          `Task ${t.id} is yours now. Do what its spec says. Report progress with task_update every few minutes ` +
          `(a short note and a checkpoint someone else could resume from), then call task_complete with your result ` +
          `(or task_fail if you cannot finish, task_release if it is not for you).`,
      };
    },
  );

  defineTool(
    server,
    ctx,
    'task_update',
    {
      title: 'Report progress',
      description:
        'Report progress on the task you hold: a short note of what you did/are doing, percent done, and a checkpoint ' +
        '(any JSON saying where you are: files touched, steps done, branch) so that whoever resumes after a crash can continue. ' +
        'Call it every few minutes and at milestones. If the answer is an error saying the task was cancelled or its lease was lost, ' +
        'stop working on it at once and call task_next.',
      input: z.object({
        task_id: taskId,
        note: z.string().max(4000).optional().describe('what you did or are doing, one or two sentences'),
        percent: z.number().min(0).max(100).optional(),
        checkpoint: json.optional().describe('JSON to resume from (replaces the previous checkpoint)'),
      }),
      output: z.object({ task: taskBriefSchema, next }),
      hints: { readOnly: false, destructive: false, idempotent: true },
    },
    async ({ task_id, note, percent, checkpoint }) => {
      await requireHeld(ctx, session, task_id);
      const task = await session.progress(task_id, {
        note,
        percent,
        checkpoint: checkpoint === undefined ? undefined : (checkpoint as Json),
      });
      return {
        task: taskBrief(task),
        next: 'Recorded. Keep working; call task_complete when done.',
      };
    },
  );

  defineTool(
    server,
    ctx,
    'task_complete',
    {
      title: 'Complete the task',
      description:
        'Finish the task you hold with its result. result: what you did and where it is (files, branch, commit, answers), written for ' +
        'the supervisor and for the tasks that depend on this one, which receive it. data: optional JSON for programs. ' +
        'If the task needs review it goes to awaiting_review (a supervisor approves or sends it back with feedback); otherwise it is completed. ' +
        'Then call task_next.',
      input: z.object({
        task_id: taskId,
        result: z.string().min(1).describe('the result, in words'),
        data: json.optional().describe('optional structured result (JSON)'),
      }),
      output: z.object({ task: taskBriefSchema, next }),
      hints: { readOnly: false, destructive: false, idempotent: false },
    },
    async ({ task_id, result, data }) => {
      await requireHeld(ctx, session, task_id);
      const task = await session.complete(task_id, {
        result,
        data: data === undefined ? undefined : (data as Json),
      });
      ctx.claimed.set(task_id, 'completed');
      return {
        task: taskBrief(task),
        next:
          task.status === 'awaiting_review'
            ? `Submitted for review. If changes are requested the task comes back through task_next with the feedback. Call task_next now.`
            : `Task ${task_id} is completed. Call task_next for your next task.`,
      };
    },
  );

  defineTool(
    server,
    ctx,
    'task_fail',
    {
      title: 'Fail the task',
      description:
        'Give up on the task you hold because it cannot be done as asked, saying why. retryable (default true): another attempt ' +
        '(maybe by another agent, after a backoff) could succeed; false: it fails for good and a supervisor decides. ' +
        'Your error text is handed to the next attempt, so say what you tried and what blocked you. Then call task_next.',
      input: z.object({
        task_id: taskId,
        error: z.string().min(1).describe('what went wrong and what you tried'),
        retryable: z.boolean().optional().describe('default true'),
      }),
      output: z.object({ task: taskBriefSchema, next }),
      hints: { readOnly: false, destructive: false, idempotent: false },
    },
    async ({ task_id, error, retryable }) => {
      await requireHeld(ctx, session, task_id);
      const task = await session.fail(task_id, { error, retryable: retryable ?? true });
      ctx.claimed.set(task_id, 'failed');
      return {
        task: taskBrief(task),
        next:
          task.status === 'failed'
            ? `Task ${task_id} failed for good; a supervisor will look at it. Call task_next.`
            : `Task ${task_id} will be retried (attempt ${task.attempts + 1} of ${task.maxAttempts}) after ${new Date(task.runAfter).toISOString()}. Call task_next.`,
      };
    },
  );

  defineTool(
    server,
    ctx,
    'task_ask',
    {
      title: 'Ask a question',
      description:
        'Ask a person or the supervisor about the task you hold when you need a decision you cannot make yourself ' +
        '(which option, whether to go ahead, missing information): the question, optional choices and JSON context, and whom ' +
        'it is for (default "supervisor"). The task then waits for the answer without you: you no longer hold it, so call ' +
        'task_next and take other work. Once answered, the task comes back through task_next (to you first) with the question ' +
        'and answer in its handoff. Save a checkpoint with task_update before asking: it stays with the task.',
      input: z.object({
        task_id: taskId,
        question: z.string().min(1).max(20_000).describe('the question, with what is needed to answer it'),
        choices: z
          .array(z.string().min(1).max(500))
          .min(1)
          .max(20)
          .optional()
          .describe('answers to pick from'),
        context: json.optional().describe('optional JSON to decide on'),
        for: z
          .string()
          .min(1)
          .max(128)
          .optional()
          .describe('whom it is for: "supervisor" (default), a person or a role'),
      }),
      output: z.object({
        task: taskBriefSchema,
        question_id: z.number().int(),
        for: z.string().describe('whom the question waits for'),
        next,
      }),
      hints: { readOnly: false, destructive: false, idempotent: false },
    },
    async ({ task_id, question, choices, context, for: forWhom }) => {
      await requireHeld(ctx, session, task_id);
      const asked = await session.ask(task_id, {
        text: question,
        choices: choices ?? null,
        context: context === undefined ? null : (context as Json),
        ...(forWhom === undefined ? {} : { for: forWhom }),
      });
      ctx.claimed.set(task_id, 'released');
      return {
        task: taskBrief(asked.task),
        question_id: asked.question.id,
        for: asked.question.for,
        next:
          `Question ${asked.question.id} is open for ${asked.question.for}; task ${task_id} waits for the answer and is no longer yours. ` +
          'Call task_next to take other work; the task comes back (to you first) once answered.',
      };
    },
  );

  defineTool(
    server,
    ctx,
    'task_release',
    {
      title: 'Give the task back',
      description:
        'Give the task you hold back to the queue without penalty (the attempt is not counted), e.g. when it is not for you or you must stop. ' +
        'Record progress first (task_update with a checkpoint) so the next agent can continue. Another agent can take it at once; ' +
        'so can you, with task_next.',
      input: z.object({
        task_id: taskId,
        reason: z.string().max(2000).optional().describe('why, for the next agent'),
      }),
      output: z.object({ task: taskBriefSchema, next }),
      hints: { readOnly: false, destructive: false, idempotent: false },
    },
    async ({ task_id, reason }) => {
      await requireHeld(ctx, session, task_id);
      const task = await session.release(task_id, reason);
      ctx.claimed.set(task_id, 'released');
      return {
        task: taskBrief(task),
        next: `Task ${task_id} is back in the queue. Call task_next when ready.`,
      };
    },
  );
}

/**
 * A task this process does not hold: say why in the terms of what happened to it (cancelled,
 * re-assigned after a lost lease, finished), or that it was never this agent's.
 */
async function requireHeld(ctx: McpContext, session: AgentSession, id: number): Promise<void> {
  if (session.held.includes(id)) return;
  const mine = ctx.claimed.get(id);
  if (mine !== undefined) {
    const task = await ctx.coordinator.getTask(id).catch(() => null);
    if (task) throw new LeaseLostError(id, lostReason(task, mine), task.status);
  }
  const held = session.held;
  throw new ForbiddenError(
    `you do not hold task ${id}: this agent (${session.agent.name}) holds ${held.length ? held.map((h) => `task ${h}`).join(', ') : 'no task'}`,
    {
      taskId: id,
      next:
        held.length > 0
          ? `Use the id of the task you hold (${held.join(', ')}).`
          : 'Only a task you took with task_next (in this session) can be updated, completed, failed or released. Call task_next to take one.',
    },
  );
}

function lostReason(task: Task, mine: 'held' | 'completed' | 'failed' | 'released'): LeaseLostReason {
  if (task.status === 'cancelled') return 'cancelled';
  if (mine === 'released') return 'released';
  if (mine === 'completed' || mine === 'failed') return 'finished';
  if (task.status === 'in_progress' || task.status === 'assigned') return 'reassigned';
  if (task.status === 'pending' || task.status === 'blocked') return 'expired';
  return 'finished';
}
