import type { TaskStatus } from './status.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** All times are milliseconds since the Unix epoch. */
export type Millis = number;

export interface Progress {
  note: string | null;
  percent: number | null;
  checkpoint: Json | null;
  at: Millis | null;
}

export interface Lease {
  /** The agent id holding the task. */
  agentId: number;
  agentName: string;
  token: string;
  expiresAt: Millis;
  /**
   * The lease length chosen at the claim: every renewal (agent heartbeat, task heartbeat, progress)
   * extends the lease by this much. Null only for leases taken before cns recorded it.
   */
  lengthMs: Millis | null;
}

export interface Task {
  id: number;
  workflowId: number | null;
  /** The local reference given when the task was created inside a workflow (unique within it). */
  ref: string | null;
  /** The agent type that may take this task. */
  type: string;
  /** Capabilities an agent must have (all of them) to take this task. */
  requires: string[];
  title: string;
  /** The specification: free text / markdown. */
  spec: string;
  /** Optional structured input. */
  input: Json | null;
  /** Higher runs first. Default 0. */
  priority: number;
  /** Not claimable before this time. */
  runAfter: Millis;
  /** Ids of tasks that must be completed first. */
  dependsOn: number[];
  status: TaskStatus;
  /** Claims so far that counted (a release or a change request gives the attempt back). */
  attempts: number;
  maxAttempts: number;
  /** Present while status is in_progress. */
  lease: Lease | null;
  /** Agent id a supervisor assigned the task to (status assigned). */
  assignedTo: number | null;
  /**
   * A pending task kept for one agent for a while (the agent that asked a question, once it is
   * answered): until then only that agent claims it; after, anyone of its type.
   */
  preferred: { agentId: number; until: Millis } | null;
  /** Whether a completion goes to awaiting_review first. */
  review: boolean;
  /** Change requests so far. */
  reviewRounds: number;
  maxReviewRounds: number;
  progress: Progress;
  result: string | null;
  resultData: Json | null;
  error: string | null;
  /** The agent (id) whose completion produced the current result: the author, for review. */
  completedBy: number | null;
  idempotencyKey: string | null;
  metadata: Record<string, Json>;
  createdBy: string | null;
  createdAt: Millis;
  updatedAt: Millis;
  startedAt: Millis | null;
  finishedAt: Millis | null;
}

export type AttemptOutcome =
  | 'running'
  | 'completed'
  | 'submitted_for_review'
  | 'failed'
  | 'released'
  | 'expired'
  | 'cancelled'
  /** The holder asked a question: the task waits for the answer, the attempt does not count. */
  | 'asked';

/** One claim of a task, kept after it ends: the handoff to the next claimant is made of these. */
export interface Attempt {
  taskId: number;
  /** 1-based sequence of claims of this task (every claim, including released ones). */
  seq: number;
  agentId: number;
  agentName: string;
  startedAt: Millis;
  endedAt: Millis | null;
  outcome: AttemptOutcome;
  note: string | null;
  percent: number | null;
  checkpoint: Json | null;
  error: string | null;
  /** Feedback given by a reviewer who requested changes on this attempt's result. */
  feedback: string | null;
  result: string | null;
}

/** What a completed dependency hands to its dependents. */
export interface DependencyResult {
  taskId: number;
  ref: string | null;
  title: string;
  status: TaskStatus;
  result: string | null;
  resultData: Json | null;
}

/** A task as handed to the agent that claimed it. */
export interface ClaimedTask {
  task: Task;
  /** The lease token: present it on every write about this task. */
  leaseToken: string;
  leaseExpiresAt: Millis;
  /** Results of the tasks this one depends on. */
  dependencies: DependencyResult[];
  /** Earlier attempts of this task, oldest first: notes, checkpoints, errors, review feedback. */
  handoff: Attempt[];
  /** The questions asked about this task so far, oldest first, with their answers. */
  questions: Question[];
}

export const QUESTION_STATUSES = ['open', 'answered', 'closed'] as const;
export type QuestionStatus = (typeof QUESTION_STATUSES)[number];

/**
 * A question an agent asked about the task it held (the task then waits in `waiting_input`). Kept
 * for ever, in order: the next claimant receives every question and answer in its handoff.
 */
export interface Question {
  id: number;
  taskId: number;
  workflowId: number | null;
  /** The attempt (claim) that asked. */
  attemptSeq: number;
  /** The agent that asked. */
  askedBy: { agentId: number; name: string };
  /** Whom it is for: "supervisor" (the default), or a named person or role. */
  for: string;
  text: string;
  /** Answers to pick from (an answer may still be any text). Null when none were given. */
  choices: string[] | null;
  /** Whatever JSON the agent added to decide on (files, options, costs). */
  context: Json | null;
  askedAt: Millis;
  status: QuestionStatus;
  answer: string | null;
  answeredBy: { name: string; agentId: number | null } | null;
  answeredAt: Millis | null;
  /** Why it was closed unanswered (its task was cancelled). */
  closedReason: string | null;
}

export type AgentStatus = 'idle' | 'working' | 'offline';

export interface Agent {
  id: number;
  name: string;
  type: string;
  capabilities: string[];
  host: string | null;
  pid: number | null;
  clientInfo: Json | null;
  registeredAt: Millis;
  lastHeartbeatAt: Millis;
  /** Set when the agent deregistered cleanly; cleared when it registers again. */
  deregisteredAt: Millis | null;
  /**
   * The agent's current session: one run of an agent process, minted at each registration. A lease
   * belongs to the session that claimed it: a heartbeat renews only its own session's leases, so a
   * process restarted under the same name never keeps its predecessor's tasks alive.
   */
  session: string | null;
  /** Derived: offline when deregistered or the last heartbeat is older than the offline threshold. */
  status: AgentStatus;
  /** Ids of the tasks it holds (in_progress with its lease). */
  heldTasks: number[];
}

export interface Workflow {
  id: number;
  name: string;
  createdBy: string | null;
  createdAt: Millis;
  metadata: Record<string, Json>;
  /** Task counts by status. */
  counts: Partial<Record<TaskStatus, number>>;
  /** Derived from its tasks. */
  status: WorkflowStatus;
}

export type WorkflowStatus = 'running' | 'awaiting_review' | 'completed' | 'failed' | 'cancelled';

export type EventKind =
  | 'task.created'
  | 'task.unblocked'
  | 'task.assigned'
  | 'task.claimed'
  | 'task.progress'
  | 'task.asked'
  | 'task.answered'
  | 'task.submitted'
  | 'task.completed'
  | 'task.approved'
  | 'task.changes_requested'
  | 'task.failed'
  | 'task.released'
  | 'task.expired'
  | 'task.cancelled'
  | 'task.retried'
  | 'workflow.created'
  | 'workflow.cancelled'
  | 'agent.registered'
  | 'agent.deregistered'
  | 'agent.offline'
  | 'agent.forgotten';

/** An append-only log row for every state change and every agent join/leave. */
export interface CnsEvent {
  /** Increasing; use it as a cursor. */
  id: number;
  at: Millis;
  kind: EventKind;
  taskId: number | null;
  workflowId: number | null;
  agentId: number | null;
  /** Who did it: an agent name, "supervisor", "cli", "reaper", … */
  actor: string;
  fromStatus: TaskStatus | null;
  toStatus: TaskStatus | null;
  /** Why, in words. */
  message: string | null;
  data: Json | null;
}

/** Who a token lets its bearer act as on `cns serve` (DESIGN.md §7). */
export type TokenRole = 'agent' | 'supervisor' | 'admin';

/**
 * An API token of `cns serve`. Only the SHA-256 of its secret is stored; the secret is shown once,
 * when it is created.
 */
export interface TokenRecord {
  id: number;
  /** A label for people (and the actor recorded for a supervisor's or admin's actions). */
  name: string;
  role: TokenRole;
  /** Agent tokens: the agent identity the bearer acts as (default: the token's name). Null otherwise. */
  agentName: string | null;
  /** Agent tokens: the agent's type. Null otherwise. */
  agentType: string | null;
  /** Agent tokens: the capabilities the agent may register with (empty: any). */
  capabilities: string[];
  createdAt: Millis;
  /** Updated at most about once a minute while the token is in use. */
  lastUsedAt: Millis | null;
  revokedAt: Millis | null;
}
