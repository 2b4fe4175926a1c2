import { describe, expect, it } from 'vitest';

import { retryDelayMs } from '../../src/core/policy.js';
import { canTransition, type TaskStatus } from '../../src/core/status.js';
import type { CnsEvent } from '../../src/core/types.js';
import type { Store } from '../../src/store/store.js';
import { counts, create, createOne, T0, useStore, type BackendHarness } from './fixtures.js';

/**
 * Checks the event log against the TRANSITIONS table: for every task, each status-changing event
 * is a legal transition, starts from the status the previous one ended in, and the last one ends
 * in the task's current status. Returns the (from, to) pairs seen.
 */
export async function checkEventLogTransitions(store: Store): Promise<Set<string>> {
  const events: CnsEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await store.listEvents({ after, limit: 1000 });
    events.push(...page);
    if (page.length < 1000) break;
    after = page[page.length - 1]!.id;
  }
  for (let i = 1; i < events.length; i++) expect(events[i]!.id).toBeGreaterThan(events[i - 1]!.id);
  const last = new Map<number, TaskStatus>();
  const pairs = new Set<string>();
  for (const e of events) {
    if (e.taskId === null || e.toStatus === null) continue;
    const prev = last.get(e.taskId);
    if (e.fromStatus === null) {
      expect(e.kind, `event ${e.id} has no fromStatus`).toBe('task.created');
      expect(prev, `task ${e.taskId} created twice`).toBeUndefined();
    } else {
      expect(prev, `event ${e.id} (${e.kind}) of task ${e.taskId} comes before task.created`).toBeDefined();
      expect(e.fromStatus, `event ${e.id} (${e.kind}) of task ${e.taskId}: from ≠ previous to`).toBe(prev);
      if (e.fromStatus !== e.toStatus) {
        expect(
          canTransition(e.fromStatus, e.toStatus),
          `event ${e.id} (${e.kind}): ${e.fromStatus} → ${e.toStatus} is not in TRANSITIONS`,
        ).toBe(true);
        pairs.add(`${e.fromStatus}->${e.toStatus}`);
      }
    }
    last.set(e.taskId, e.toStatus);
  }
  for (const [taskId, status] of last) {
    const t = await store.getTask(taskId);
    expect(t?.status, `task ${taskId}: current status vs last event`).toBe(status);
  }
  return pairs;
}

export function queryTests(h: BackendHarness): void {
  describe('listing and counting', () => {
    const ctx = useStore(h);

    async function seed() {
      const wf = await create(
        ctx.store,
        [
          { ref: 'p', type: 'backend', title: 'Parse the INPUT' },
          { ref: 'q', type: 'backend', title: 'Query planner', dependsOn: ['p'] },
          { ref: 'r', type: 'frontend', title: 'Render page' },
        ],
        { workflow: { name: 'wf' } },
      );
      const loose = await create(ctx.store, [
        { type: 'backend', title: 'input validation' },
        { type: 'frontend', title: 'Styles' },
        { type: 'backend', title: 'Docs' },
        { type: 'ops', title: 'Deploy' },
      ]);
      return { wf, loose };
    }

    it('listTasks filters by status, type, workflowId, search (case-insensitive) and agentId', async () => {
      const { wf, loose } = await seed();
      const a = await ctx.agent('a');
      const fe = await ctx.agent('fe', 'frontend');
      const c = await ctx.claim(a); // 'Parse the INPUT' (oldest backend)
      expect(c.task.id).toBe(wf.tasks[0]!.id);
      await ctx.cns.assign(loose.tasks[1]!.id, fe.id, 'supervisor');

      const ids = (p: { items: { id: number }[] }) => p.items.map((t) => t.id);
      // Ids follow insertion order, which is topological (not input) order within a batch.
      const byId = (xs: { id: number }[]) => xs.map((t) => t.id).sort((x, y) => x - y);
      expect(ids(await ctx.store.listTasks())).toEqual(byId([...wf.tasks, ...loose.tasks]));
      expect(ids(await ctx.store.listTasks({ status: ['blocked'] }))).toEqual([wf.tasks[1]!.id]);
      expect(ids(await ctx.store.listTasks({ status: ['in_progress', 'assigned'] }))).toEqual([
        wf.tasks[0]!.id,
        loose.tasks[1]!.id,
      ]);
      expect(ids(await ctx.store.listTasks({ type: 'frontend' }))).toEqual([
        wf.tasks[2]!.id,
        loose.tasks[1]!.id,
      ]);
      expect(ids(await ctx.store.listTasks({ workflowId: wf.workflow!.id }))).toEqual(byId(wf.tasks));
      expect(ids(await ctx.store.listTasks({ search: 'input' }))).toEqual([
        wf.tasks[0]!.id,
        loose.tasks[0]!.id,
      ]);
      expect(ids(await ctx.store.listTasks({ search: 'PLANNER' }))).toEqual([wf.tasks[1]!.id]);
      expect(ids(await ctx.store.listTasks({ search: 'nothing like this' }))).toEqual([]);
      expect(ids(await ctx.store.listTasks({ agentId: a.id }))).toEqual([wf.tasks[0]!.id]);
      expect(ids(await ctx.store.listTasks({ agentId: fe.id }))).toEqual([loose.tasks[1]!.id]);
      expect(ids(await ctx.store.listTasks({ type: 'backend', status: ['pending'] }))).toEqual([
        loose.tasks[0]!.id,
        loose.tasks[2]!.id,
      ]);
    });

    it('search treats LIKE wildcards literally', async () => {
      await createOne(ctx.store, { title: 'plain title' });
      const pct = await createOne(ctx.store, { title: '100% done' });
      const under = await createOne(ctx.store, { title: 'snake_case' });
      expect((await ctx.store.listTasks({ search: '%' })).items.map((t) => t.id)).toEqual([pct.id]);
      expect((await ctx.store.listTasks({ search: '_' })).items.map((t) => t.id)).toEqual([under.id]);
    });

    it('pagination: nextCursor pages cover every task exactly once, oldest first and newest first', async () => {
      const res = await create(
        ctx.store,
        Array.from({ length: 7 }, (_, i) => ({ type: 'backend', title: `t${i}` })),
      );
      const all = res.tasks.map((t) => t.id);
      const seen: number[] = [];
      let after: number | undefined;
      let pages = 0;
      for (;;) {
        const page = await ctx.store.listTasks({ limit: 3, ...(after !== undefined ? { after } : {}) });
        expect(page.items.length).toBeLessThanOrEqual(3);
        seen.push(...page.items.map((t) => t.id));
        pages++;
        expect(pages).toBeLessThan(10);
        if (page.nextCursor === null) break;
        after = page.nextCursor;
      }
      expect(seen).toEqual(all);
      expect(pages).toBe(3);

      const back: number[] = [];
      after = undefined;
      for (let i = 0; i < 10; i++) {
        const page = await ctx.store.listTasks({
          limit: 3,
          newestFirst: true,
          ...(after !== undefined ? { after } : {}),
        });
        back.push(...page.items.map((t) => t.id));
        if (page.nextCursor === null) break;
        after = page.nextCursor;
      }
      expect(back).toEqual([...all].reverse());
      const firstTwo = await ctx.store.listTasks({ limit: 2 });
      expect(firstTwo.items.map((t) => t.id)).toEqual(all.slice(0, 2));
      expect(firstTwo.nextCursor).not.toBeNull();
    });

    it('countTasks counts every status (zeros included), overall and per workflow', async () => {
      expect(await ctx.store.countTasks()).toEqual(counts({}));
      const { wf } = await seed();
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      await ctx.cns.complete(c.task.id, c.leaseToken, { result: 'ok' });
      const c2 = await ctx.claim(a);
      expect(await ctx.store.countTasks()).toEqual(counts({ completed: 1, in_progress: 1, pending: 5 }));
      expect(await ctx.store.countTasks({ workflowId: wf.workflow!.id })).toEqual(
        counts({ completed: 1, in_progress: 1, pending: 1 }),
      );
      expect(c2.task.workflowId).toBe(wf.workflow!.id);
      const w = (await ctx.store.getWorkflow(wf.workflow!.id))!;
      expect(w.counts).toMatchObject({ completed: 1, in_progress: 1 });
      expect(await ctx.store.getWorkflow(999_999)).toBeNull();
      expect(await ctx.store.getTask(999_999)).toBeNull();
    });

    it('listWorkflows pages by id', async () => {
      const ids: number[] = [];
      for (let i = 0; i < 3; i++) {
        ids.push(
          (await create(ctx.store, [{ type: 'backend', title: 'x' }], { workflow: { name: `w${i}` } }))
            .workflow!.id,
        );
      }
      const p1 = await ctx.store.listWorkflows({ limit: 2 });
      expect(p1.items.map((w) => w.id)).toEqual(ids.slice(0, 2));
      expect(p1.nextCursor).not.toBeNull();
      const p2 = await ctx.store.listWorkflows({ limit: 2, after: p1.nextCursor! });
      expect(p2.items.map((w) => w.id)).toEqual(ids.slice(2));
      expect(p2.nextCursor).toBeNull();
    });
  });

  describe('events', () => {
    const ctx = useStore(h);

    it('every state change of a task’s life appears in order with actor, kind and from/to status; `after` works', async () => {
      const t = await createOne(ctx.store, { title: 'life' });
      const a = await ctx.agent('alice');
      const b = await ctx.agent('bob');
      const c1 = await ctx.claim(a);
      ctx.clock.advance(1);
      await ctx.cns.progress(t.id, c1.leaseToken, { note: 'n' });
      await ctx.cns.release(t.id, c1.leaseToken, 'busy');
      const c2 = await ctx.claim(b);
      await ctx.cns.fail(t.id, c2.leaseToken, { error: 'oops', retryable: true });
      ctx.clock.advance(retryDelayMs(1, ctx.policy) + 1);
      const c3 = await ctx.claim(a);
      await ctx.cns.complete(t.id, c3.leaseToken, { result: 'done' });

      const events = await ctx.store.listEvents({ taskId: t.id });
      const rows = events.map((e) => [e.kind, e.actor, e.fromStatus, e.toStatus]);
      const progress = rows[2]!;
      expect(rows).toEqual([
        ['task.created', 'supervisor', null, 'pending'],
        ['task.claimed', 'alice', 'pending', 'in_progress'],
        ['task.progress', 'alice', progress[2], progress[3]],
        ['task.released', 'alice', 'in_progress', 'pending'],
        ['task.claimed', 'bob', 'pending', 'in_progress'],
        ['task.failed', 'bob', 'in_progress', 'pending'],
        ['task.claimed', 'alice', 'pending', 'in_progress'],
        ['task.completed', 'alice', 'in_progress', 'completed'],
      ]);
      for (const e of events) expect(e.taskId).toBe(t.id);
      for (let i = 1; i < events.length; i++) {
        expect(events[i]!.id).toBeGreaterThan(events[i - 1]!.id);
        expect(events[i]!.at).toBeGreaterThanOrEqual(events[i - 1]!.at);
      }
      expect(events[0]!.at).toBe(T0);
      expect(events[7]!.at).toBe(T0 + 1 + retryDelayMs(1, ctx.policy) + 1);
      expect(events[1]!.agentId).toBe(a.id);
      expect(events[4]!.agentId).toBe(b.id);

      const rest = await ctx.store.listEvents({ taskId: t.id, after: events[2]!.id });
      expect(rest.map((e) => e.id)).toEqual(events.slice(3).map((e) => e.id));
      const claims = await ctx.store.listEvents({ taskId: t.id, kinds: ['task.claimed'] });
      expect(claims.map((e) => e.id)).toEqual([events[1]!.id, events[4]!.id, events[6]!.id]);
      const two = await ctx.store.listEvents({ taskId: t.id, limit: 2 });
      expect(two.map((e) => e.id)).toEqual(events.slice(0, 2).map((e) => e.id));
      const byBob = await ctx.store.listEvents({ agentId: b.id });
      expect(byBob.map((e) => e.kind)).toEqual(['agent.registered', 'task.claimed', 'task.failed']);
      const all = await ctx.store.listEvents({ limit: 1000 });
      const afterAll = await ctx.store.listEvents({ after: all[all.length - 1]!.id });
      expect(afterAll).toEqual([]);
    });

    it('state machine: every status change recorded in a full run is a legal transition', async () => {
      const agent = await ctx.agent('w');
      const other = await ctx.agent('v');
      const res = await create(
        ctx.store,
        [
          { ref: 'a', type: 'backend', title: 'a', review: true, maxReviewRounds: 2 },
          { ref: 'b', type: 'backend', title: 'b', dependsOn: ['a'], maxAttempts: 2 },
          { ref: 'c', type: 'backend', title: 'c', dependsOn: ['b'] },
          { ref: 'd', type: 'backend', title: 'd', priority: -1 },
        ],
        { workflow: { name: 'full' } },
      );
      const [a, b, c, d] = [res.tasks[0]!, res.tasks[1]!, res.tasks[2]!, res.tasks[3]!];
      // a: assigned, claimed, submitted, changes requested, claimed, submitted, approved.
      await ctx.cns.assign(a.id, agent.id, 'supervisor');
      let ca = await ctx.claim(agent);
      await ctx.cns.complete(a.id, ca.leaseToken, { result: 'v1' });
      await ctx.cns.review(a.id, { reviewer: 'supervisor', approve: false, feedback: 'again' });
      ca = await ctx.claim(other);
      expect(ca.task.id).toBe(a.id);
      await ctx.cns.complete(a.id, ca.leaseToken, { result: 'v2' });
      await ctx.cns.review(a.id, { reviewer: 'supervisor', approve: true });
      // b: unblocked, claimed, expired, claimed, expired → failed; retried; claimed, completed.
      let cb = await ctx.claim(agent);
      expect(cb.task.id).toBe(b.id);
      ctx.clock.advance(ctx.policy.leaseMs + 1);
      await ctx.cns.reap();
      ctx.clock.advance(retryDelayMs(1, ctx.policy) + 1);
      cb = await ctx.claim(agent);
      expect(cb.task.id).toBe(b.id);
      ctx.clock.advance(ctx.policy.leaseMs + 1);
      await ctx.cns.reap();
      expect((await ctx.task(b.id)).status).toBe('failed');
      await ctx.cns.retry(b.id, 'supervisor');
      cb = await ctx.claim(agent);
      expect(cb.task.id).toBe(b.id);
      await ctx.cns.complete(b.id, cb.leaseToken, { result: 'b' });
      // c: unblocked, claimed, cancelled; retried; claimed, failed.
      const cc = await ctx.claim(agent);
      expect(cc.task.id).toBe(c.id);
      await ctx.cns.cancel(c.id, 'supervisor');
      await ctx.cns.retry(c.id, 'supervisor');
      const cc2 = await ctx.claim(agent);
      await ctx.cns.fail(c.id, cc2.leaseToken, { error: 'x', retryable: false });
      // d: claimed, released, cancelled.
      const cd = await ctx.claim(agent);
      expect(cd.task.id).toBe(d.id);
      await ctx.cns.release(d.id, cd.leaseToken);
      await ctx.cns.cancelWorkflow(res.workflow!.id, 'supervisor');

      const pairs = await checkEventLogTransitions(ctx.store);
      for (const p of [
        'pending->assigned',
        'assigned->in_progress',
        'in_progress->awaiting_review',
        'awaiting_review->pending',
        'awaiting_review->completed',
        'blocked->pending',
        'pending->in_progress',
        'in_progress->pending',
        'in_progress->failed',
        'failed->pending',
        'in_progress->completed',
        'in_progress->cancelled',
        'cancelled->pending',
        'pending->cancelled',
      ]) {
        expect(pairs, `transition ${p} was exercised`).toContain(p);
      }
      expect(await ctx.store.countTasks({ workflowId: res.workflow!.id })).toEqual(
        counts({ completed: 2, failed: 1, cancelled: 1 }),
      );
    });
  });

  describe('watch', () => {
    const ctx = useStore(h);

    function nextCall(store: Store): { fired: Promise<void>; stop(): void } {
      let stop: () => void = () => {};
      const fired = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('watch listener did not fire within 2 s')), 2_000);
        stop = store.watch(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return { fired, stop: () => stop() };
    }

    it('a listener fires after a change made by the same store; stopping stops it', async () => {
      const w1 = nextCall(ctx.store);
      const t = await createOne(ctx.store);
      await w1.fired;
      w1.stop();

      const w2 = nextCall(ctx.store);
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      await w2.fired;
      w2.stop();

      const w3 = nextCall(ctx.store);
      await ctx.cns.complete(t.id, c.leaseToken, { result: 'ok' });
      await w3.fired;
      w3.stop();

      let calls = 0;
      const stop = ctx.store.watch(() => calls++);
      stop();
      const w4 = nextCall(ctx.store);
      await createOne(ctx.store, { title: 'another' });
      await w4.fired;
      w4.stop();
      expect(calls).toBe(0);
    });
  });
}
