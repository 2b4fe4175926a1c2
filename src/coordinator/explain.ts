import { allowedActions, isFinal, type TaskStatus } from '../core/status.js';
import type { Agent, AgentStatus, Millis, Task } from '../core/types.js';
import type { AgentRef, Store } from '../store/store.js';

/** One reason a task is not moving. */
export type Reason =
  | { code: 'final'; status: TaskStatus }
  | { code: 'blocked_by'; tasks: { id: number; title: string; status: TaskStatus }[] }
  | { code: 'scheduled'; at: Millis }
  | { code: 'no_live_agent'; type: string; requires: string[]; agentsOfType: number }
  | { code: 'agents_busy'; type: string; liveAgents: number; ahead: number }
  | { code: 'assigned'; agent: string; agentStatus: AgentStatus | 'unknown' }
  | { code: 'held'; agent: string; until: Millis; agentStatus: AgentStatus | 'unknown'; expired: boolean }
  | { code: 'awaiting_review'; author: string | null; since: Millis }
  | {
      code: 'waiting_input';
      questionId: number;
      /** Whom the question is for. */
      from: string;
      askedBy: string;
      since: Millis;
      question: string;
    }
  /** Pending but kept for the agent that asked a question, until `until` (then anyone of its type). */
  | { code: 'kept_for'; agent: string; until: Millis };

export interface Explanation {
  taskId: number;
  status: TaskStatus;
  /** One or two sentences for a person. */
  summary: string;
  reasons: Reason[];
}

const fmt = (t: Millis) => new Date(t).toISOString();

/** Why a task is not moving. Reads only; safe on any backend. */
export async function explainTask(store: Store, task: Task, now: Millis): Promise<Explanation> {
  const reasons: Reason[] = [];
  const agents = await store.listAgents();
  const byId = new Map(agents.map((a) => [a.id, a]));
  const agentStatus = (id: number): AgentStatus | 'unknown' => byId.get(id)?.status ?? 'unknown';

  if (isFinal(task.status)) {
    reasons.push({ code: 'final', status: task.status });
  } else if (task.status === 'blocked') {
    const deps = await store.getDependencies(task.id);
    reasons.push({
      code: 'blocked_by',
      tasks: deps
        .filter((d) => d.status !== 'completed')
        .map((d) => ({ id: d.taskId, title: d.title, status: d.status })),
    });
  } else if (task.status === 'pending') {
    if (task.runAfter > now) reasons.push({ code: 'scheduled', at: task.runAfter });
    if (task.preferred && task.preferred.until > now) {
      reasons.push({
        code: 'kept_for',
        agent: byId.get(task.preferred.agentId)?.name ?? `#${task.preferred.agentId}`,
        until: task.preferred.until,
      });
    }
    const capable = agents.filter(
      (a) => a.type === task.type && task.requires.every((c) => a.capabilities.includes(c)),
    );
    const live = capable.filter((a) => a.status !== 'offline');
    if (live.length === 0) {
      reasons.push({
        code: 'no_live_agent',
        type: task.type,
        requires: task.requires,
        agentsOfType: agents.filter((a) => a.type === task.type && a.status !== 'offline').length,
      });
    } else if (task.runAfter <= now) {
      const ahead = await countAhead(store, task);
      reasons.push({ code: 'agents_busy', type: task.type, liveAgents: live.length, ahead });
    }
  } else if (task.status === 'assigned' && task.assignedTo !== null) {
    reasons.push({
      code: 'assigned',
      agent: byId.get(task.assignedTo)?.name ?? `#${task.assignedTo}`,
      agentStatus: agentStatus(task.assignedTo),
    });
  } else if (task.status === 'in_progress' && task.lease) {
    reasons.push({
      code: 'held',
      agent: task.lease.agentName,
      until: task.lease.expiresAt,
      agentStatus: agentStatus(task.lease.agentId),
      expired: task.lease.expiresAt <= now,
    });
  } else if (task.status === 'waiting_input') {
    const [q] = await store.listQuestions({ taskId: task.id, status: ['open'], limit: 1 });
    if (q) {
      reasons.push({
        code: 'waiting_input',
        questionId: q.id,
        from: q.for,
        askedBy: q.askedBy.name,
        since: q.askedAt,
        question: q.text,
      });
    }
  } else if (task.status === 'awaiting_review') {
    const author =
      task.completedBy !== null ? (byId.get(task.completedBy)?.name ?? `#${task.completedBy}`) : null;
    reasons.push({ code: 'awaiting_review', author, since: task.updatedAt });
  }
  return { taskId: task.id, status: task.status, summary: summarize(task, reasons), reasons };
}

/** Pending tasks of the same type that a claim would take before this one. */
async function countAhead(store: Store, task: Task): Promise<number> {
  let ahead = 0;
  let after: number | undefined;
  for (let pages = 0; pages < 20; pages++) {
    const page = await store.listTasks({ status: ['pending'], type: task.type, limit: 500, after });
    for (const t of page.items) {
      if (
        t.id !== task.id &&
        (t.priority > task.priority || (t.priority === task.priority && t.id < task.id))
      )
        ahead++;
    }
    if (page.nextCursor === null) break;
    after = page.nextCursor;
  }
  return ahead;
}

export function describeReason(r: Reason): string {
  switch (r.code) {
    case 'final':
      // Offer only what the status allows (core/status.ts): a completed task cannot be retried.
      return allowedActions(r.status).includes('retry')
        ? `it is ${r.status}: final (retry it to run it again)`
        : `it is ${r.status}: final`;
    case 'blocked_by':
      return r.tasks.length === 0
        ? 'blocked, but every dependency is completed: it will be unblocked shortly'
        : `blocked by ${r.tasks.map((t) => `#${t.id} "${t.title}" (${t.status})`).join(', ')}`;
    case 'scheduled':
      return `scheduled: not claimable before ${fmt(r.at)}`;
    case 'no_live_agent':
      return r.requires.length > 0
        ? `no live agent of type "${r.type}" with capabilities ${r.requires.join(', ')} (${r.agentsOfType} live of that type lack them)`
        : `no live agent of type "${r.type}"`;
    case 'agents_busy':
      return `waiting for a free agent: ${r.liveAgents} live agent(s) of type "${r.type}" can take it; ${r.ahead} task(s) are ahead of it`;
    case 'assigned':
      return `assigned to ${r.agent} (${r.agentStatus}), waiting for it to take the task`;
    case 'held':
      return `held by ${r.agent} (${r.agentStatus}) until ${fmt(r.until)}${r.expired ? ' — the lease has expired; the reaper will return it to the queue' : ''}`;
    case 'awaiting_review':
      return `awaiting review since ${fmt(r.since)}${r.author ? ` (author: ${r.author}; the author cannot approve it)` : ''}`;
    case 'waiting_input':
      return `waiting for an answer from ${r.from} since ${fmt(r.since)}: ${r.askedBy} asked (question #${r.questionId}) "${clip(r.question)}"`;
    case 'kept_for':
      return `kept for ${r.agent}, who asked about it, until ${fmt(r.until)}; then any agent of its type may take it`;
  }
}

function summarize(task: Task, reasons: Reason[]): string {
  if (reasons.length === 0) return `task ${task.id} is ${task.status}`;
  return `task ${task.id} is ${task.status}: ${reasons.map(describeReason).join('; ')}`;
}

/** Why a claim for this agent found nothing: in words, for the agent. */
export async function explainEmptyClaim(
  store: Store,
  agent: Pick<AgentRef, 'type' | 'capabilities'>,
  now: Millis,
): Promise<string> {
  const page = await store.listTasks({ status: ['pending', 'blocked'], type: agent.type, limit: 500 });
  const pending = page.items.filter((t) => t.status === 'pending');
  const blocked = page.items.filter((t) => t.status === 'blocked');
  const missingCaps = pending.filter((t) => !t.requires.every((c) => agent.capabilities.includes(c)));
  const scheduled = pending.filter((t) => t.runAfter > now && !missingCaps.includes(t));
  const parts: string[] = [];
  if (pending.length === 0 && blocked.length === 0) parts.push(`no pending task of type "${agent.type}"`);
  if (missingCaps.length > 0) {
    const caps = [
      ...new Set(missingCaps.flatMap((t) => t.requires.filter((c) => !agent.capabilities.includes(c)))),
    ];
    parts.push(
      `${missingCaps.length} pending task(s) of type "${agent.type}" need capabilities this agent lacks: ${caps.join(', ')}`,
    );
  }
  if (scheduled.length > 0) {
    const next = Math.min(...scheduled.map((t) => t.runAfter));
    parts.push(`${scheduled.length} task(s) are scheduled for later (next at ${fmt(next)})`);
  }
  if (blocked.length > 0)
    parts.push(`${blocked.length} task(s) of type "${agent.type}" wait on dependencies`);
  if (parts.length === 0) parts.push('every claimable task was taken by other agents');
  return parts.join('; ');
}

function clip(text: string, max = 120): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

export function agentLabel(a: Agent): string {
  return `${a.name} (${a.type}${a.capabilities.length ? `; ${a.capabilities.join(', ')}` : ''})`;
}
