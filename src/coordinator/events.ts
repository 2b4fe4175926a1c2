/**
 * Every event cns writes, built in one place: its kind, who did it, its message and its data. The
 * stores fill in only what the write itself determines — the time, the task's and workflow's ids,
 * the statuses before and after, and, for an event whose actor is left null, the lease holder whose
 * attempt the write ends (or renews).
 */
import type { TaskStatus } from '../core/status.js';
import type { Json } from '../core/types.js';
import type { EventSpec } from '../store/store.js';

const holder = (
  kind: EventSpec['kind'],
  message: string | null = null,
  data: Json | null = null,
): EventSpec => ({
  kind,
  actor: null,
  agentId: null,
  message,
  data,
});

export const events = {
  workflowCreated(actor: string, name: string): EventSpec {
    return { kind: 'workflow.created', actor, agentId: null, message: name, data: null };
  },

  /** Its status (blocked or pending) is the store's to fill. */
  taskCreated(actor: string, title: string): EventSpec {
    return { kind: 'task.created', actor, agentId: null, message: title, data: null };
  },

  claimed(agent: { id: number; name: string }, leaseMs: number): EventSpec {
    return { kind: 'task.claimed', actor: agent.name, agentId: agent.id, message: null, data: { leaseMs } };
  },

  progress(note: string | undefined, percent: number | undefined): EventSpec {
    return holder('task.progress', note ?? null, percent === undefined ? null : { percent });
  },

  /** By the holder: its result goes to review, or the task is done. */
  completed(review: boolean): EventSpec {
    return holder(review ? 'task.submitted' : 'task.completed');
  },

  failed(
    error: string,
    outcome: { retryInMs: number | null; attempts: number; maxAttempts: number },
  ): EventSpec {
    return holder('task.failed', error, {
      retry: outcome.retryInMs !== null,
      ...(outcome.retryInMs !== null ? { retryInMs: outcome.retryInMs } : {}),
      attempts: outcome.attempts,
      maxAttempts: outcome.maxAttempts,
    });
  },

  released(reason: string | null): EventSpec {
    return holder('task.released', reason);
  },

  /** A session ended (the agent deregistered) while it held the task. */
  releasedByDeregistration(agent: { id: number; name: string }): EventSpec {
    return {
      kind: 'task.released',
      actor: agent.name,
      agentId: agent.id,
      message: 'the holder deregistered',
      data: null,
    };
  },

  expired(
    lease: { agentId: number; agentName: string },
    outcome: { retryInMs: number | null; attempts: number; maxAttempts: number },
  ): EventSpec {
    return {
      kind: 'task.expired',
      actor: 'reaper',
      agentId: lease.agentId,
      message: `the lease of ${lease.agentName} expired`,
      data: {
        retry: outcome.retryInMs !== null,
        ...(outcome.retryInMs !== null ? { retryInMs: outcome.retryInMs } : {}),
        attempts: outcome.attempts,
        maxAttempts: outcome.maxAttempts,
      },
    };
  },

  /** By the holder: the task waits for an answer. */
  asked(question: { for: string; text: string; choices: string[] | null }): EventSpec {
    return holder('task.asked', question.text, {
      for: question.for,
      ...(question.choices ? { choices: question.choices } : {}),
    });
  },

  answered(by: { name: string; agentId: number | null }, questionId: number, answer: string): EventSpec {
    return {
      kind: 'task.answered',
      actor: by.name,
      agentId: by.agentId,
      message: answer,
      data: { questionId },
    };
  },

  approved(reviewer: { name: string; agentId: number | null }, feedback: string | null): EventSpec {
    return {
      kind: 'task.approved',
      actor: reviewer.name,
      agentId: reviewer.agentId,
      message: feedback,
      data: null,
    };
  },

  changesRequested(
    reviewer: { name: string; agentId: number | null },
    feedback: string,
    rounds: { reviewRounds: number; maxReviewRounds: number },
  ): EventSpec {
    return {
      kind: 'task.changes_requested',
      actor: reviewer.name,
      agentId: reviewer.agentId,
      message: feedback,
      data: { reviewRounds: rounds.reviewRounds, maxReviewRounds: rounds.maxReviewRounds },
    };
  },

  /**
   * `agentId`: the agent the task was with (holder or assignee), if any. A dependent cancelled with
   * the task it depends on says so.
   */
  cancelled(
    actor: string,
    agentId: number | null,
    reason: string | null,
    cascade: { rootId: number } | null,
  ): EventSpec {
    const message =
      cascade === null
        ? reason
        : [`a task it depends on (#${cascade.rootId}) was cancelled`, reason].filter(Boolean).join(': ');
    return { kind: 'task.cancelled', actor, agentId, message, data: null };
  },

  workflowCancelled(actor: string, reason: string | null, cancelled: number[]): EventSpec {
    return { kind: 'workflow.cancelled', actor, agentId: null, message: reason, data: { cancelled } };
  },

  retried(actor: string, from: TaskStatus): EventSpec {
    return {
      kind: 'task.retried',
      actor,
      agentId: null,
      message: `retried after it was ${from}`,
      data: null,
    };
  },

  assigned(actor: string, agent: { id: number; name: string }): EventSpec {
    return {
      kind: 'task.assigned',
      actor,
      agentId: agent.id,
      message: `assigned to ${agent.name}`,
      data: null,
    };
  },

  /** A dependent whose dependencies are all completed now; actor null: the completing holder. */
  unblocked(actor: string | null): EventSpec {
    return {
      kind: 'task.unblocked',
      actor,
      agentId: null,
      message: 'all dependencies completed',
      data: null,
    };
  },

  agentRegistered(agent: {
    name: string;
    type: string;
    capabilities: string[];
    host: string | null;
    pid: number | null;
  }): EventSpec {
    return {
      kind: 'agent.registered',
      actor: agent.name,
      agentId: null,
      message: `${agent.name} (${agent.type}) registered`,
      data: { type: agent.type, capabilities: agent.capabilities, host: agent.host, pid: agent.pid },
    };
  },

  agentDeregistered(agent: { id: number; name: string }, actor: string, released: number[]): EventSpec {
    return {
      kind: 'agent.deregistered',
      actor,
      agentId: agent.id,
      message: `${agent.name} deregistered`,
      data: { released },
    };
  },

  /** Its agent is the store's to fill (one event per agent marked). */
  agentForgotten(actor: string, silentForMs: number): EventSpec {
    return {
      kind: 'agent.forgotten',
      actor,
      agentId: null,
      message: `forgotten: offline, not heard from for more than ${Math.round(silentForMs / 1000)} s`,
      data: null,
    };
  },

  agentOffline(offlineAfterMs: number): EventSpec {
    return {
      kind: 'agent.offline',
      actor: 'reaper',
      agentId: null,
      message: `no heartbeat for more than ${offlineAfterMs} ms`,
      data: null,
    };
  },
};
