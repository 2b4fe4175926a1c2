import type { TaskDetail } from '../coordinator/coordinator.js';
import { isFinal } from '../core/status.js';
import type {
  Agent,
  Attempt,
  ClaimedTask,
  DependencyResult,
  Question,
  Task,
  Workflow,
} from '../core/types.js';
import {
  clip,
  clipJson,
  DEP_RESULT_CHARS,
  JSON_VALUE_BYTES,
  NOTE_CHARS,
  ROW_NOTE_CHARS,
  SPEC_CHARS,
} from './limits.js';

/**
 * How the MCP front shows domain objects: concise rows for lists, the full picture for the task an
 * agent just took, and details with history for task_get. Long texts are clipped with a pointer to
 * task_get's `part` paging; lease tokens are never shown (the process keeps them).
 */

const partPointer = (taskId: number, part: 'spec' | 'result', offset: number) =>
  `call task_get with {"task_id": ${taskId}, "part": "${part}", "offset": ${offset}} for the rest`;
const detailPointer = (taskId: number) => `call task_get with {"task_id": ${taskId}} for the full value`;

/** A one-line row: what a list shows. */
export interface TaskRow {
  id: number;
  title: string;
  type: string;
  status: Task['status'];
  workflowId: number | null;
  ref: string | null;
  priority: number;
  attempts: number;
  maxAttempts: number;
  review: boolean;
  /** Who holds it (in_progress) or was assigned it. */
  holder: string | null;
  note: string | null;
  percent: number | null;
  /** The start of the result (completed, awaiting review) or the error (failed). */
  outcome: string | null;
  dependsOn: number[];
  updatedAt: number;
}

export function taskRow(t: Task, agentNames?: Map<number, string>): TaskRow {
  const holder = t.lease
    ? t.lease.agentName
    : t.assignedTo !== null
      ? `assigned to ${agentNames?.get(t.assignedTo) ?? `agent #${t.assignedTo}`}`
      : null;
  const outcomeText = t.status === 'failed' || t.status === 'cancelled' ? t.error : t.result;
  return {
    id: t.id,
    title: t.title,
    type: t.type,
    status: t.status,
    workflowId: t.workflowId,
    ref: t.ref,
    priority: t.priority,
    attempts: t.attempts,
    maxAttempts: t.maxAttempts,
    review: t.review,
    holder,
    note: clip(t.progress.note, ROW_NOTE_CHARS, `call task_get with {"task_id": ${t.id}}`),
    percent: t.progress.percent,
    outcome:
      outcomeText !== null && (isFinal(t.status) || t.status === 'awaiting_review')
        ? clip(outcomeText, ROW_NOTE_CHARS, `call task_get with {"task_id": ${t.id}}`)
        : null,
    dependsOn: t.dependsOn,
    updatedAt: t.updatedAt,
  };
}

/** What an agent's task_update / task_complete / task_fail / task_release answer shows about the task. */
export type TaskBrief = {
  id: number;
  title: string;
  status: Task['status'];
  attempts: number;
  maxAttempts: number;
  percent: number | null;
  leaseExpiresAt: number | null;
  runAfter: number;
};

export function taskBrief(t: Task): TaskBrief {
  return {
    id: t.id,
    title: t.title,
    status: t.status,
    attempts: t.attempts,
    maxAttempts: t.maxAttempts,
    percent: t.progress.percent,
    leaseExpiresAt: t.lease?.expiresAt ?? null,
    runAfter: t.runAfter,
  };
}

export function dependencyView(d: DependencyResult) {
  return {
    taskId: d.taskId,
    ref: d.ref,
    title: d.title,
    status: d.status,
    result: clip(d.result, DEP_RESULT_CHARS, partPointer(d.taskId, 'result', DEP_RESULT_CHARS)),
    resultData: clipJson(d.resultData, JSON_VALUE_BYTES, detailPointer(d.taskId)),
  };
}

export function attemptView(a: Attempt) {
  const p = detailPointer(a.taskId);
  return {
    seq: a.seq,
    agent: a.agentName,
    outcome: a.outcome,
    startedAt: a.startedAt,
    endedAt: a.endedAt,
    note: clip(a.note, NOTE_CHARS, p),
    percent: a.percent,
    checkpoint: clipJson(a.checkpoint, JSON_VALUE_BYTES, p),
    error: clip(a.error, NOTE_CHARS, p),
    feedback: clip(a.feedback, NOTE_CHARS, p),
    result: clip(a.result, NOTE_CHARS, p),
  };
}

/** A question and, once given, its answer. */
export function questionView(q: Question) {
  const p = detailPointer(q.taskId);
  return {
    id: q.id,
    taskId: q.taskId,
    for: q.for,
    askedBy: q.askedBy.name,
    askedAt: q.askedAt,
    question: clip(q.text, NOTE_CHARS * 2, p),
    choices: q.choices,
    context: clipJson(q.context, JSON_VALUE_BYTES, p),
    status: q.status,
    answer: clip(q.answer, NOTE_CHARS * 2, p),
    answeredBy: q.answeredBy?.name ?? null,
    answeredAt: q.answeredAt,
  };
}

/** At most this many earlier attempts are handed over (the most recent ones). */
export const HANDOFF_ATTEMPTS = 8;

/** The task an agent just claimed: everything it needs to start (or resume) the work. */
export function claimedView(c: ClaimedTask, workflow: Workflow | null) {
  const t = c.task;
  const earlier = c.handoff.filter((a) => a.outcome !== 'running');
  const handoff = earlier.slice(-HANDOFF_ATTEMPTS).map(attemptView);
  return {
    id: t.id,
    title: t.title,
    type: t.type,
    status: t.status,
    ref: t.ref,
    workflowId: t.workflowId,
    workflowName: workflow?.name ?? null,
    requires: t.requires,
    priority: t.priority,
    attempt: t.attempts,
    maxAttempts: t.maxAttempts,
    review: t.review,
    reviewRounds: t.reviewRounds,
    spec: clip(t.spec, SPEC_CHARS, partPointer(t.id, 'spec', SPEC_CHARS)),
    input: clipJson(t.input, JSON_VALUE_BYTES, detailPointer(t.id)),
    metadata: clipJson(t.metadata, JSON_VALUE_BYTES, detailPointer(t.id)),
    leaseExpiresAt: c.leaseExpiresAt,
    dependencies: c.dependencies.map(dependencyView),
    handoff,
    handoffOmitted: earlier.length - handoff.length,
    questions: c.questions.map(questionView),
  };
}

/** A task in full (task_get), without its lease token, long texts clipped with a pointer. */
export function taskFull(t: Task) {
  const { lease, ...rest } = t;
  return {
    ...rest,
    lease: lease ? { agentId: lease.agentId, agentName: lease.agentName, expiresAt: lease.expiresAt } : null,
    spec: clip(t.spec, SPEC_CHARS, partPointer(t.id, 'spec', SPEC_CHARS)),
    result: clip(t.result, SPEC_CHARS, partPointer(t.id, 'result', SPEC_CHARS)),
    error: clip(t.error, NOTE_CHARS * 2, detailPointer(t.id)),
    input: clipJson(t.input, JSON_VALUE_BYTES, `the task's input is ${JSON.stringify(t.input).length} bytes`),
    resultData: clipJson(t.resultData, JSON_VALUE_BYTES, `the result data is too large for one answer`),
    progress: { ...t.progress, checkpoint: clipJson(t.progress.checkpoint, JSON_VALUE_BYTES, 'too large') },
  };
}

/** task_get's detail: the task, its neighbours, its attempts and recent events, and why it is (not) moving. */
export function detailView(d: TaskDetail, eventLimit: number) {
  const events = d.events.slice(-eventLimit);
  return {
    task: taskFull(d.task),
    dependencies: d.dependencies.map(dependencyView),
    dependents: d.dependents,
    attempts: d.attempts.slice(-HANDOFF_ATTEMPTS).map(attemptView),
    questions: d.questions.slice(-HANDOFF_ATTEMPTS).map(questionView),
    events: events.map((e) => ({
      id: e.id,
      at: e.at,
      kind: e.kind,
      actor: e.actor,
      from: e.fromStatus,
      to: e.toStatus,
      message: clip(e.message, NOTE_CHARS, detailPointer(d.task.id)),
    })),
    explanation: { summary: d.explanation.summary, reasons: d.explanation.reasons },
  };
}

export function workflowView(w: Workflow) {
  return {
    id: w.id,
    name: w.name,
    status: w.status,
    counts: w.counts,
    createdBy: w.createdBy,
    createdAt: w.createdAt,
  };
}

export function agentView(a: Agent) {
  return {
    id: a.id,
    name: a.name,
    type: a.type,
    capabilities: a.capabilities,
    status: a.status,
    heldTasks: a.heldTasks,
    host: a.host,
    pid: a.pid,
    lastHeartbeatAt: a.lastHeartbeatAt,
  };
}
