import type { McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import type { McpContext } from './tool-kit.js';

/**
 * The MCP prompts. Claude Code shows them as slash commands (`/mcp__cns__worker`,
 * `/mcp__cns__supervisor`): each turns the session into a worker loop or a supervisor.
 */
export function registerPrompts(server: McpServer, ctx: McpContext): void {
  if (ctx.session) {
    const agent = ctx.session.agent;
    server.registerPrompt(
      'worker',
      {
        title: 'Work tasks from cns',
        description:
          'Turn this session into a worker: take a task, do it, report progress, complete it, repeat.',
        argsSchema: z.object({
          max_tasks: z.string().optional().describe('stop after this many tasks (default: keep going)'),
        }),
      },
      ({ max_tasks }) => ({
        messages: [
          {
            role: 'user',
            content: {
              type: 'text',
              text: workerPrompt(agent.name, agent.type, agent.capabilities, max_tasks),
            },
          },
        ],
      }),
    );
  }
  if (ctx.role !== 'agent') {
    server.registerPrompt(
      'supervisor',
      {
        title: 'Supervise work through cns',
        description:
          'Turn this session into a supervisor: plan a workflow, queue it, wait for results, review them.',
        argsSchema: z.object({ goal: z.string().optional().describe('what the fleet should achieve') }),
      },
      ({ goal }) => ({
        messages: [{ role: 'user', content: { type: 'text', text: supervisorPrompt(goal) } }],
      }),
    );
  }
}

export function workerPrompt(name: string, type: string, capabilities: string[], maxTasks?: string): string {
  const limit = maxTasks && /^\d+$/.test(maxTasks.trim()) ? Number(maxTasks) : null;
  return `You are ${name}, a worker agent of type "${type}"${capabilities.length ? ` with capabilities ${capabilities.join(', ')}` : ''} in a cns fleet. A supervisor queues tasks; you take them one at a time through the cns tools, do the work with your own tools in this project, and report back. Work without asking me for confirmation between tasks.

Loop${limit ? ` (stop after ${limit} task(s))` : ' (until I tell you to stop)'}:
1. Call task_next with wait_seconds 50. If it returns task: null, read the reason and call task_next again. Do not stop just because nothing is ready.
2. Read the task: title, spec (what to do and what "done" means), input, the results of the tasks it depends on (dependencies), and the handoff from earlier attempts. If the handoff has review feedback, addressing it is your first job; if questions were answered, follow the answers. If it has a checkpoint or notes, continue from there instead of starting over. If the spec was clipped, read the rest with task_get (part "spec").
3. Do the work. Every few minutes and at each milestone, call task_update with a one-sentence note, a percent, and a checkpoint (JSON: what is done, what is next, files, branch) so another agent could resume if you crash.
4. If task_update (or any cns tool) answers that the task was cancelled or its lease was lost, stop working on that task at once (do not complete it) and go back to step 1.
5. When done, call task_complete with a result written for the supervisor and for the tasks that build on yours: what you did, where it is (files, branch, commit), how you checked it, anything left open. Put machine-readable facts in data.
6. If you need a decision you must not make yourself (a destructive step, a choice between designs, missing information), save a checkpoint with task_update, then call task_ask with the question, the choices and the context needed to decide. The task waits for the answer without you: go back to step 1 and take other work; it comes back to you with the answer.
7. If you cannot do it, call task_fail with what you tried and what blocked you (retryable: false if no retry can help). If it is not a task for you, save a checkpoint with task_update and call task_release.
8. Go back to step 1.

Hold only one task at a time. Never invent task ids: use the id task_next gave you.`;
}

export function supervisorPrompt(goal?: string): string {
  return `You are the supervisor of a cns fleet: worker agents (other sessions) take the tasks you queue, by type, do them and report results. You plan, queue, wait and review; you do not do the tasks yourself.${goal ? `\n\nThe goal: ${goal}` : ''}

1. Call fleet_status to see which agent types and capabilities are live.
2. Plan: break the goal into tasks small enough for one agent session each. Give each task a type that a live agent has, a clear title, and a spec that says what to do, where, and what "done" means (how to check it). Link tasks with depends_on (a task receives the results of the tasks it depends on). Set review: true where you want to check the result before dependents start.
3. Queue the plan with workflow_create (refs + depends_on, one call). Use task_create for single additions later.
4. Loop on task_wait with the workflow_id (wait_seconds 50):
   - review_needed: read each waiting task with task_get (result, data, attempts), then task_review: approve, or request changes with feedback that says exactly what to change.
   - question: an agent needs a decision; read the question, its choices and context (and the task with task_get if needed), then task_answer. If it is for a person rather than you (its "for"), leave it: they answer on the dashboard or with cns answer.
   - changed / timeout: look at the rows; if tasks do not move, fleet_status explains why (no live agent of a type, an offline holder, …).
   - a failed task: read its error with task_get; task_retry it, or queue a corrected task, or cancel what depends on it (task_cancel).
   - done: stop looping.
5. Report: what was done, each task's result in one line, and what is left open.

Agents cannot see your conversation: everything they need must be in the spec, the input, dependency results, or review feedback.`;
}
