/**
 * The operations the fronts that act for an agent or a supervisor need — exactly what the MCP tools
 * and `AgentSession` use. Two implementations: the `Coordinator` (in-process, over a Store) and
 * `HttpCnsApi` (src/http/http-client.ts: over a remote `cns serve`). So `cns mcp` runs the same
 * code whether it opens a database or talks to a server.
 *
 * Who acts is an `Actor` (api-types.ts), resolved once per request by the front and passed down.
 * Over HTTP, who acts is the token's identity: `actor` arguments (the reviewer too) and the agent
 * passed to `claimNext` are decided by the server, not by the caller.
 *
 * Its types come from api-types.ts, never from an implementation.
 */
import type { NewTask, NewWorkflow } from '../core/batch.js';
import type { CnsConfig } from '../core/config.js';
import type { Agent, CnsEvent, Json, Question, Task, Workflow } from '../core/types.js';
import type {
  AgentRef,
  AgentRegistration,
  CreateTasksResult,
  EventFilter,
  Page,
  ProgressInput,
  QuestionFilter,
  TaskFilter,
} from '../store/store.js';
import type { Actor, ClaimOptions, ClaimOutcome, FleetStatus, ReviewInput, TaskDetail } from './api-types.js';
import type { Explanation } from './explain.js';
import type { QuestionInput } from './lifecycle.js';

/** The settings a front reads. `db` names where the data lives (a path, a URL, or a server URL). */
export type CnsApiConfig = Pick<CnsConfig, 'db' | 'heartbeatIntervalMs' | 'waitDefaultMs' | 'waitMaxMs'>;

export interface CnsApi {
  readonly config: Readonly<CnsApiConfig>;
  close(): Promise<void>;

  // agents
  registerAgent(input: AgentRegistration): Promise<Agent>;
  /** Marks the agent alive and renews the leases its `session` holds (each by its own length). */
  heartbeat(agentId: number, session: string | null): Promise<{ agent: Agent; renewed: number[] }>;
  /**
   * Ends the session: releases what it holds; deregisters the agent if it is its current session.
   * `actor`: who ends it (default: the agent itself).
   */
  deregisterAgent(agentId: number, session: string | null, actor?: Actor): Promise<{ released: number[] }>;
  getAgent(ref: number | string): Promise<Agent>;
  listAgents(): Promise<Agent[]>;

  // creating and reading
  createTask(
    task: NewTask & { workflowId?: number },
    actor: Actor,
  ): Promise<{ task: Task; created: boolean }>;
  createWorkflow(workflow: NewWorkflow & { tasks: NewTask[] }, actor: Actor): Promise<CreateTasksResult>;
  getTask(id: number): Promise<Task>;
  getTaskDetail(id: number, options?: { eventLimit?: number }): Promise<TaskDetail>;
  listTasks(filter?: TaskFilter): Promise<Page<Task>>;
  getWorkflow(id: number): Promise<Workflow>;
  listWorkflows(filter?: { limit?: number; after?: number }): Promise<Page<Workflow>>;
  listEvents(filter?: EventFilter): Promise<CnsEvent[]>;
  explain(id: number): Promise<Explanation>;
  status(options?: { stuckLimit?: number }): Promise<FleetStatus>;

  // the agent's side (fenced by the lease token)
  claimNext(agent: AgentRef, options?: ClaimOptions): Promise<ClaimOutcome>;
  /**
   * Waits, claiming nothing, until a task this agent could claim exists (assigned to it, or pending
   * of its type with capabilities it has); the task, or null with the reason when the wait ends
   * (`waitMs`, capped by config.waitMaxMs, or the signal). Over `cns serve` the token is the agent.
   */
  waitForWork(
    agent: Pick<AgentRef, 'id' | 'name' | 'type' | 'capabilities'>,
    options?: Pick<ClaimOptions, 'waitMs' | 'signal'>,
  ): Promise<{ task: Task; reason?: undefined } | { task: null; reason: string }>;
  heartbeatTask(taskId: number, leaseToken: string): Promise<Task>;
  progress(taskId: number, leaseToken: string, input: ProgressInput): Promise<Task>;
  complete(taskId: number, leaseToken: string, input: { result: string; data?: Json }): Promise<Task>;
  fail(taskId: number, leaseToken: string, input: { error: string; retryable?: boolean }): Promise<Task>;
  release(taskId: number, leaseToken: string, reason?: string): Promise<Task>;
  /** Ask a question about the task held: it waits for the answer, the agent is free meanwhile. */
  ask(taskId: number, leaseToken: string, input: QuestionInput): Promise<{ task: Task; question: Question }>;

  // the supervisor's side
  /** Answer an open question: the task goes back to pending, kept for the asker for a while. */
  answer(
    questionId: number,
    input: { answer: string; by: Actor },
  ): Promise<{ task: Task; question: Question }>;
  getQuestion(id: number): Promise<Question>;
  /** Questions, newest first. */
  listQuestions(filter?: QuestionFilter): Promise<Question[]>;
  assign(taskId: number, agentRef: number | string, actor: Actor): Promise<Task>;
  /** Approve or request changes; the reviewer may not be the author of the result. */
  review(taskId: number, input: ReviewInput): Promise<Task>;
  cancel(taskId: number, actor: Actor, reason?: string): Promise<Task[]>;
  cancelWorkflow(workflowId: number, actor: Actor, reason?: string): Promise<Task[]>;
  retry(taskId: number, actor: Actor): Promise<Task>;

  /**
   * Re-evaluate `check` whenever something changes (at least every poll interval) until it returns
   * a value, the timeout passes (capped by config.waitMaxMs), or the signal aborts. Null then.
   */
  waitUntil<T>(check: () => Promise<T | null>, timeoutMs: number, signal?: AbortSignal): Promise<T | null>;
}
