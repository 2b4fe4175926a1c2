/**
 * Central scenarios compared whole: every field of every task, attempt and event, exactly, at each
 * step (no partial matchers). Written once against the contract (src/store/store.ts, core/types.ts,
 * the lifecycle's decisions and events), so every backend must produce the very same objects.
 * Normalised: event ids, compared by position (they must increase); everything else — ids of tasks,
 * agents and workflows, lease tokens, sessions, times (the ManualClock) — is compared as returned.
 */
import { describe, expect, it } from 'vitest';

import { LeaseLostError } from '../../src/core/errors.js';
import { retryDelayMs } from '../../src/core/policy.js';
import type { Agent, Attempt, ClaimedTask, CnsEvent, Task } from '../../src/core/types.js';
import type { Store } from '../../src/store/store.js';
import { counts, create, refOf, T0, useStore, type BackendHarness } from './fixtures.js';

/** A task as created with the test policy and nothing optional given: every field. */
function createdTask(fields: Pick<Task, 'id' | 'title'> & Partial<Task>): Task {
  return {
    workflowId: null,
    ref: null,
    type: 'backend',
    requires: [],
    spec: '',
    input: null,
    priority: 0,
    runAfter: T0,
    dependsOn: [],
    status: 'pending',
    attempts: 0,
    maxAttempts: 3,
    lease: null,
    assignedTo: null,
    preferred: null,
    review: false,
    reviewRounds: 0,
    maxReviewRounds: 3,
    progress: { note: null, percent: null, checkpoint: null, at: null },
    result: null,
    resultData: null,
    error: null,
    completedBy: null,
    idempotencyKey: null,
    metadata: {},
    createdBy: 'supervisor',
    createdAt: T0,
    updatedAt: T0,
    startedAt: null,
    finishedAt: null,
    ...fields,
  };
}

/** An attempt as a claim starts it: every field. */
function startedAttempt(
  fields: Pick<Attempt, 'taskId' | 'seq' | 'agentId' | 'agentName' | 'startedAt'>,
): Attempt {
  return {
    endedAt: null,
    outcome: 'running',
    note: null,
    percent: null,
    checkpoint: null,
    error: null,
    feedback: null,
    result: null,
    ...fields,
  };
}

type Expected = Omit<CnsEvent, 'id'>;

/** An event with every field: what is not given is null. */
function event(fields: Pick<CnsEvent, 'kind' | 'at' | 'actor'> & Partial<Expected>): Expected {
  return {
    taskId: null,
    workflowId: null,
    agentId: null,
    fromStatus: null,
    toStatus: null,
    message: null,
    data: null,
    ...fields,
  };
}

/** The whole event stream, oldest first, with each id replaced by its position (ids must increase). */
async function eventStream(store: Store): Promise<Omit<CnsEvent, 'id'>[]> {
  const all = await store.listEvents({ limit: 1000 });
  expect(all.length).toBeLessThan(1000);
  for (let i = 1; i < all.length; i++) expect(all[i]!.id).toBeGreaterThan(all[i - 1]!.id);
  return all.map(({ id: _id, ...rest }) => rest);
}

function registered(a: Agent): Expected {
  return event({
    kind: 'agent.registered',
    at: a.registeredAt,
    actor: a.name,
    agentId: a.id,
    message: `${a.name} (${a.type}) registered`,
    data: { type: a.type, capabilities: a.capabilities, host: null, pid: null },
  });
}

export function exactTests(h: BackendHarness): void {
  describe('whole tasks, attempts and events, exactly', () => {
    const ctx = useStore(h);

    it("a task's whole life: claim, progress, heartbeat, complete to review, changes requested, claim again, approve, dependent unblocked", async () => {
      const res = await create(
        ctx.store,
        [
          {
            ref: 'a',
            type: 'backend',
            title: 'A',
            spec: 'write it',
            input: { n: 1 },
            metadata: { k: 'v' },
            review: true,
            priority: 1,
          },
          { ref: 'b', type: 'backend', title: 'B', dependsOn: ['a'] },
        ],
        { workflow: { name: 'life' } },
      );
      const wf = res.workflow!.id;
      let a = createdTask({
        id: res.tasks[0]!.id,
        workflowId: wf,
        ref: 'a',
        title: 'A',
        spec: 'write it',
        input: { n: 1 },
        metadata: { k: 'v' },
        review: true,
        priority: 1,
      });
      let b = createdTask({
        id: res.tasks[1]!.id,
        workflowId: wf,
        ref: 'b',
        title: 'B',
        dependsOn: [a.id],
        status: 'blocked',
      });
      expect(res.tasks).toStrictEqual([a, b]);
      expect(res.created).toStrictEqual([true, true]);
      const author = await ctx.agent('author');
      const reviewer = await ctx.agent('rev');

      // Claimed.
      ctx.clock.advance(10);
      const c1 = await ctx.claim(author);
      const lease1 = {
        agentId: author.id,
        agentName: 'author',
        token: c1.leaseToken,
        expiresAt: T0 + 10_010,
        lengthMs: 10_000,
      };
      a = { ...a, status: 'in_progress', attempts: 1, lease: lease1, startedAt: T0 + 10, updatedAt: T0 + 10 };
      expect(c1).toStrictEqual<ClaimedTask>({
        task: a,
        leaseToken: c1.leaseToken,
        leaseExpiresAt: T0 + 10_010,
        dependencies: [],
        handoff: [],
        questions: [],
      });

      // Progress renews the lease by its length.
      ctx.clock.advance(10);
      a = {
        ...a,
        lease: { ...lease1, expiresAt: T0 + 10_020 },
        progress: { note: 'half', percent: 50, checkpoint: { step: 1 }, at: T0 + 20 },
        updatedAt: T0 + 20,
      };
      expect(
        await ctx.cns.progress(a.id, c1.leaseToken, { note: 'half', percent: 50, checkpoint: { step: 1 } }),
      ).toStrictEqual(a);

      // A task heartbeat renews it too; a renewal is no change of the task (updatedAt stays).
      ctx.clock.advance(10);
      a = { ...a, lease: { ...lease1, expiresAt: T0 + 10_030 } };
      expect(await ctx.cns.heartbeatTask(a.id, c1.leaseToken)).toStrictEqual(a);
      expect(await ctx.task(a.id)).toStrictEqual(a);

      // Completed to review: the lease ends, the result and its author are recorded.
      ctx.clock.advance(10);
      a = {
        ...a,
        status: 'awaiting_review',
        lease: null,
        result: 'v1',
        resultData: { files: ['a.ts'] },
        completedBy: author.id,
        updatedAt: T0 + 40,
      };
      expect(
        await ctx.cns.complete(a.id, c1.leaseToken, { result: 'v1', data: { files: ['a.ts'] } }),
      ).toStrictEqual(a);

      // Changes requested: pending again, the attempt given back, the result cleared, the round counted.
      ctx.clock.advance(10);
      a = {
        ...a,
        status: 'pending',
        attempts: 0,
        reviewRounds: 1,
        result: null,
        resultData: null,
        completedBy: null,
        updatedAt: T0 + 50,
      };
      expect(
        await ctx.cns.review(a.id, { reviewer: 'supervisor', approve: false, feedback: 'add tests' }),
      ).toStrictEqual(a);

      // Claimed again: the handoff carries the first attempt, its result and the feedback.
      ctx.clock.advance(10);
      const attempt1: Attempt = {
        ...startedAttempt({
          taskId: a.id,
          seq: 1,
          agentId: author.id,
          agentName: 'author',
          startedAt: T0 + 10,
        }),
        endedAt: T0 + 40,
        outcome: 'submitted_for_review',
        note: 'half',
        percent: 50,
        checkpoint: { step: 1 },
        feedback: 'add tests',
        result: 'v1',
      };
      const c2 = await ctx.claim(author);
      expect(c2.leaseToken).not.toBe(c1.leaseToken);
      const lease2 = { ...lease1, token: c2.leaseToken, expiresAt: T0 + 10_060 };
      a = { ...a, status: 'in_progress', attempts: 1, lease: lease2, updatedAt: T0 + 60 };
      expect(c2).toStrictEqual<ClaimedTask>({
        task: a,
        leaseToken: c2.leaseToken,
        leaseExpiresAt: T0 + 10_060,
        dependencies: [],
        handoff: [attempt1],
        questions: [],
      });

      ctx.clock.advance(10);
      a = {
        ...a,
        status: 'awaiting_review',
        lease: null,
        result: 'v2',
        completedBy: author.id,
        updatedAt: T0 + 70,
      };
      expect(await ctx.cns.complete(a.id, c2.leaseToken, { result: 'v2' })).toStrictEqual(a);

      // The author may not review; another agent approves: completed, and B unblocks.
      await expect(
        ctx.cns.review(a.id, { reviewer: 'author', reviewerAgentId: author.id, approve: true }),
      ).rejects.toThrow(/cannot review/);
      ctx.clock.advance(10);
      a = { ...a, status: 'completed', updatedAt: T0 + 80, finishedAt: T0 + 80 };
      expect(
        await ctx.cns.review(a.id, {
          reviewer: 'rev',
          reviewerAgentId: reviewer.id,
          approve: true,
          feedback: 'good',
        }),
      ).toStrictEqual(a);
      b = { ...b, status: 'pending', updatedAt: T0 + 80 };
      expect(await ctx.task(a.id)).toStrictEqual(a);
      expect(await ctx.task(b.id)).toStrictEqual(b);

      const attempt2: Attempt = {
        ...startedAttempt({
          taskId: a.id,
          seq: 2,
          agentId: author.id,
          agentName: 'author',
          startedAt: T0 + 60,
        }),
        endedAt: T0 + 70,
        outcome: 'submitted_for_review',
        result: 'v2',
      };
      expect(await ctx.store.listAttempts(a.id)).toStrictEqual([attempt1, attempt2]);
      expect(await ctx.store.listAttempts(b.id)).toStrictEqual([]);

      const onA = { taskId: a.id, workflowId: wf };
      const byAuthor = { ...onA, actor: 'author', agentId: author.id };
      expect(await eventStream(ctx.store)).toStrictEqual([
        event({ kind: 'workflow.created', at: T0, actor: 'supervisor', workflowId: wf, message: 'life' }),
        event({
          kind: 'task.created',
          at: T0,
          actor: 'supervisor',
          ...onA,
          toStatus: 'pending',
          message: 'A',
        }),
        event({
          kind: 'task.created',
          at: T0,
          actor: 'supervisor',
          taskId: b.id,
          workflowId: wf,
          toStatus: 'blocked',
          message: 'B',
        }),
        registered(author),
        registered(reviewer),
        event({
          kind: 'task.claimed',
          at: T0 + 10,
          ...byAuthor,
          fromStatus: 'pending',
          toStatus: 'in_progress',
          data: { leaseMs: 10_000 },
        }),
        event({
          kind: 'task.progress',
          at: T0 + 20,
          ...byAuthor,
          fromStatus: 'in_progress',
          toStatus: 'in_progress',
          message: 'half',
          data: { percent: 50 },
        }),
        event({
          kind: 'task.submitted',
          at: T0 + 40,
          ...byAuthor,
          fromStatus: 'in_progress',
          toStatus: 'awaiting_review',
        }),
        event({
          kind: 'task.changes_requested',
          at: T0 + 50,
          actor: 'supervisor',
          ...onA,
          fromStatus: 'awaiting_review',
          toStatus: 'pending',
          message: 'add tests',
          data: { reviewRounds: 1, maxReviewRounds: 3 },
        }),
        event({
          kind: 'task.claimed',
          at: T0 + 60,
          ...byAuthor,
          fromStatus: 'pending',
          toStatus: 'in_progress',
          data: { leaseMs: 10_000 },
        }),
        event({
          kind: 'task.submitted',
          at: T0 + 70,
          ...byAuthor,
          fromStatus: 'in_progress',
          toStatus: 'awaiting_review',
        }),
        event({
          kind: 'task.approved',
          at: T0 + 80,
          actor: 'rev',
          agentId: reviewer.id,
          ...onA,
          fromStatus: 'awaiting_review',
          toStatus: 'completed',
          message: 'good',
        }),
        event({
          kind: 'task.unblocked',
          at: T0 + 80,
          actor: 'rev',
          taskId: b.id,
          workflowId: wf,
          fromStatus: 'blocked',
          toStatus: 'pending',
          message: 'all dependencies completed',
        }),
      ]);
    });

    it('expiry and retry: expired with backoff, expired out of attempts (failed), retried, completed', async () => {
      const t = createdTask({
        id: (await create(ctx.store, [{ type: 'backend', title: 'X', maxAttempts: 2 }])).tasks[0]!.id,
        title: 'X',
        maxAttempts: 2,
      });
      expect(await ctx.task(t.id)).toStrictEqual(t);
      const w = await ctx.agent('w');

      const c1 = await ctx.claim(w);
      let x: Task = {
        ...t,
        status: 'in_progress',
        attempts: 1,
        lease: {
          agentId: w.id,
          agentName: 'w',
          token: c1.leaseToken,
          expiresAt: T0 + 10_000,
          lengthMs: 10_000,
        },
        startedAt: T0,
      };
      expect(c1.task).toStrictEqual(x);

      // The lease runs out: pending after the backoff, attempts kept.
      const t1 = T0 + 10_001;
      ctx.clock.set(t1);
      x = { ...x, status: 'pending', lease: null, runAfter: t1 + retryDelayMs(1, ctx.policy), updatedAt: t1 };
      expect(await ctx.cns.reap()).toStrictEqual({ expired: [x], offline: [] });
      expect(await ctx.task(x.id)).toStrictEqual(x);
      const err = await ctx.cns.complete(x.id, c1.leaseToken, { result: 'late' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LeaseLostError);
      expect((err as LeaseLostError).details).toStrictEqual({
        taskId: x.id,
        reason: 'expired',
        status: 'pending',
      });
      expect(await ctx.task(x.id)).toStrictEqual(x);

      // Not before the backoff; then claimed again with the handoff.
      ctx.clock.set(t1 + 999);
      expect(await ctx.tryClaim(w)).toBeNull();
      const t2 = t1 + 1_000;
      ctx.clock.set(t2);
      const attempt1: Attempt = {
        ...startedAttempt({ taskId: x.id, seq: 1, agentId: w.id, agentName: 'w', startedAt: T0 }),
        endedAt: t1,
        outcome: 'expired',
        error: 'lease expired',
      };
      const c2 = await ctx.claim(w);
      x = {
        ...x,
        status: 'in_progress',
        attempts: 2,
        lease: {
          agentId: w.id,
          agentName: 'w',
          token: c2.leaseToken,
          expiresAt: t2 + 10_000,
          lengthMs: 10_000,
        },
        updatedAt: t2,
      };
      expect(c2).toStrictEqual<ClaimedTask>({
        task: x,
        leaseToken: c2.leaseToken,
        leaseExpiresAt: t2 + 10_000,
        dependencies: [],
        handoff: [attempt1],
        questions: [],
      });

      // Out of attempts: failed, with why.
      const t3 = t2 + 10_001;
      ctx.clock.set(t3);
      x = {
        ...x,
        status: 'failed',
        lease: null,
        error: 'the lease of w expired and the task has no attempts left',
        updatedAt: t3,
        finishedAt: t3,
      };
      expect(await ctx.cns.reap()).toStrictEqual({ expired: [x], offline: [] });

      // Retried: from the start, claimable now.
      const t4 = t3 + 100;
      ctx.clock.set(t4);
      x = {
        ...x,
        status: 'pending',
        attempts: 0,
        runAfter: t4,
        error: null,
        updatedAt: t4,
        finishedAt: null,
      };
      expect(await ctx.cns.retry(x.id, 'supervisor')).toStrictEqual(x);

      const attempt2: Attempt = {
        ...startedAttempt({ taskId: x.id, seq: 2, agentId: w.id, agentName: 'w', startedAt: t2 }),
        endedAt: t3,
        outcome: 'expired',
        error: 'lease expired',
      };
      const c3 = await ctx.claim(w);
      expect(c3.handoff).toStrictEqual([attempt1, attempt2]);
      x = {
        ...x,
        status: 'completed',
        attempts: 1,
        result: 'done',
        completedBy: w.id,
        finishedAt: t4,
      };
      expect(await ctx.cns.complete(x.id, c3.leaseToken, { result: 'done' })).toStrictEqual(x);
      expect(await ctx.store.listAttempts(x.id)).toStrictEqual([
        attempt1,
        attempt2,
        {
          ...startedAttempt({ taskId: x.id, seq: 3, agentId: w.id, agentName: 'w', startedAt: t4 }),
          endedAt: t4,
          outcome: 'completed',
          result: 'done',
        },
      ]);

      const onX = { taskId: x.id };
      const byW = { ...onX, actor: 'w', agentId: w.id };
      const claimed = (at: number) =>
        event({
          kind: 'task.claimed',
          at,
          ...byW,
          fromStatus: 'pending',
          toStatus: 'in_progress',
          data: { leaseMs: 10_000 },
        });
      expect(await eventStream(ctx.store)).toStrictEqual([
        event({
          kind: 'task.created',
          at: T0,
          actor: 'supervisor',
          ...onX,
          toStatus: 'pending',
          message: 'X',
        }),
        registered(w),
        claimed(T0),
        event({
          kind: 'task.expired',
          at: t1,
          actor: 'reaper',
          agentId: w.id,
          ...onX,
          fromStatus: 'in_progress',
          toStatus: 'pending',
          message: 'the lease of w expired',
          data: { retry: true, retryInMs: retryDelayMs(1, ctx.policy), attempts: 1, maxAttempts: 2 },
        }),
        claimed(t2),
        event({
          kind: 'task.expired',
          at: t3,
          actor: 'reaper',
          agentId: w.id,
          ...onX,
          fromStatus: 'in_progress',
          toStatus: 'failed',
          message: 'the lease of w expired',
          data: { retry: false, attempts: 2, maxAttempts: 2 },
        }),
        event({
          kind: 'task.retried',
          at: t4,
          actor: 'supervisor',
          ...onX,
          fromStatus: 'failed',
          toStatus: 'pending',
          message: 'retried after it was failed',
        }),
        claimed(t4),
        event({ kind: 'task.completed', at: t4, ...byW, fromStatus: 'in_progress', toStatus: 'completed' }),
      ]);
    });

    it('cancellation cascade: a held task and its transitive dependents, then the rest of the workflow', async () => {
      const res = await create(
        ctx.store,
        [
          { ref: 'a', type: 'backend', title: 'a' },
          { ref: 'b', type: 'backend', title: 'b', dependsOn: ['a'] },
          { ref: 'c', type: 'backend', title: 'c', dependsOn: ['b'] },
          { ref: 'd', type: 'backend', title: 'd', dependsOn: ['b'] },
          { ref: 'e', type: 'backend', title: 'e' },
        ],
        { workflow: { name: 'tree' } },
      );
      const wf = res.workflow!.id;
      const [ia, ib, ic, id, ie] = res.tasks.map((t) => t.id) as [number, number, number, number, number];
      const inWf = (ref: string, id: number, extra: Partial<Task> = {}) =>
        createdTask({ id, workflowId: wf, ref, title: ref, ...extra });
      let a = inWf('a', ia);
      let b = inWf('b', ib, { dependsOn: [ia], status: 'blocked' });
      let c = inWf('c', ic, { dependsOn: [ib], status: 'blocked' });
      let d = inWf('d', id, { dependsOn: [ib], status: 'blocked' });
      let e = inWf('e', ie);
      expect(res.tasks).toStrictEqual([a, b, c, d, e]);

      const w = await ctx.agent('w');
      ctx.clock.advance(10);
      const held = await ctx.cns.claimNext(refOf(w));
      expect(held.claimed?.task.id).toBe(ia);
      const token = held.claimed!.leaseToken;
      a = {
        ...a,
        status: 'in_progress',
        attempts: 1,
        lease: { agentId: w.id, agentName: 'w', token, expiresAt: T0 + 10_010, lengthMs: 10_000 },
        startedAt: T0 + 10,
        updatedAt: T0 + 10,
      };
      ctx.clock.advance(5);
      e = { ...e, status: 'assigned', assignedTo: w.id, updatedAt: T0 + 15 };
      expect(await ctx.cns.assign(ie, w.id, 'supervisor')).toStrictEqual(e);

      // Cancel a: it and its open dependents, in id order; the holder's attempt ends.
      ctx.clock.advance(5);
      const cancelled = (t: Task): Task => ({
        ...t,
        status: 'cancelled',
        lease: null,
        updatedAt: T0 + 20,
        finishedAt: T0 + 20,
      });
      [a, b, c, d] = [a, b, c, d].map(cancelled) as [Task, Task, Task, Task];
      expect(await ctx.cns.cancel(ia, 'supervisor', 'not needed')).toStrictEqual([a, b, c, d]);
      for (const t of [a, b, c, d, e]) expect(await ctx.task(t.id)).toStrictEqual(t);
      const lost = await ctx.cns.progress(ia, token, { note: 'late' }).catch((x: unknown) => x);
      expect((lost as LeaseLostError).details).toStrictEqual({
        taskId: ia,
        reason: 'cancelled',
        status: 'cancelled',
      });
      expect((await ctx.getAgent(w.id)).heldTasks).toStrictEqual([]);

      // Then the workflow: what is left open (e, assigned) is cancelled; the reservation ends.
      ctx.clock.advance(10);
      e = { ...e, status: 'cancelled', assignedTo: null, updatedAt: T0 + 30, finishedAt: T0 + 30 };
      expect(await ctx.cns.cancelWorkflow(wf, 'supervisor', 'abandon')).toStrictEqual([e]);
      for (const t of [a, b, c, d, e]) expect(await ctx.task(t.id)).toStrictEqual(t);
      expect(await ctx.store.countTasks({ workflowId: wf })).toStrictEqual(counts({ cancelled: 5 }));
      expect(await ctx.store.getWorkflow(wf)).toStrictEqual({
        id: wf,
        name: 'tree',
        createdBy: 'supervisor',
        createdAt: T0,
        metadata: {},
        counts: { cancelled: 5 },
        status: 'cancelled',
      });
      expect(await ctx.store.listAttempts(ia)).toStrictEqual([
        {
          ...startedAttempt({ taskId: ia, seq: 1, agentId: w.id, agentName: 'w', startedAt: T0 + 10 }),
          endedAt: T0 + 20,
          outcome: 'cancelled',
        },
      ]);

      const onWf = (taskId: number) => ({ taskId, workflowId: wf });
      const cascade = (taskId: number) =>
        event({
          kind: 'task.cancelled',
          at: T0 + 20,
          actor: 'supervisor',
          ...onWf(taskId),
          fromStatus: 'blocked',
          toStatus: 'cancelled',
          message: `a task it depends on (#${ia}) was cancelled: not needed`,
        });
      const createdEvent = (t: Task) =>
        event({
          kind: 'task.created',
          at: T0,
          actor: 'supervisor',
          ...onWf(t.id),
          toStatus: t.dependsOn.length > 0 ? 'blocked' : 'pending',
          message: t.title,
        });
      expect(await eventStream(ctx.store)).toStrictEqual([
        event({ kind: 'workflow.created', at: T0, actor: 'supervisor', workflowId: wf, message: 'tree' }),
        ...[a, b, c, d, e].sort((x, y) => x.id - y.id).map(createdEvent), // in batch order: dependencies first
        registered(w),
        event({
          kind: 'task.claimed',
          at: T0 + 10,
          actor: 'w',
          agentId: w.id,
          ...onWf(ia),
          fromStatus: 'pending',
          toStatus: 'in_progress',
          data: { leaseMs: 10_000 },
        }),
        event({
          kind: 'task.assigned',
          at: T0 + 15,
          actor: 'supervisor',
          agentId: w.id,
          ...onWf(ie),
          fromStatus: 'pending',
          toStatus: 'assigned',
          message: 'assigned to w',
        }),
        event({
          kind: 'task.cancelled',
          at: T0 + 20,
          actor: 'supervisor',
          agentId: w.id,
          ...onWf(ia),
          fromStatus: 'in_progress',
          toStatus: 'cancelled',
          message: 'not needed',
        }),
        cascade(ib),
        cascade(ic),
        cascade(id),
        event({
          kind: 'task.cancelled',
          at: T0 + 30,
          actor: 'supervisor',
          agentId: w.id,
          ...onWf(ie),
          fromStatus: 'assigned',
          toStatus: 'cancelled',
          message: 'abandon',
        }),
        event({
          kind: 'workflow.cancelled',
          at: T0 + 30,
          actor: 'supervisor',
          workflowId: wf,
          message: 'abandon',
          data: { cancelled: [ie] },
        }),
      ]);
    });
  });
}
