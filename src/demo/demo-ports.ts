/**
 * The two ways a demo agent reaches cns, as real agents do:
 *
 * - `McpAgentPort`: a `cns mcp` process driven through its tools (task_next, task_update,
 *   task_complete, task_fail, task_ask; a reviewer runs with role both for task_list, task_get and
 *   task_review), as Claude Code drives it. The process is the agent: it holds the leases and
 *   heartbeats; killing it is a crash.
 * - `SessionAgentPort`: the TypeScript API, an `AgentSession` over a coordinator, in a process of
 *   its own (demo-agent-process.ts); the process killing itself is a crash.
 */
import type { AgentSession } from '../coordinator/agent-session.js';
import type { Json, Task } from '../core/types.js';
import type { AgentPort, ClaimView, ReviewView } from './demo-worker.js';
import type { McpStdioClient } from './mcp-stdio-client.js';

export class McpAgentPort implements AgentPort {
  constructor(private readonly client: McpStdioClient) {}

  async next(waitMs: number): Promise<ClaimView | null> {
    const out = await this.client.callTool<{ task: ClaimView | null }>('task_next', {
      wait_seconds: waitMs / 1000,
    });
    return out.task;
  }

  async update(taskId: number, input: { note: string; percent: number; checkpoint: Json }): Promise<void> {
    await this.client.callTool('task_update', { task_id: taskId, ...input });
  }

  async complete(taskId: number, result: string, data: Json): Promise<string> {
    const out = await this.client.callTool<{ task: { status: string } }>('task_complete', {
      task_id: taskId,
      result,
      ...(data === null ? {} : { data }),
    });
    return out.task.status;
  }

  async fail(taskId: number, error: string, retryable: boolean): Promise<string> {
    const out = await this.client.callTool<{ task: { status: string } }>('task_fail', {
      task_id: taskId,
      error,
      retryable,
    });
    return out.task.status;
  }

  async ask(taskId: number, input: { text: string; choices: string[]; context: Json }): Promise<number> {
    const out = await this.client.callTool<{ question_id: number }>('task_ask', {
      task_id: taskId,
      question: input.text,
      choices: input.choices,
      context: input.context,
    });
    return out.question_id;
  }

  async awaitingReview(): Promise<ReviewView[]> {
    const list = await this.client.callTool<{ tasks: { id: number }[] }>('task_list', {
      status: ['awaiting_review'],
      limit: 5,
    });
    const first = list.tasks[0];
    if (!first) return [];
    const detail = await this.client.callTool<{
      task: { id: number; title: string; reviewRounds: number; metadata: Record<string, Json> };
    }>('task_get', { task_id: first.id, events: 0 });
    return [detail.task];
  }

  async review(taskId: number, approve: boolean, feedback: string): Promise<void> {
    await this.client.callTool('task_review', { task_id: taskId, approve, feedback });
  }

  async crash(): Promise<never> {
    this.client.child.kill('SIGKILL');
    // By the time it has exited, the fleet has stopped this agent's loop: the error is not logged.
    await this.client.exited;
    throw new Error('crashed');
  }
}

export class SessionAgentPort implements AgentPort {
  constructor(
    private readonly session: AgentSession,
    /** Ends a wait for a task early (the process is stopping). */
    private readonly signal?: AbortSignal,
  ) {}

  async next(waitMs: number): Promise<ClaimView | null> {
    const out = await this.session.next({ waitMs, signal: this.signal });
    if (!out.claimed) return null;
    const c = out.claimed;
    return {
      id: c.task.id,
      title: c.task.title,
      metadata: c.task.metadata,
      handoff: c.handoff
        .filter((a) => a.outcome !== 'running')
        .map((a) => ({
          agent: a.agentName,
          outcome: a.outcome,
          note: a.note,
          percent: a.percent,
          checkpoint: a.checkpoint,
          error: a.error,
          feedback: a.feedback,
        })),
      questions: c.questions.map((q) => ({
        question: q.text,
        answer: q.answer,
        answeredBy: q.answeredBy?.name ?? null,
      })),
    };
  }

  async update(taskId: number, input: { note: string; percent: number; checkpoint: Json }): Promise<void> {
    await this.session.progress(taskId, input);
  }

  async complete(taskId: number, result: string, data: Json): Promise<string> {
    return (await this.session.complete(taskId, { result, ...(data === null ? {} : { data }) })).status;
  }

  async fail(taskId: number, error: string, retryable: boolean): Promise<string> {
    return (await this.session.fail(taskId, { error, retryable })).status;
  }

  async ask(taskId: number, input: { text: string; choices: string[]; context: Json }): Promise<number> {
    return (await this.session.ask(taskId, input)).question.id;
  }

  async awaitingReview(): Promise<ReviewView[]> {
    const page = await this.session.coordinator.listTasks({ status: ['awaiting_review'], limit: 5 });
    return page.items.map((t: Task) => ({
      id: t.id,
      title: t.title,
      reviewRounds: t.reviewRounds,
      metadata: t.metadata,
    }));
  }

  async review(taskId: number, approve: boolean, feedback: string): Promise<void> {
    await this.session.coordinator.review(taskId, { reviewer: this.session.actor, approve, feedback });
  }

  crash(): Promise<never> {
    // No release, no deregistration: the lease stays until it expires.
    process.kill(process.pid, 'SIGKILL');
    return new Promise<never>(() => {});
  }
}
