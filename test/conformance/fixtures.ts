/**
 * Shared fixtures of the Store conformance suite: the harness type, the test policy, a fresh store
 * per test (with a ManualClock), and small helpers to create tasks and agents the way the
 * coordinator does (batches go through `normalizeBatch`).
 */
import { afterEach, beforeEach, expect } from 'vitest';

import { Coordinator } from '../../src/coordinator/coordinator.js';
import { events } from '../../src/coordinator/events.js';
import { normalizeBatch, type NewTask, type NewWorkflow } from '../../src/core/batch.js';
import { ManualClock } from '../../src/core/clock.js';
import { resolveConfig } from '../../src/core/config.js';
import { DEFAULT_POLICY, type Policy } from '../../src/core/policy.js';
import { TASK_STATUSES, type TaskStatus } from '../../src/core/status.js';
import type { Agent, ClaimedTask, Task } from '../../src/core/types.js';
import type {
  AgentRef,
  AgentRegistration,
  CreateTasksResult,
  Store,
  StoreOptions,
} from '../../src/store/store.js';

export interface BackendHarness {
  /** 'sqlite' | 'postgres' — shown in test names. */
  name: string;
  /** A fresh, empty, isolated store. */
  open(options: StoreOptions): Promise<{
    store: Store;
    cleanup(): Promise<void>;
    /** A second store on the same database (as another process would open it); closed by cleanup. */
    openAnother(options: StoreOptions): Promise<Store>;
  }>;
}

/** The policy every test runs with (short, round numbers so that expected times are easy to state). */
export const TEST_POLICY: Readonly<Policy> = Object.freeze({
  ...DEFAULT_POLICY,
  leaseMs: 10_000,
  retryBaseMs: 1_000,
  retryMaxMs: 60_000,
  offlineAfterMs: 30_000,
  maxAttempts: 3,
  maxReviewRounds: 3,
});

/** The ManualClock's starting point (fixed, so that failures are reproducible). */
export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

export interface CreateOptions {
  workflow?: NewWorkflow;
  workflowId?: number;
  actor?: string;
}

/** Creates tasks the way the coordinator does: validate and order with normalizeBatch, then createTasks. */
export async function create(
  store: Store,
  tasks: NewTask[],
  opts: CreateOptions = {},
  policy: Pick<Policy, 'maxAttempts' | 'maxReviewRounds'> = TEST_POLICY,
): Promise<CreateTasksResult> {
  const batch = normalizeBatch(
    {
      tasks,
      actor: opts.actor ?? 'supervisor',
      ...(opts.workflow ? { workflow: opts.workflow } : {}),
      ...(opts.workflowId !== undefined ? { workflowId: opts.workflowId } : {}),
    },
    policy,
  );
  return store.createTasks(batch, {
    workflow: batch.workflow ? events.workflowCreated(batch.actor, batch.workflow.name.trim()) : null,
    tasks: batch.tasks.map((t) => events.taskCreated(batch.actor, t.title)),
  });
}

/** Creates one task and returns it. */
export async function createOne(store: Store, task: Partial<NewTask> = {}): Promise<Task> {
  const res = await create(store, [{ type: 'backend', title: 'a task', ...task }]);
  const t = res.tasks[0];
  if (!t) throw new Error('createTasks returned no task');
  return t;
}

export function refOf(agent: Agent): AgentRef {
  return {
    id: agent.id,
    name: agent.name,
    type: agent.type,
    capabilities: agent.capabilities,
    session: agent.session,
  };
}

/** Every status with a zero count, plus the given ones. */
export function counts(partial: Partial<Record<TaskStatus, number>>): Record<TaskStatus, number> {
  const all = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
  return { ...all, ...partial };
}

export function total(c: Record<TaskStatus, number>): number {
  return TASK_STATUSES.reduce((sum, s) => sum + (c[s] ?? 0), 0);
}

/** A random token of the same shape as a real one (128 bits, hex). */
export const BOGUS_TOKEN = '0123456789abcdef0123456789abcdef';

export interface StoreContext {
  /** A second store on the same database, sharing the clock (closed with the first). */
  another(): Promise<Store>;
  readonly store: Store;
  /**
   * A coordinator over the store (no reaper running, the test policy): the lifecycle's decisions
   * live above the Store, so the lifecycle is exercised through it.
   */
  readonly cns: Coordinator;
  readonly clock: ManualClock;
  readonly policy: Policy;
  /** Registers an agent (type 'backend' and no capabilities unless given). */
  agent(
    name: string,
    type?: string,
    capabilities?: string[],
    extra?: Partial<AgentRegistration>,
  ): Promise<Agent>;
  /** Claims for the agent and asserts a task was returned. */
  claim(agent: Agent, leaseMs?: number): Promise<ClaimedTask>;
  /** One claim straight through the store (the atomic claim itself): the task, or null. */
  tryClaim(agent: Agent, leaseMs?: number): Promise<ClaimedTask | null>;
  /** Re-reads a task and asserts it exists. */
  task(id: number): Promise<Task>;
  /** Re-reads an agent and asserts it exists. */
  getAgent(ref: number | string): Promise<Agent>;
}

/**
 * Opens a fresh store (ManualClock at T0, TEST_POLICY) before each test of the enclosing describe
 * and cleans it up after. Read the fields inside tests only.
 */
export function useStore(h: BackendHarness, policy: Policy = { ...TEST_POLICY }): StoreContext {
  let current: Awaited<ReturnType<BackendHarness['open']>> | null = null;
  let cns: Coordinator | null = null;
  let clock = new ManualClock(T0);
  beforeEach(async () => {
    clock = new ManualClock(T0);
    current = await h.open({ policy, clock });
    cns = new Coordinator(
      current.store,
      resolveConfig(
        { ...policy, pollBackstopMs: 200, claimBackstopMs: 200, heartbeatIntervalMs: 1_000 },
        {},
        '/',
      ),
      { reaper: false },
    );
  });
  afterEach(async () => {
    const c = current;
    current = null;
    const coordinator = cns;
    cns = null;
    coordinator?.changes.close();
    if (c) await c.cleanup();
  });
  const ctx: StoreContext = {
    get store(): Store {
      if (!current) throw new Error('no store open (use the context inside a test)');
      return current.store;
    },
    get cns(): Coordinator {
      if (!cns) throw new Error('no store open (use the context inside a test)');
      return cns;
    },
    get clock(): ManualClock {
      return clock;
    },
    policy,
    async another() {
      if (!current) throw new Error('no store open (use the context inside a test)');
      return current.openAnother({ policy, clock });
    },
    async agent(name, type = 'backend', capabilities = [], extra = {}) {
      return ctx.cns.registerAgent({ name, type, capabilities, ...extra });
    },
    async claim(agent, leaseMs) {
      const c = await ctx.cns.claimNext(refOf(agent), leaseMs === undefined ? {} : { leaseMs });
      expect(c.claimed, `agent ${agent.name} expected to claim a task`).not.toBeNull();
      return c.claimed!;
    },
    async tryClaim(agent, leaseMs = policy.leaseMs) {
      return ctx.store.claim(refOf(agent), leaseMs, events.claimed(agent, leaseMs));
    },
    async task(id) {
      const t = await ctx.store.getTask(id);
      expect(t, `task ${id} expected to exist`).not.toBeNull();
      return t!;
    },
    async getAgent(ref) {
      const a = await ctx.store.getAgent(ref);
      expect(a, `agent ${String(ref)} expected to exist`).not.toBeNull();
      return a!;
    },
  };
  return ctx;
}

/** A small deterministic PRNG (LCG, Numerical Recipes constants). */
export class Lcg {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (Math.imul(this.state, 1664525) + 1013904223) >>> 0;
    return this.state;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * n);
  }
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }
}
