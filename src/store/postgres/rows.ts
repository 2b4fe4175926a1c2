/**
 * Rows (snake_case, as node-postgres or `to_jsonb` return them) → domain objects. bigint columns
 * arrive as numbers (the store's pool parses int8 as Number; `to_jsonb` emits JSON numbers).
 */
import { deriveAgentStatus, deriveWorkflowStatus } from '../../core/derive.js';
import type { TaskStatus } from '../../core/status.js';
import type {
  Agent,
  Attempt,
  AttemptOutcome,
  CnsEvent,
  DependencyResult,
  EventKind,
  Json,
  Millis,
  Question,
  QuestionStatus,
  Task,
  Workflow,
} from '../../core/types.js';
import type { TaskState } from '../store.js';

export type Row = Record<string, unknown>;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const json = (v: unknown): Json | null => (v === undefined ? null : (v as Json | null));

export function toTask(r: Row): Task {
  const token = strOrNull(r.lease_token);
  return {
    id: num(r.id),
    workflowId: numOrNull(r.workflow_id),
    ref: strOrNull(r.ref),
    type: String(r.type),
    requires: (r.requires as string[] | null) ?? [],
    title: String(r.title),
    spec: String(r.spec ?? ''),
    input: json(r.input),
    priority: num(r.priority),
    runAfter: num(r.run_after),
    dependsOn: ((r.depends_on as unknown[] | null) ?? []).map(num),
    status: r.status as TaskStatus,
    attempts: num(r.attempts),
    maxAttempts: num(r.max_attempts),
    lease:
      token === null
        ? null
        : {
            agentId: num(r.lease_agent_id),
            agentName: String(r.lease_agent_name),
            token,
            expiresAt: num(r.lease_expires_at),
            lengthMs: numOrNull(r.lease_ms),
          },
    assignedTo: numOrNull(r.assigned_to),
    preferred:
      r.prefer_agent_id === null || r.prefer_agent_id === undefined
        ? null
        : { agentId: num(r.prefer_agent_id), until: num(r.prefer_until) },
    review: Boolean(r.review),
    reviewRounds: num(r.review_rounds),
    maxReviewRounds: num(r.max_review_rounds),
    progress: {
      note: strOrNull(r.progress_note),
      percent: numOrNull(r.progress_percent),
      checkpoint: json(r.progress_checkpoint),
      at: numOrNull(r.progress_at),
    },
    result: strOrNull(r.result),
    resultData: json(r.result_data),
    error: strOrNull(r.error),
    completedBy: numOrNull(r.completed_by),
    idempotencyKey: strOrNull(r.idempotency_key),
    metadata: (r.metadata as Record<string, Json> | null) ?? {},
    createdBy: strOrNull(r.created_by),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
  };
}

/** A row selected with `author_name` and `open_deps` → the lifecycle's view of the task. */
export function toTaskState(r: Row): TaskState {
  const token = strOrNull(r.lease_token);
  return {
    id: num(r.id),
    workflowId: numOrNull(r.workflow_id),
    status: r.status as TaskStatus,
    attempts: num(r.attempts),
    maxAttempts: num(r.max_attempts),
    review: Boolean(r.review),
    reviewRounds: num(r.review_rounds),
    maxReviewRounds: num(r.max_review_rounds),
    lease:
      token === null
        ? null
        : { token, agentId: num(r.lease_agent_id), agentName: String(r.lease_agent_name) },
    assignedTo: numOrNull(r.assigned_to),
    completedBy: numOrNull(r.completed_by),
    authorName: strOrNull(r.author_name),
    openDependencies: num(r.open_deps ?? 0),
  };
}

export function toQuestion(r: Row): Question {
  return {
    id: num(r.id),
    taskId: num(r.task_id),
    workflowId: numOrNull(r.workflow_id),
    attemptSeq: num(r.attempt_seq),
    askedBy: { agentId: num(r.asked_by_agent_id), name: String(r.asked_by_name) },
    for: String(r.for_whom),
    text: String(r.text),
    choices: (r.choices as string[] | null) ?? null,
    context: json(r.context),
    askedAt: num(r.asked_at),
    status: r.status as QuestionStatus,
    answer: strOrNull(r.answer),
    answeredBy:
      r.answered_by === null || r.answered_by === undefined
        ? null
        : { name: String(r.answered_by), agentId: numOrNull(r.answered_by_agent_id) },
    answeredAt: numOrNull(r.answered_at),
    closedReason: strOrNull(r.closed_reason),
  };
}

export function toAttempt(r: Row): Attempt {
  return {
    taskId: num(r.task_id),
    seq: num(r.seq),
    agentId: num(r.agent_id),
    agentName: String(r.agent_name),
    startedAt: num(r.started_at),
    endedAt: numOrNull(r.ended_at),
    outcome: r.outcome as AttemptOutcome,
    note: strOrNull(r.note),
    percent: numOrNull(r.percent),
    checkpoint: json(r.checkpoint),
    error: strOrNull(r.error),
    feedback: strOrNull(r.feedback),
    result: strOrNull(r.result),
  };
}

/** `r.held` is the array of held task ids; `now` decides liveness. */
export function toAgent(r: Row, now: Millis, offlineAfterMs: Millis): Agent {
  const held = ((r.held as unknown[] | null) ?? []).map(num);
  const lastHeartbeatAt = num(r.last_heartbeat_at);
  const deregisteredAt = numOrNull(r.deregistered_at);
  return {
    id: num(r.id),
    name: String(r.name),
    type: String(r.type),
    capabilities: (r.capabilities as string[] | null) ?? [],
    host: strOrNull(r.host),
    pid: numOrNull(r.pid),
    clientInfo: json(r.client_info),
    registeredAt: num(r.registered_at),
    lastHeartbeatAt,
    deregisteredAt,
    session: strOrNull(r.session),
    status: deriveAgentStatus(
      { lastHeartbeatAt, deregisteredAt, heldCount: held.length },
      now,
      offlineAfterMs,
    ),
    heldTasks: held,
  };
}

export function toWorkflow(r: Row): Workflow {
  const raw = (r.counts as Record<string, unknown> | null) ?? {};
  const counts: Partial<Record<TaskStatus, number>> = {};
  for (const [k, v] of Object.entries(raw)) counts[k as TaskStatus] = num(v);
  return {
    id: num(r.id),
    name: String(r.name),
    createdBy: strOrNull(r.created_by),
    createdAt: num(r.created_at),
    metadata: (r.metadata as Record<string, Json> | null) ?? {},
    counts,
    status: deriveWorkflowStatus(counts),
  };
}

export function toEvent(r: Row): CnsEvent {
  return {
    id: num(r.id),
    at: num(r.at),
    kind: r.kind as EventKind,
    taskId: numOrNull(r.task_id),
    workflowId: numOrNull(r.workflow_id),
    agentId: numOrNull(r.agent_id),
    actor: String(r.actor),
    fromStatus: (r.from_status as TaskStatus | null) ?? null,
    toStatus: (r.to_status as TaskStatus | null) ?? null,
    message: strOrNull(r.message),
    data: json(r.data),
  };
}

export function toDependency(r: Row): DependencyResult {
  const completed = r.status === 'completed';
  return {
    taskId: num(r.id),
    ref: strOrNull(r.ref),
    title: String(r.title),
    status: r.status as TaskStatus,
    result: completed ? strOrNull(r.result) : null,
    resultData: completed ? json(r.result_data) : null,
  };
}
