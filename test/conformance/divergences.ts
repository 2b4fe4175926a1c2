/**
 * Where the two backends used to disagree when each decided the lifecycle itself (before
 * src/coordinator/lifecycle.ts decided it once): each case pins down the one behaviour both share
 * now. The differential test (test/differential.test.ts) compares everything else.
 */
import { describe, expect, it } from 'vitest';

import { LeaseLostError } from '../../src/core/errors.js';
import { retryDelayMs } from '../../src/core/policy.js';
import { BOGUS_TOKEN, create, createOne, T0, useStore, type BackendHarness } from './fixtures.js';

export function divergenceTests(h: BackendHarness): void {
  describe('once divergent, now one behaviour', () => {
    const ctx = useStore(h);

    it('requesting changes clears the result, its data and its author; the attempt keeps the result', async () => {
      const t = await createOne(ctx.store, { review: true });
      const author = await ctx.agent('author');
      const c = await ctx.claim(author);
      await ctx.cns.complete(t.id, c.leaseToken, { result: 'first draft', data: { pages: 3 } });
      const back = await ctx.cns.review(t.id, {
        reviewer: 'supervisor',
        approve: false,
        feedback: 'shorter',
      });
      expect(back).toMatchObject({
        status: 'pending',
        result: null,
        resultData: null,
        completedBy: null,
        attempts: 0,
      });
      const [attempt] = await ctx.store.listAttempts(t.id);
      expect(attempt).toMatchObject({
        outcome: 'submitted_for_review',
        result: 'first draft',
        feedback: 'shorter',
      });
    });

    it('the review rounds used up: failed, the result kept for a person, one error text', async () => {
      const t = await createOne(ctx.store, { review: true, maxReviewRounds: 1 });
      const author = await ctx.agent('author');
      const c = await ctx.claim(author);
      await ctx.cns.complete(t.id, c.leaseToken, { result: 'draft' });
      const failed = await ctx.cns.review(t.id, { reviewer: 'supervisor', approve: false, feedback: 'no' });
      expect(failed).toMatchObject({
        status: 'failed',
        result: 'draft',
        completedBy: author.id,
        reviewRounds: 1,
        error: 'changes were requested 1 times (the limit); a person should look at it',
      });
    });

    it('a lease expires at the very moment it runs out (expiresAt <= now)', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      await ctx.claim(a);
      ctx.clock.advance(ctx.policy.leaseMs - 1);
      expect((await ctx.cns.reap()).expired).toEqual([]);
      ctx.clock.advance(1);
      expect((await ctx.cns.reap()).expired.map((x) => x.id)).toEqual([t.id]);
    });

    it('workflow.cancelled lists the ids of the tasks it cancelled', async () => {
      const w = await create(
        ctx.store,
        [
          { ref: 'x', type: 'backend', title: 'x' },
          { ref: 'y', type: 'backend', title: 'y', dependsOn: ['x'] },
        ],
        { workflow: { name: 'wf' } },
      );
      const cancelled = await ctx.cns.cancelWorkflow(w.workflow!.id, 'supervisor', 'dropped');
      const [event] = await ctx.store.listEvents({
        workflowId: w.workflow!.id,
        kinds: ['workflow.cancelled'],
      });
      expect(event).toMatchObject({
        actor: 'supervisor',
        message: 'dropped',
        data: { cancelled: cancelled.map((t) => t.id) },
      });
      expect(cancelled.map((t) => t.id)).toEqual(w.tasks.map((t) => t.id));
    });

    it('a cancel event names the agent the task was with: its holder, or its assignee', async () => {
      const held = await createOne(ctx.store, { title: 'held' });
      const reserved = await createOne(ctx.store, { title: 'reserved' });
      const holder = await ctx.agent('holder');
      const other = await ctx.agent('other');
      await ctx.claim(holder);
      await ctx.cns.assign(reserved.id, other.id, 'supervisor');
      await ctx.cns.cancel(held.id, 'supervisor', 'no');
      await ctx.cns.cancel(reserved.id, 'supervisor', 'no');
      const events = await ctx.store.listEvents({ kinds: ['task.cancelled'] });
      expect(events.map((e) => [e.taskId, e.agentId, e.fromStatus])).toEqual([
        [held.id, holder.id, 'in_progress'],
        [reserved.id, other.id, 'assigned'],
      ]);
    });

    it('claim, failure, expiry and registration events carry the same data on every backend', async () => {
      const t = await createOne(ctx.store, { maxAttempts: 2 });
      const a = await ctx.agent('worker', 'backend', ['git'], { host: 'h1', pid: 42 });
      const [registered] = await ctx.store.listEvents({ kinds: ['agent.registered'] });
      expect(registered).toMatchObject({
        agentId: a.id,
        actor: 'worker',
        message: 'worker (backend) registered',
        data: { type: 'backend', capabilities: ['git'], host: 'h1', pid: 42 },
      });
      const c1 = await ctx.claim(a, 5_000);
      await ctx.cns.fail(t.id, c1.leaseToken, { error: 'flaky' });
      ctx.clock.advance(retryDelayMs(1, ctx.policy));
      await ctx.claim(a, 5_000);
      ctx.clock.advance(5_000);
      await ctx.cns.reap();
      const events = await ctx.store.listEvents({ taskId: t.id });
      const of = (kind: string) =>
        events.filter((e) => e.kind === kind).map((e) => [e.actor, e.message, e.data]);
      expect(of('task.claimed')).toEqual([
        ['worker', null, { leaseMs: 5_000 }],
        ['worker', null, { leaseMs: 5_000 }],
      ]);
      expect(of('task.failed')).toEqual([
        [
          'worker',
          'flaky',
          { retry: true, retryInMs: retryDelayMs(1, ctx.policy), attempts: 1, maxAttempts: 2 },
        ],
      ]);
      expect(of('task.expired')).toEqual([
        ['reaper', 'the lease of worker expired', { retry: false, attempts: 2, maxAttempts: 2 }],
      ]);
      expect((await ctx.task(t.id)).error).toBe(
        'the lease of worker expired and the task has no attempts left',
      );
      expect(events.at(-1)).toMatchObject({
        agentId: a.id,
        fromStatus: 'in_progress',
        toStatus: 'failed',
        at: T0 + retryDelayMs(1, ctx.policy) + 5_000,
      });
    });

    it("a made-up token is refused as not the task's lease, even while the task is held", async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      const err = await ctx.cns.complete(t.id, BOGUS_TOKEN, { result: 'x' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LeaseLostError);
      expect((err as LeaseLostError).reason).toBe('unknown_token');
      // The holder is unaffected.
      expect((await ctx.cns.complete(t.id, c.leaseToken, { result: 'ok' })).status).toBe('completed');
      const late = await ctx.cns.complete(t.id, c.leaseToken, { result: 'again' }).catch((e: unknown) => e);
      expect((late as LeaseLostError).reason).toBe('finished');
    });
  });
}
