/**
 * The coordinator over each backend: explanations ("why is this not moving?"), waiting claims and
 * their wake-ups, the fleet status, and agent sessions. Explanations use the store's (manual)
 * clock; waits use real time with generous bounds (no timing assertions).
 */
import { describe, expect, it } from 'vitest';

import { AgentSession } from '../../src/coordinator/agent-session.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { resolveConfig } from '../../src/core/config.js';
import type { Store } from '../../src/store/store.js';
import type { BackendHarness } from './fixtures.js';
import { create, createOne, refOf, useStore } from './fixtures.js';

export function coordinatorTests(h: BackendHarness): void {
  describe('coordinator', () => {
    const ctx = useStore(h);
    const coordinator = (store: Store = ctx.store, extra: { claimBackstopMs?: number } = {}) =>
      new Coordinator(
        store,
        resolveConfig(
          {
            ...ctx.policy,
            reaperIntervalMs: 50,
            pollBackstopMs: 200,
            claimBackstopMs: 200,
            heartbeatIntervalMs: 1_000,
            ...extra,
          },
          {},
          '/',
        ),
        { reaper: false },
      );

    describe('explain', () => {
      it('names the unfinished dependencies of a blocked task', async () => {
        const res = await create(ctx.store, [
          { ref: 'a', type: 'backend', title: 'design' },
          { ref: 'b', type: 'backend', title: 'build', dependsOn: ['a'] },
        ]);
        const [a, b] = res.tasks;
        const ex = await coordinator().explain(b!.id);
        expect(ex.status).toBe('blocked');
        expect(ex.reasons).toEqual([
          { code: 'blocked_by', tasks: [{ id: a!.id, title: 'design', status: 'pending' }] },
        ]);
        expect(ex.summary).toContain(`blocked by #${a!.id} "design" (pending)`);
      });

      it('says no live agent of the type or with the capabilities, then that agents are busy', async () => {
        const t = await createOne(ctx.store, { type: 'frontend', requires: ['browser'] });
        const c = coordinator();
        let ex = await c.explain(t.id);
        expect(ex.reasons).toContainEqual({
          code: 'no_live_agent',
          type: 'frontend',
          requires: ['browser'],
          agentsOfType: 0,
        });
        await ctx.agent('plain', 'frontend');
        ex = await c.explain(t.id);
        expect(ex.reasons).toContainEqual({
          code: 'no_live_agent',
          type: 'frontend',
          requires: ['browser'],
          agentsOfType: 1,
        });
        expect(ex.summary).toContain('with capabilities browser');
        await ctx.agent('able', 'frontend', ['browser']);
        await createOne(ctx.store, { type: 'frontend', priority: 5 });
        ex = await c.explain(t.id);
        expect(ex.reasons).toEqual([{ code: 'agents_busy', type: 'frontend', liveAgents: 1, ahead: 1 }]);
      });

      it('counts an agent silent past the offline threshold as not live', async () => {
        const t = await createOne(ctx.store);
        await ctx.agent('sleepy');
        ctx.clock.advance(ctx.policy.offlineAfterMs + 1);
        const ex = await coordinator().explain(t.id);
        expect(ex.reasons[0]).toMatchObject({ code: 'no_live_agent', type: 'backend' });
      });

      it('gives the scheduled time of a task that may not run yet', async () => {
        const at = ctx.clock.now() + 60_000;
        const t = await createOne(ctx.store, { runAfter: at });
        await ctx.agent('w');
        const ex = await coordinator().explain(t.id);
        expect(ex.reasons).toContainEqual({ code: 'scheduled', at });
      });

      it('says who holds a task until when, and when that lease has run out', async () => {
        const t = await createOne(ctx.store);
        const w = await ctx.agent('holder');
        const claimed = await ctx.claim(w);
        const c = coordinator();
        let ex = await c.explain(t.id);
        expect(ex.reasons).toEqual([
          {
            code: 'held',
            agent: 'holder',
            until: claimed.leaseExpiresAt,
            agentStatus: 'working',
            expired: false,
          },
        ]);
        ctx.clock.advance(ctx.policy.offlineAfterMs + 1);
        ex = await c.explain(t.id);
        expect(ex.reasons[0]).toMatchObject({ code: 'held', agentStatus: 'offline', expired: true });
        expect(ex.summary).toContain('the reaper will return it to the queue');
        const status = await c.status();
        expect(status.stuck.map((s) => s.taskId)).toContain(t.id);
      });

      it('explains assigned, awaiting review and final tasks', async () => {
        const t = await createOne(ctx.store, { review: true });
        const w = await ctx.agent('author');
        const c = coordinator();
        await c.assign(t.id, 'author', 'supervisor');
        expect((await c.explain(t.id)).reasons).toEqual([
          { code: 'assigned', agent: 'author', agentStatus: 'idle' },
        ]);
        const claimed = await ctx.claim(w);
        await ctx.cns.complete(t.id, claimed.leaseToken, { result: 'done' });
        const ex = await c.explain(t.id);
        expect(ex.reasons[0]).toMatchObject({ code: 'awaiting_review', author: 'author' });
        await c.review(t.id, { reviewer: 'supervisor', approve: true });
        expect((await c.explain(t.id)).reasons).toEqual([{ code: 'final', status: 'completed' }]);
      });
    });

    describe('claims with a wait', () => {
      it('returns at once when a task is there', async () => {
        await createOne(ctx.store);
        const w = await ctx.agent('w');
        const out = await coordinator().claimNext(refOf(w), { waitMs: 5_000 });
        expect(out.claimed?.task.title).toBe('a task');
      });

      it('wakes up when a task is created while it waits', async () => {
        const w = await ctx.agent('w');
        const c = coordinator();
        const started = Date.now();
        const waiting = c.claimNext(refOf(w), { waitMs: 10_000 });
        await new Promise((r) => setTimeout(r, 100));
        const t = await createOne(ctx.store);
        const out = await waiting;
        expect(out.claimed?.task.id).toBe(t.id);
        expect(Date.now() - started).toBeLessThan(9_000);
        await c.close();
      });

      it('ends empty with the reason when nothing matches', async () => {
        await createOne(ctx.store, { requires: ['gpu'] });
        const w = await ctx.agent('w');
        const out = await coordinator().claimNext(refOf(w), { waitMs: 150 });
        expect(out.claimed).toBeNull();
        expect(out.reason).toContain('need capabilities this agent lacks: gpu');
        const none = await coordinator().claimNext({ ...refOf(w), type: 'nothing' }, { waitMs: 0 });
        expect(none.reason).toContain('no pending task of type "nothing"');
      });

      it('a waiting claim does not spin: it tries again only on a change or the backstop, then wakes for the task', async () => {
        const w = await ctx.agent('idle');
        let claims = 0;
        // The real store, counting the claim transactions it is asked for.
        const counting = new Proxy(ctx.store, {
          get(target, prop) {
            if (prop === 'claim')
              return (...args: Parameters<Store['claim']>) => {
                claims++;
                return target.claim(...args);
              };
            const value: unknown = Reflect.get(target, prop, target);
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
        const c = coordinator(counting);
        const empty = await c.claimNext(refOf(w), { waitMs: 1_200 });
        expect(empty.claimed).toBeNull();
        // One claim at the start, then one per backstop period (200 ms here): a handful, not the
        // thousands an empty claim waking its own waiters produced.
        expect(claims).toBeGreaterThanOrEqual(2);
        expect(claims).toBeLessThan(30);
        const waiting = c.claimNext(refOf(w), { waitMs: 10_000 });
        await new Promise((r) => setTimeout(r, 100));
        const t = await createOne(ctx.store);
        expect((await waiting).claimed?.task.id).toBe(t.id);
        await c.close();
      });

      it('a waiting claim wakes when a task scheduled for later becomes claimable, without polling for it', async () => {
        const w = await ctx.agent('patient');
        // A backstop far beyond the wait: only the scheduled time can wake it.
        const c = coordinator(ctx.store, { claimBackstopMs: 60_000 });
        const t = await createOne(ctx.store, { runAfter: ctx.clock.now() + 300 });
        const waiting = c.claimNext(refOf(w), { waitMs: 10_000 });
        await new Promise((r) => setTimeout(r, 50)); // it has looked and found nothing yet
        ctx.clock.advance(300); // the store's (manual) clock moves on as real time does
        const out = await waiting;
        expect(out.claimed?.task.id).toBe(t.id);
        await c.close();
      });

      it('an aborted wait claims nothing', async () => {
        const w = await ctx.agent('w');
        const c = coordinator();
        const ac = new AbortController();
        const waiting = c.claimNext(refOf(w), { waitMs: 10_000, signal: ac.signal });
        setTimeout(() => ac.abort(), 50);
        const out = await waiting;
        expect(out.claimed).toBeNull();
        const t = await createOne(ctx.store);
        expect((await ctx.task(t.id)).status).toBe('pending');
        await c.close();
      });
    });

    describe('agent sessions', () => {
      it('hold tokens for the model, and release what they hold when they stop', async () => {
        const [t1, t2] = (
          await create(ctx.store, [
            { type: 'backend', title: 'one' },
            { type: 'backend', title: 'two' },
          ])
        ).tasks;
        const c = coordinator();
        const session = await AgentSession.start(c, { name: 'sess', type: 'backend' });
        const first = await session.next();
        expect(first.claimed?.task.id).toBe(t1!.id);
        await session.progress(t1!.id, { note: 'halfway', percent: 50 });
        const done = await session.complete(t1!.id, { result: 'ok' });
        expect(done.status).toBe('completed');
        expect(() => session.tokenFor(t1!.id)).toThrow(/not held/);
        await session.next();
        expect(session.held).toEqual([t2!.id]);
        await session.stop();
        const back = await ctx.task(t2!.id);
        expect(back.status).toBe('pending');
        expect((await ctx.getAgent('sess')).status).toBe('offline');
      });

      it('next() hands back a task the session already holds (resumed, same lease) before claiming another', async () => {
        const [t1, t2] = (
          await create(ctx.store, [
            { type: 'backend', title: 'one' },
            { type: 'backend', title: 'two' },
          ])
        ).tasks;
        const session = await AgentSession.start(coordinator(), { name: 'one-at-a-time', type: 'backend' });
        const first = await session.next();
        expect(first.claimed?.task.id).toBe(t1!.id);
        expect(first.resumed).toBeUndefined();
        await session.progress(t1!.id, { note: 'started' });
        const again = await session.next({ waitMs: 1_000 });
        expect(again.resumed).toBe(true);
        expect(again.claimed?.task.id).toBe(t1!.id);
        expect(again.claimed?.leaseToken).toBe(first.claimed?.leaseToken);
        expect(again.claimed?.task.progress.note).toBe('started');
        expect((await ctx.task(t2!.id)).status).toBe('pending');
        await session.complete(t1!.id, { result: 'ok' });
        expect((await session.next()).claimed?.task.id).toBe(t2!.id);
        await session.stop();
      });

      it('a heartbeat that answers after a claim committed does not make the session forget that claim', async () => {
        const [a, b] = (
          await create(ctx.store, [
            { type: 'backend', title: 'A' },
            { type: 'backend', title: 'B' },
          ])
        ).tasks;
        const real = coordinator();
        let open!: () => void;
        const gate = new Promise<void>((resolve) => (open = resolve));
        let heartbeats = 0;
        // The real coordinator, whose heartbeat answer arrives late: it has read the held tasks
        // (only A) before B's claim commits, and answers after it (as a PostgreSQL heartbeat
        // blocked on a row lock does).
        const slow = new Proxy(real, {
          get(target, prop) {
            if (prop === 'heartbeat')
              return async (...args: Parameters<Coordinator['heartbeat']>) => {
                const answer = await target.heartbeat(...args);
                heartbeats++;
                await gate;
                return answer;
              };
            const value: unknown = Reflect.get(target, prop, target);
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
        const session = await AgentSession.start(
          slow,
          { name: 'raced', type: 'backend' },
          { background: false },
        );
        const first = await session.next();
        expect(first.claimed?.task.id).toBe(a!.id);
        await session.complete(a!.id, { result: 'A done' });
        const beat = session.beat();
        while (heartbeats === 0) await new Promise((r) => setTimeout(r, 5));
        const second = await session.next();
        expect(second.claimed?.task.id).toBe(b!.id);
        open();
        await beat;
        expect(session.held).toEqual([b!.id]);
        expect((await session.complete(b!.id, { result: 'B done' })).status).toBe('completed');
        await session.stop();
      });
    });
  });
}
