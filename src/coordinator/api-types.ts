/**
 * The types of the coordinator's API: what the `CnsApi` interface (cns-api.ts) speaks, shared by
 * its implementations (the `Coordinator`, and `HttpCnsApi` in src/http/http-client.ts) and the
 * fronts. Types only, so the interface never imports its own implementation.
 */
import type {
  Agent,
  Attempt,
  ClaimedTask,
  CnsEvent,
  DependencyResult,
  Millis,
  Question,
  Task,
} from '../core/types.js';
import type { TaskStatus } from '../core/status.js';
import type { Store } from '../store/store.js';
import type { Explanation } from './explain.js';

/** With what authority an actor acts. */
export type ActorRole = 'agent' | 'supervisor' | 'admin' | 'system';

/**
 * Who acts: resolved once per request by each front's auth layer and passed down, so the same
 * identity reaches every rule whatever the front (e.g. an author cannot review its own work: the
 * lifecycle compares both the agent id and the name with the task's author).
 *
 * - `name` is recorded in the events (the `actor` of each event);
 * - `agentId` is the agent this actor is, if it is one: the agent of an MCP session or of an HTTP
 *   agent token; for a person or supervisor named like a registered agent (CLI `--as`, HTTP
 *   supervisor and admin tokens), that agent; else null.
 */
export interface Actor {
  name: string;
  agentId: number | null;
  role: ActorRole;
}

/** A review decision and who makes it. */
export interface ReviewInput {
  reviewer: Actor;
  approve: boolean;
  /** What to change (required when requesting changes). */
  feedback?: string;
}

export interface ClaimOptions {
  /** How long to wait for a claimable task, in ms. 0 (default) returns at once. Capped by config.waitMaxMs. */
  waitMs?: number;
  /** Ends the wait early (the call then returns without claiming). */
  signal?: AbortSignal;
  /** Called about once a second while waiting, with the time waited so far (MCP progress notifications). */
  onWaiting?: (waitedMs: number) => void;
  /** Lease length for this claim. Default config.policy.leaseMs. */
  leaseMs?: number;
  /**
   * Over `cns serve` (HttpCnsApi): claim a further task even if this session already holds one (a
   * worker with several slots). Without it a claim there hands back first a task the session holds
   * (its answer may have been lost with a cancelled call), as `task_next` wants. In-process claims
   * never hand back.
   */
  another?: boolean;
}

export type ClaimOutcome =
  | {
      claimed: ClaimedTask;
      /** True when the task was already held by this session (returned again, not claimed anew). */
      resumed?: boolean;
      reason?: undefined;
    }
  | { claimed: null; reason: string; resumed?: undefined };

export interface TaskDetail {
  task: Task;
  dependencies: DependencyResult[];
  dependents: number[];
  attempts: Attempt[];
  events: CnsEvent[];
  /** The questions asked about the task, oldest first, with their answers. */
  questions: Question[];
  explanation: Explanation;
}

export interface FleetStatus {
  at: Millis;
  backend: Store['backend'];
  agents: Agent[];
  counts: Record<TaskStatus, number>;
  /** Questions waiting for an answer (one per task in `waiting_input`). */
  openQuestions: number;
  /** Non-final tasks that are not moving, with the reason (held by an offline agent, no live agent, …). */
  stuck: Explanation[];
  /** How many non-final tasks are not moving (`stuck` lists the first of them). */
  stuckTotal: number;
  /** False when there were too many open tasks to examine them all: `stuckTotal` is then a lower bound. */
  stuckTotalExact: boolean;
}
