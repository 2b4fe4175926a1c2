import { describe, expect, it } from 'vitest';

import { ConflictError, ForbiddenError, NotFoundError } from '../../src/core/errors.js';
import { counts, create, createOne, T0, useStore, type BackendHarness } from './fixtures.js';
import { expectLeaseLost } from './leases.js';

export function flowTests(h: BackendHarness): void {
  describe('dependencies', () => {
    const ctx = useStore(h);

    it('completing A unblocks B only when all of B’s dependencies are completed; B receives their results', async () => {
      const res = await create(
        ctx.store,
        [
          { ref: 'a', type: 'backend', title: 'A' },
          { ref: 'c', type: 'backend', title: 'C' },
          { ref: 'b', type: 'backend', title: 'B', dependsOn: ['a', 'c'] },
        ],
        { workflow: { name: 'deps' } },
      );
      const [a, c, b] = [res.tasks[0]!, res.tasks[1]!, res.tasks[2]!];
      const agent = await ctx.agent('w');
      const ca = await ctx.claim(agent);
      expect(ca.task.id).toBe(a.id);
      await ctx.cns.complete(a.id, ca.leaseToken, { result: 'A done', data: { files: ['a.ts'] } });
      expect((await ctx.task(b.id)).status).toBe('blocked');
      expect(await ctx.store.listEvents({ taskId: b.id, kinds: ['task.unblocked'] })).toEqual([]);

      const cc = await ctx.claim(agent);
      expect(cc.task.id).toBe(c.id);
      ctx.clock.advance(50);
      await ctx.cns.complete(c.id, cc.leaseToken, { result: 'C done' });
      const rb = await ctx.task(b.id);
      expect(rb.status).toBe('pending');
      const unblocked = await ctx.store.listEvents({ taskId: b.id, kinds: ['task.unblocked'] });
      expect(unblocked).toHaveLength(1);
      expect(unblocked[0]).toMatchObject({ fromStatus: 'blocked', toStatus: 'pending', at: T0 + 50 });

      const cb = await ctx.claim(agent);
      expect(cb.task.id).toBe(b.id);
      const byId = new Map(cb.dependencies.map((d) => [d.taskId, d]));
      expect(cb.dependencies).toHaveLength(2);
      expect(byId.get(a.id)).toEqual({
        taskId: a.id,
        ref: 'a',
        title: 'A',
        status: 'completed',
        result: 'A done',
        resultData: { files: ['a.ts'] },
      });
      expect(byId.get(c.id)).toMatchObject({
        ref: 'c',
        status: 'completed',
        result: 'C done',
        resultData: null,
      });
      const deps = await ctx.store.getDependencies(b.id);
      expect(deps.find((d) => d.taskId === a.id)?.result).toBe('A done');
    });

    it('two dependencies completed at the same moment unblock their dependent once', async () => {
      const res = await create(ctx.store, [
        { ref: 'a', type: 'backend', title: 'A' },
        { ref: 'c', type: 'backend', title: 'C' },
        { ref: 'b', type: 'backend', title: 'B', dependsOn: ['a', 'c'] },
      ]);
      const [a, c, b] = [res.tasks[0]!, res.tasks[1]!, res.tasks[2]!];
      const one = await ctx.agent('one');
      const two = await ctx.agent('two');
      const ca = await ctx.claim(one);
      const cc = await ctx.claim(two);
      expect(new Set([ca.task.id, cc.task.id])).toEqual(new Set([a.id, c.id]));
      const done = await Promise.all([
        ctx.cns.complete(ca.task.id, ca.leaseToken, { result: 'first' }),
        ctx.cns.complete(cc.task.id, cc.leaseToken, { result: 'second' }),
      ]);
      expect(done.map((t) => t.status)).toEqual(['completed', 'completed']);
      expect((await ctx.task(b.id)).status).toBe('pending');
      const unblocked = await ctx.store.listEvents({ taskId: b.id, kinds: ['task.unblocked'] });
      expect(unblocked).toHaveLength(1);
      expect(['one', 'two']).toContain(unblocked[0]!.actor);
      const next = await ctx.claim(one);
      expect(next.task.id).toBe(b.id);
      expect(next.dependencies.map((d) => d.result).sort()).toEqual(['first', 'second']);
    });

    it('a failed dependency leaves its dependent blocked', async () => {
      const res = await create(ctx.store, [
        { ref: 'a', type: 'backend', title: 'A' },
        { ref: 'b', type: 'backend', title: 'B', dependsOn: ['a'] },
      ]);
      const agent = await ctx.agent('w');
      const ca = await ctx.claim(agent);
      await ctx.cns.fail(ca.task.id, ca.leaseToken, { error: 'no', retryable: false });
      expect((await ctx.task(res.tasks[1]!.id)).status).toBe('blocked');
      expect(await ctx.tryClaim(agent)).toBeNull();
    });
  });

  describe('review', () => {
    const ctx = useStore(h);

    async function submitted(opts: { maxReviewRounds?: number } = {}) {
      const res = await create(ctx.store, [
        { ref: 'r', type: 'backend', title: 'reviewed', review: true, ...opts },
        { ref: 'd', type: 'backend', title: 'dependent', dependsOn: ['r'] },
      ]);
      const author = await ctx.agent('author');
      const c = await ctx.claim(author);
      expect(c.task.id).toBe(res.tasks[0]!.id);
      return { task: res.tasks[0]!, dependent: res.tasks[1]!, author, claim: c };
    }

    it('review=true completion → awaiting_review (not completed; dependents still blocked)', async () => {
      const { task, dependent, author, claim } = await submitted();
      ctx.clock.advance(5);
      const r = await ctx.cns.complete(task.id, claim.leaseToken, {
        result: 'patch v1',
        data: { diff: 1 },
      });
      expect(r).toMatchObject({
        status: 'awaiting_review',
        result: 'patch v1',
        resultData: { diff: 1 },
        completedBy: author.id,
        lease: null,
      });
      expect(await ctx.task(task.id)).toMatchObject({ status: 'awaiting_review', completedBy: author.id });
      expect((await ctx.task(dependent.id)).status).toBe('blocked');
      expect((await ctx.getAgent(author.id)).heldTasks).toEqual([]);
      const ev = await ctx.store.listEvents({ taskId: task.id, kinds: ['task.submitted'] });
      expect(ev).toHaveLength(1);
      expect(ev[0]).toMatchObject({ fromStatus: 'in_progress', toStatus: 'awaiting_review' });
      await expectLeaseLost(
        ctx.cns.complete(task.id, claim.leaseToken, { result: 'again' }),
        task.id,
        'finished',
      );
    });

    it('the author cannot review its own work (by agent id or by name) → ForbiddenError, unchanged', async () => {
      const { task, author, claim } = await submitted();
      await ctx.cns.complete(task.id, claim.leaseToken, { result: 'mine' });
      await expect(
        ctx.cns.review(task.id, { reviewer: 'someone', reviewerAgentId: author.id, approve: true }),
      ).rejects.toBeInstanceOf(ForbiddenError);
      await expect(ctx.cns.review(task.id, { reviewer: 'author', approve: true })).rejects.toBeInstanceOf(
        ForbiddenError,
      );
      await expect(
        ctx.cns.review(task.id, { reviewer: 'author', approve: false, feedback: 'self-critique' }),
      ).rejects.toBeInstanceOf(ForbiddenError);
      expect(await ctx.task(task.id)).toMatchObject({ status: 'awaiting_review', reviewRounds: 0 });
    });

    it('approve → completed and dependents unblock', async () => {
      const { task, dependent, author, claim } = await submitted();
      await ctx.cns.complete(task.id, claim.leaseToken, { result: 'good patch' });
      const reviewer = await ctx.agent('reviewer', 'reviewer');
      ctx.clock.advance(1_000);
      const r = await ctx.cns.review(task.id, {
        reviewer: 'reviewer',
        reviewerAgentId: reviewer.id,
        approve: true,
      });
      expect(r).toMatchObject({ status: 'completed', result: 'good patch', completedBy: author.id });
      expect(r.finishedAt).toBe(T0 + 1_000);
      expect((await ctx.task(task.id)).status).toBe('completed');
      expect((await ctx.task(dependent.id)).status).toBe('pending');
      const ev = await ctx.store.listEvents({ taskId: task.id, kinds: ['task.approved'] });
      expect(ev).toHaveLength(1);
      expect(ev[0]).toMatchObject({
        actor: 'reviewer',
        fromStatus: 'awaiting_review',
        toStatus: 'completed',
      });
      const cd = await ctx.claim(author);
      expect(cd.task.id).toBe(dependent.id);
      expect(cd.dependencies[0]).toMatchObject({ taskId: task.id, result: 'good patch' });
    });

    it('request changes → pending, reviewRounds 1, attempt given back, feedback in the next claim’s handoff', async () => {
      const { task, dependent, claim } = await submitted();
      await ctx.cns.progress(task.id, claim.leaseToken, { note: 'wrote v1' });
      await ctx.cns.complete(task.id, claim.leaseToken, { result: 'patch v1' });
      const r = await ctx.cns.review(task.id, {
        reviewer: 'supervisor',
        approve: false,
        feedback: 'add tests',
      });
      expect(r).toMatchObject({ status: 'pending', reviewRounds: 1, attempts: 0, lease: null });
      expect(await ctx.task(task.id)).toMatchObject({ status: 'pending', reviewRounds: 1, attempts: 0 });
      expect((await ctx.task(dependent.id)).status).toBe('blocked');
      const ev = await ctx.store.listEvents({ taskId: task.id, kinds: ['task.changes_requested'] });
      expect(ev).toHaveLength(1);
      expect(ev[0]).toMatchObject({
        actor: 'supervisor',
        fromStatus: 'awaiting_review',
        toStatus: 'pending',
      });

      const other = await ctx.agent('other');
      const c2 = await ctx.claim(other);
      expect(c2.task.id).toBe(task.id);
      expect(c2.task.attempts).toBe(1);
      expect(c2.handoff).toHaveLength(1);
      expect(c2.handoff[0]).toMatchObject({
        seq: 1,
        feedback: 'add tests',
        note: 'wrote v1',
        result: 'patch v1',
      });
    });

    it('after maxReviewRounds change requests the task fails', async () => {
      const { task, dependent, author, claim } = await submitted({ maxReviewRounds: 2 });
      await ctx.cns.complete(task.id, claim.leaseToken, { result: 'v1' });
      const r1 = await ctx.cns.review(task.id, {
        reviewer: 'supervisor',
        approve: false,
        feedback: 'no (1)',
      });
      expect(r1).toMatchObject({ status: 'pending', reviewRounds: 1 });
      const c2 = await ctx.claim(author);
      expect(c2.task.id).toBe(task.id);
      await ctx.cns.complete(task.id, c2.leaseToken, { result: 'v2' });
      const r2 = await ctx.cns.review(task.id, {
        reviewer: 'supervisor',
        approve: false,
        feedback: 'no (2)',
      });
      expect(r2).toMatchObject({ status: 'failed', reviewRounds: 2 });
      expect(await ctx.task(task.id)).toMatchObject({ status: 'failed', reviewRounds: 2 });
      expect((await ctx.task(dependent.id)).status).toBe('blocked');
      const attempts = await ctx.store.listAttempts(task.id);
      expect(attempts.map((a) => a.feedback)).toEqual(['no (1)', 'no (2)']);
      const ev = await ctx.store.listEvents({ taskId: task.id, kinds: ['task.changes_requested'] });
      expect(ev.map((e) => e.toStatus)).toEqual(['pending', 'failed']);
    });

    it('reviewing a task that is not awaiting review → ConflictError', async () => {
      const { task, claim } = await submitted();
      await expect(ctx.cns.review(task.id, { reviewer: 'supervisor', approve: true })).rejects.toBeInstanceOf(
        ConflictError,
      );
      expect((await ctx.task(task.id)).status).toBe('in_progress');
      const plain = await createOne(ctx.store, { title: 'plain' });
      await expect(
        ctx.cns.review(plain.id, { reviewer: 'supervisor', approve: true }),
      ).rejects.toBeInstanceOf(ConflictError);
      expect((await ctx.task(plain.id)).status).toBe('pending');
      await ctx.cns.complete(task.id, claim.leaseToken, { result: 'x' });
      await ctx.cns.review(task.id, { reviewer: 'supervisor', approve: true });
      await expect(
        ctx.cns.review(task.id, { reviewer: 'supervisor', approve: false, feedback: 'late' }),
      ).rejects.toBeInstanceOf(ConflictError);
      expect(await ctx.task(task.id)).toMatchObject({ status: 'completed', reviewRounds: 0 });
      await expect(ctx.cns.review(999_999, { reviewer: 'supervisor', approve: true })).rejects.toBeInstanceOf(
        NotFoundError,
      );
    });

    it('a workflow with review=true makes its tasks require review', async () => {
      const res = await create(ctx.store, [{ type: 'backend', title: 'wf task' }], {
        workflow: { name: 'reviewed', review: true },
      });
      expect(res.tasks[0]!.review).toBe(true);
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      expect((await ctx.cns.complete(c.task.id, c.leaseToken, { result: 'r' })).status).toBe(
        'awaiting_review',
      );
      expect((await ctx.store.getWorkflow(res.workflow!.id))!.status).toBe('awaiting_review');
    });
  });

  describe('cancel and retry', () => {
    const ctx = useStore(h);

    it('cancel cascades to transitive non-final dependents and leaves the rest alone', async () => {
      const res = await create(ctx.store, [
        { ref: 'a', type: 'backend', title: 'a' },
        { ref: 'b', type: 'backend', title: 'b', dependsOn: ['a'] },
        { ref: 'c', type: 'backend', title: 'c', dependsOn: ['b'] },
        { ref: 'd', type: 'backend', title: 'd', dependsOn: ['b'] },
        { ref: 'e', type: 'backend', title: 'e' },
      ]);
      const [a, b, c, d, e] = [res.tasks[0]!, res.tasks[1]!, res.tasks[2]!, res.tasks[3]!, res.tasks[4]!];
      ctx.clock.advance(20);
      const changed = await ctx.cns.cancel(a.id, 'supervisor', 'not needed');
      expect(changed.map((t) => t.id).sort((x, y) => x - y)).toEqual(
        [a.id, b.id, c.id, d.id].sort((x, y) => x - y),
      );
      for (const t of changed) expect(t.status).toBe('cancelled');
      for (const id of [a.id, b.id, c.id, d.id]) {
        const t = await ctx.task(id);
        expect(t.status).toBe('cancelled');
        expect(t.finishedAt).toBe(T0 + 20);
      }
      expect((await ctx.task(e.id)).status).toBe('pending');
      const ev = await ctx.store.listEvents({ kinds: ['task.cancelled'] });
      expect(ev.map((x) => x.taskId).sort((x, y) => x! - y!)).toEqual([a.id, b.id, c.id, d.id]);
      for (const x of ev) expect(x.actor).toBe('supervisor');
      expect(ev.find((x) => x.taskId === a.id)).toMatchObject({
        fromStatus: 'pending',
        toStatus: 'cancelled',
      });
      expect(ev.find((x) => x.taskId === c.id)).toMatchObject({
        fromStatus: 'blocked',
        toStatus: 'cancelled',
      });
    });

    it('cancel leaves completed upstream tasks alone and cascades only downstream', async () => {
      const res = await create(ctx.store, [
        { ref: 'a', type: 'backend', title: 'a' },
        { ref: 'b', type: 'backend', title: 'b', dependsOn: ['a'] },
        { ref: 'c', type: 'backend', title: 'c', dependsOn: ['b'] },
      ]);
      const agent = await ctx.agent('w');
      const ca = await ctx.claim(agent);
      await ctx.cns.complete(ca.task.id, ca.leaseToken, { result: 'a' });
      const changed = await ctx.cns.cancel(res.tasks[1]!.id, 'supervisor');
      expect(changed.map((t) => t.id).sort((x, y) => x - y)).toEqual([res.tasks[1]!.id, res.tasks[2]!.id]);
      expect((await ctx.task(res.tasks[0]!.id)).status).toBe('completed');
    });

    it('the holder’s token fails with LeaseLostError cancelled after its task is cancelled', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      const changed = await ctx.cns.cancel(t.id, 'supervisor', 'stop');
      expect(changed.map((x) => x.id)).toEqual([t.id]);
      expect(changed[0]!.lease).toBeNull();
      await expectLeaseLost(ctx.cns.complete(t.id, c.leaseToken, { result: 'too late' }), t.id, 'cancelled');
      await expectLeaseLost(ctx.cns.progress(t.id, c.leaseToken, { note: 'x' }), t.id, 'cancelled');
      await expectLeaseLost(ctx.cns.heartbeatTask(t.id, c.leaseToken), t.id, 'cancelled');
      expect(await ctx.task(t.id)).toMatchObject({ status: 'cancelled', result: null, lease: null });
      expect((await ctx.getAgent(a.id)).heldTasks).toEqual([]);
      expect((await ctx.store.heartbeatAgent(a.id, a.session)).renewed).toEqual([]);
    });

    it('cancelling a whole workflow cancels its non-final tasks only', async () => {
      const res = await create(
        ctx.store,
        [
          { ref: 'a', type: 'backend', title: 'a' },
          { ref: 'b', type: 'backend', title: 'b' },
          { ref: 'c', type: 'backend', title: 'c', dependsOn: ['a', 'b'] },
        ],
        { workflow: { name: 'wf' } },
      );
      const outside = await createOne(ctx.store, { title: 'outside' });
      const wfId = res.workflow!.id;
      const agent = await ctx.agent('w');
      const ca = await ctx.claim(agent);
      await ctx.cns.complete(ca.task.id, ca.leaseToken, { result: 'done' });
      const cb = await ctx.claim(agent);
      expect(cb.task.workflowId).toBe(wfId);
      const changed = await ctx.cns.cancelWorkflow(wfId, 'supervisor', 'abandon');
      expect(changed.map((t) => t.id).sort((x, y) => x - y)).toEqual(
        [cb.task.id, res.tasks[2]!.id].sort((x, y) => x - y),
      );
      expect(await ctx.store.countTasks({ workflowId: wfId })).toEqual(
        counts({ completed: 1, cancelled: 2 }),
      );
      const wf = (await ctx.store.getWorkflow(wfId))!;
      expect(wf.status).toBe('cancelled');
      expect((await ctx.task(outside.id)).status).toBe('pending');
      await expectLeaseLost(
        ctx.cns.complete(cb.task.id, cb.leaseToken, { result: 'x' }),
        cb.task.id,
        'cancelled',
      );
    });

    it('cancelling a final task → ConflictError; an unknown task → NotFoundError', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      await ctx.cns.complete(t.id, c.leaseToken, { result: 'ok' });
      await expect(ctx.cns.cancel(t.id, 'supervisor')).rejects.toBeInstanceOf(ConflictError);
      expect(await ctx.task(t.id)).toMatchObject({ status: 'completed', result: 'ok' });
      const t2 = await createOne(ctx.store, { title: 'two' });
      await ctx.cns.cancel(t2.id, 'supervisor');
      await expect(ctx.cns.cancel(t2.id, 'supervisor')).rejects.toBeInstanceOf(ConflictError);
      await expect(ctx.cns.cancel(999_999, 'supervisor')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('retry: failed → pending with attempts and reviewRounds reset; task.retried', async () => {
      const t = await createOne(ctx.store, { maxAttempts: 1 });
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      await ctx.cns.fail(t.id, c.leaseToken, { error: 'bad', retryable: true });
      expect((await ctx.task(t.id)).status).toBe('failed');
      ctx.clock.advance(100);
      const r = await ctx.cns.retry(t.id, 'supervisor');
      expect(r).toMatchObject({ status: 'pending', attempts: 0, reviewRounds: 0, lease: null });
      expect(r.runAfter).toBeLessThanOrEqual(T0 + 100);
      expect(await ctx.task(t.id)).toMatchObject({ status: 'pending', attempts: 0 });
      const ev = await ctx.store.listEvents({ taskId: t.id, kinds: ['task.retried'] });
      expect(ev).toHaveLength(1);
      expect(ev[0]).toMatchObject({ actor: 'supervisor', fromStatus: 'failed', toStatus: 'pending' });
      const c2 = await ctx.claim(a);
      expect(c2.task).toMatchObject({ id: t.id, attempts: 1 });
      expect(c2.handoff[0]).toMatchObject({ outcome: 'failed', error: 'bad' });
    });

    it('retry after review rounds ran out resets reviewRounds', async () => {
      const t = await createOne(ctx.store, { review: true, maxReviewRounds: 1 });
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      await ctx.cns.complete(t.id, c.leaseToken, { result: 'v1' });
      expect(
        (await ctx.cns.review(t.id, { reviewer: 'supervisor', approve: false, feedback: 'no' })).status,
      ).toBe('failed');
      const r = await ctx.cns.retry(t.id, 'supervisor');
      expect(r).toMatchObject({ status: 'pending', reviewRounds: 0, attempts: 0 });
    });

    it('retry of a cancelled task whose dependency is not completed → blocked; it unblocks later', async () => {
      const res = await create(ctx.store, [
        { ref: 'a', type: 'backend', title: 'a' },
        { ref: 'b', type: 'backend', title: 'b', dependsOn: ['a'] },
      ]);
      const [a, b] = [res.tasks[0]!, res.tasks[1]!];
      await ctx.cns.cancel(a.id, 'supervisor');
      expect((await ctx.task(b.id)).status).toBe('cancelled');
      expect((await ctx.cns.retry(b.id, 'supervisor')).status).toBe('blocked');
      expect((await ctx.cns.retry(a.id, 'supervisor')).status).toBe('pending');
      const agent = await ctx.agent('w');
      const ca = await ctx.claim(agent);
      expect(ca.task.id).toBe(a.id);
      await ctx.cns.complete(a.id, ca.leaseToken, { result: 'ok' });
      expect((await ctx.task(b.id)).status).toBe('pending');
    });

    it('retry of a non-final task → ConflictError; unknown → NotFoundError', async () => {
      const t = await createOne(ctx.store);
      await expect(ctx.cns.retry(t.id, 'supervisor')).rejects.toBeInstanceOf(ConflictError);
      expect((await ctx.task(t.id)).status).toBe('pending');
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      await expect(ctx.cns.retry(t.id, 'supervisor')).rejects.toBeInstanceOf(ConflictError);
      expect(await ctx.task(t.id)).toMatchObject({ status: 'in_progress', attempts: 1 });
      expect((await ctx.task(t.id)).lease?.token).toBe(c.leaseToken);
      await expect(ctx.cns.retry(999_999, 'supervisor')).rejects.toBeInstanceOf(NotFoundError);
    });
  });
}
