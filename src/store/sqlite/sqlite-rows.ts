/** The SQLite rows (snake_case, JSON as text, booleans as 0/1) and their mapping to domain objects. */
import type { TaskStatus } from '../../core/status.js';
import type {
  Attempt,
  AttemptOutcome,
  CnsEvent,
  DependencyResult,
  EventKind,
  Json,
  Question,
  QuestionStatus,
  Task,
} from '../../core/types.js';

export interface TaskRow {
  id: number;
  workflow_id: number | null;
  ref: string | null;
  type: string;
  requires: string;
  title: string;
  spec: string;
  input: string | null;
  priority: number;
  run_after: number;
  has_deps: number;
  status: TaskStatus;
  attempts: number;
  max_attempts: number;
  lease_token: string | null;
  lease_agent_id: number | null;
  lease_agent_name: string | null;
  lease_expires_at: number | null;
  lease_session: string | null;
  lease_ms: number | null;
  prefer_agent_id: number | null;
  prefer_until: number | null;
  assigned_to: number | null;
  review: number;
  review_rounds: number;
  max_review_rounds: number;
  progress_note: string | null;
  progress_percent: number | null;
  progress_checkpoint: string | null;
  progress_at: number | null;
  result: string | null;
  result_data: string | null;
  error: string | null;
  completed_by: number | null;
  idempotency_key: string | null;
  metadata: string;
  created_by: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
}

/**
 * The tasks columns in a fixed order, for reading a row as an array (`Statement.raw()`) and
 * building the TaskRow as one object literal: several times cheaper than better-sqlite3 creating
 * an object property by property, which matters on the claim and completion path.
 */
export const TASK_COLUMNS =
  'id, workflow_id, ref, type, requires, title, spec, input, priority, run_after, has_deps, status, ' +
  'attempts, max_attempts, lease_token, lease_agent_id, lease_agent_name, lease_expires_at, assigned_to, ' +
  'review, review_rounds, max_review_rounds, progress_note, progress_percent, progress_checkpoint, ' +
  'progress_at, result, result_data, error, completed_by, idempotency_key, metadata, created_by, ' +
  'created_at, updated_at, started_at, finished_at, lease_session, lease_ms, prefer_agent_id, prefer_until';

/** A row read with `SELECT ${TASK_COLUMNS}` in raw mode → TaskRow. */
export function taskRowFromRaw(a: unknown[]): TaskRow {
  return {
    id: a[0] as number,
    workflow_id: a[1] as number | null,
    ref: a[2] as string | null,
    type: a[3] as string,
    requires: a[4] as string,
    title: a[5] as string,
    spec: a[6] as string,
    input: a[7] as string | null,
    priority: a[8] as number,
    run_after: a[9] as number,
    has_deps: a[10] as number,
    status: a[11] as TaskStatus,
    attempts: a[12] as number,
    max_attempts: a[13] as number,
    lease_token: a[14] as string | null,
    lease_agent_id: a[15] as number | null,
    lease_agent_name: a[16] as string | null,
    lease_expires_at: a[17] as number | null,
    assigned_to: a[18] as number | null,
    review: a[19] as number,
    review_rounds: a[20] as number,
    max_review_rounds: a[21] as number,
    progress_note: a[22] as string | null,
    progress_percent: a[23] as number | null,
    progress_checkpoint: a[24] as string | null,
    progress_at: a[25] as number | null,
    result: a[26] as string | null,
    result_data: a[27] as string | null,
    error: a[28] as string | null,
    completed_by: a[29] as number | null,
    idempotency_key: a[30] as string | null,
    metadata: a[31] as string,
    created_by: a[32] as string | null,
    created_at: a[33] as number,
    updated_at: a[34] as number,
    started_at: a[35] as number | null,
    finished_at: a[36] as number | null,
    lease_session: a[37] as string | null,
    lease_ms: a[38] as number | null,
    prefer_agent_id: a[39] as number | null,
    prefer_until: a[40] as number | null,
  };
}

export interface AttemptRow {
  task_id: number;
  seq: number;
  agent_id: number;
  agent_name: string;
  started_at: number;
  ended_at: number | null;
  outcome: AttemptOutcome;
  note: string | null;
  percent: number | null;
  checkpoint: string | null;
  error: string | null;
  feedback: string | null;
  result: string | null;
}

export interface AgentRow {
  id: number;
  name: string;
  type: string;
  capabilities: string;
  host: string | null;
  pid: number | null;
  client_info: string | null;
  registered_at: number;
  last_heartbeat_at: number;
  deregistered_at: number | null;
  offline_marked_at: number | null;
  session: string | null;
}

export interface WorkflowRow {
  id: number;
  name: string;
  review: number;
  created_by: string | null;
  created_at: number;
  metadata: string;
}

export interface EventRow {
  id: number;
  at: number;
  kind: EventKind;
  task_id: number | null;
  workflow_id: number | null;
  agent_id: number | null;
  actor: string;
  from_status: TaskStatus | null;
  to_status: TaskStatus | null;
  message: string | null;
  data: string | null;
}

export interface DependencyRow {
  task_id: number;
  depends_on: number;
  ref: string | null;
  title: string;
  status: TaskStatus;
  result: string | null;
  result_data: string | null;
}

/** JSON text → value; SQL NULL → null. */
export function parseJson(text: string | null): Json | null {
  return text === null ? null : (JSON.parse(text) as Json);
}

/** A value → JSON text; undefined and null → SQL NULL. */
export function toJson(value: Json | undefined): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

export function toTask(row: TaskRow, dependsOn: number[]): Task {
  return {
    id: row.id,
    workflowId: row.workflow_id,
    ref: row.ref,
    type: row.type,
    requires: JSON.parse(row.requires) as string[],
    title: row.title,
    spec: row.spec,
    input: parseJson(row.input),
    priority: row.priority,
    runAfter: row.run_after,
    dependsOn,
    status: row.status,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    lease:
      row.status === 'in_progress' &&
      row.lease_token !== null &&
      row.lease_agent_id !== null &&
      row.lease_expires_at !== null
        ? {
            agentId: row.lease_agent_id,
            agentName: row.lease_agent_name ?? '',
            token: row.lease_token,
            expiresAt: row.lease_expires_at,
            lengthMs: row.lease_ms,
          }
        : null,
    assignedTo: row.assigned_to,
    preferred:
      row.prefer_agent_id !== null && row.prefer_until !== null
        ? { agentId: row.prefer_agent_id, until: row.prefer_until }
        : null,
    review: row.review === 1,
    reviewRounds: row.review_rounds,
    maxReviewRounds: row.max_review_rounds,
    progress: {
      note: row.progress_note,
      percent: row.progress_percent,
      checkpoint: parseJson(row.progress_checkpoint),
      at: row.progress_at,
    },
    result: row.result,
    resultData: parseJson(row.result_data),
    error: row.error,
    completedBy: row.completed_by,
    idempotencyKey: row.idempotency_key,
    metadata: JSON.parse(row.metadata) as Record<string, Json>,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

export interface QuestionRow {
  id: number;
  task_id: number;
  workflow_id: number | null;
  attempt_seq: number;
  asked_by_agent_id: number;
  asked_by_name: string;
  for_whom: string;
  text: string;
  choices: string | null;
  context: string | null;
  asked_at: number;
  status: QuestionStatus;
  answer: string | null;
  answered_by: string | null;
  answered_by_agent_id: number | null;
  answered_at: number | null;
  closed_reason: string | null;
}

export function toQuestion(row: QuestionRow): Question {
  return {
    id: row.id,
    taskId: row.task_id,
    workflowId: row.workflow_id,
    attemptSeq: row.attempt_seq,
    askedBy: { agentId: row.asked_by_agent_id, name: row.asked_by_name },
    for: row.for_whom,
    text: row.text,
    choices: row.choices === null ? null : (JSON.parse(row.choices) as string[]),
    context: parseJson(row.context),
    askedAt: row.asked_at,
    status: row.status,
    answer: row.answer,
    answeredBy:
      row.answered_by === null ? null : { name: row.answered_by, agentId: row.answered_by_agent_id },
    answeredAt: row.answered_at,
    closedReason: row.closed_reason,
  };
}

export function toAttempt(row: AttemptRow): Attempt {
  return {
    taskId: row.task_id,
    seq: row.seq,
    agentId: row.agent_id,
    agentName: row.agent_name,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    outcome: row.outcome,
    note: row.note,
    percent: row.percent,
    checkpoint: parseJson(row.checkpoint),
    error: row.error,
    feedback: row.feedback,
    result: row.result,
  };
}

export function toDependency(row: DependencyRow): DependencyResult {
  const done = row.status === 'completed';
  return {
    taskId: row.depends_on,
    ref: row.ref,
    title: row.title,
    status: row.status,
    result: done ? row.result : null,
    resultData: done ? parseJson(row.result_data) : null,
  };
}

export function toEvent(row: EventRow): CnsEvent {
  return {
    id: row.id,
    at: row.at,
    kind: row.kind,
    taskId: row.task_id,
    workflowId: row.workflow_id,
    agentId: row.agent_id,
    actor: row.actor,
    fromStatus: row.from_status,
    toStatus: row.to_status,
    message: row.message,
    data: parseJson(row.data),
  };
}

/** Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`. */
export function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
