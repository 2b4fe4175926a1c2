/**
 * What `cns worker --exec` writes to its command's stdin: the claimed task as JSON, with the same
 * fields as the task MCP's `task_next` hands an agent (src/mcp/views.ts `claimedView`), so a model
 * behind MCP and a command behind a worker get the same brief. Unlike an MCP answer, nothing is
 * clipped (a pipe has no answer-size limit): the spec, the input and the dependencies' results are
 * whole. The lease token is not in it (it is in the environment, CNS_LEASE_TOKEN).
 */
import type { Attempt, ClaimedTask, DependencyResult, Json, Question, Workflow } from '../core/types.js';

/** At most this many earlier attempts are handed over (the most recent ones), as over MCP. */
export const BRIEF_HANDOFF_ATTEMPTS = 8;

export interface TaskBrief {
  id: number;
  title: string;
  type: string;
  status: string;
  ref: string | null;
  workflowId: number | null;
  workflowName: string | null;
  requires: string[];
  priority: number;
  /** This claim's attempt number (1 for the first), counted against maxAttempts. */
  attempt: number;
  maxAttempts: number;
  review: boolean;
  reviewRounds: number;
  spec: string;
  input: Json | null;
  metadata: Record<string, Json>;
  leaseExpiresAt: number;
  dependencies: {
    taskId: number;
    ref: string | null;
    title: string;
    status: string;
    result: string | null;
    resultData: Json | null;
  }[];
  /** Earlier attempts, oldest first: notes, checkpoints, errors, review feedback. */
  handoff: {
    seq: number;
    agent: string;
    outcome: Attempt['outcome'];
    startedAt: number;
    endedAt: number | null;
    note: string | null;
    percent: number | null;
    checkpoint: Json | null;
    error: string | null;
    feedback: string | null;
    result: string | null;
  }[];
  /** Earlier attempts left out of `handoff` (only the last BRIEF_HANDOFF_ATTEMPTS are given). */
  handoffOmitted: number;
  /** The questions asked about the task, with their answers. */
  questions: {
    id: number;
    taskId: number;
    for: string;
    askedBy: string;
    askedAt: number;
    question: string;
    choices: string[] | null;
    context: Json | null;
    status: Question['status'];
    answer: string | null;
    answeredBy: string | null;
    answeredAt: number | null;
  }[];
}

function dependency(d: DependencyResult): TaskBrief['dependencies'][number] {
  return {
    taskId: d.taskId,
    ref: d.ref,
    title: d.title,
    status: d.status,
    result: d.result,
    resultData: d.resultData,
  };
}

function attempt(a: Attempt): TaskBrief['handoff'][number] {
  return {
    seq: a.seq,
    agent: a.agentName,
    outcome: a.outcome,
    startedAt: a.startedAt,
    endedAt: a.endedAt,
    note: a.note,
    percent: a.percent,
    checkpoint: a.checkpoint,
    error: a.error,
    feedback: a.feedback,
    result: a.result,
  };
}

function question(q: Question): TaskBrief['questions'][number] {
  return {
    id: q.id,
    taskId: q.taskId,
    for: q.for,
    askedBy: q.askedBy.name,
    askedAt: q.askedAt,
    question: q.text,
    choices: q.choices,
    context: q.context,
    status: q.status,
    answer: q.answer,
    answeredBy: q.answeredBy?.name ?? null,
    answeredAt: q.answeredAt,
  };
}

/** The brief of a claimed task (`workflow`: the task's workflow, if it has one and it was read). */
export function taskBrief(c: ClaimedTask, workflow: Workflow | null): TaskBrief {
  const t = c.task;
  const earlier = c.handoff.filter((a) => a.outcome !== 'running');
  const handoff = earlier.slice(-BRIEF_HANDOFF_ATTEMPTS).map(attempt);
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
    spec: t.spec,
    input: t.input,
    metadata: t.metadata,
    leaseExpiresAt: c.leaseExpiresAt,
    dependencies: c.dependencies.map(dependency),
    handoff,
    handoffOmitted: earlier.length - handoff.length,
    questions: c.questions.map(question),
  };
}
