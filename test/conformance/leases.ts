import { describe, expect, it } from 'vitest';

import { LeaseLostError, NotFoundError } from '../../src/core/errors.js';
import { retryDelayMs } from '../../src/core/policy.js';
import type { Task } from '../../src/core/types.js';
import { BOGUS_TOKEN, createOne, T0, useStore, type BackendHarness } from './fixtures.js';

/** Expects `p` to reject with LeaseLostError (optionally with this reason) for `taskId`. */
async function expectLeaseLost(p: Promise<unknown>, taskId: number, reason?: LeaseLostError['reason']) {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LeaseLostError);
  const lost = err as LeaseLostError;
  expect(lost.taskId).toBe(taskId);
  if (reason !== undefined) expect(lost.reason).toBe(reason);
  return lost;
}

/** The fields a rejected write must not touch. */
function snapshot(t: Task) {
  return {
    status: t.status,
    attempts: t.attempts,
    lease: t.lease,
    progress: t.progress,
    result: t.result,
    resultData: t.resultData,
    error: t.error,
    runAfter: t.runAfter,
    updatedAt: t.updatedAt,
    finishedAt: t.finishedAt,
    completedBy: t.completedBy,
  };
}

export { expectLeaseLost };

export function leaseTests(h: BackendHarness): void {
  describe('fencing', () => {
    const ctx = useStore(h);

    it('after expiry + reap + a second claim, every write with the first token → LeaseLostError reassigned, nothing changes', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('first');
      const b = await ctx.agent('second');
      const c1 = await ctx.claim(a);
      await ctx.cns.progress(t.id, c1.leaseToken, { note: 'first note', percent: 10 });
      ctx.clock.advance(ctx.policy.leaseMs + 1);
      const reaped = await ctx.cns.reap();
      expect(reaped.expired.map((x) => x.id)).toEqual([t.id]);
      ctx.clock.advance(retryDelayMs(1, ctx.policy) + 1);
      const c2 = await ctx.claim(b);
      expect(c2.task.id).toBe(t.id);
      expect(c2.leaseToken).not.toBe(c1.leaseToken);
      await ctx.cns.progress(t.id, c2.leaseToken, {
        note: 'second note',
        percent: 20,
        checkpoint: { s: 2 },
      });
      const before = snapshot(await ctx.task(t.id));
      ctx.clock.advance(10);

      const stale = c1.leaseToken;
      await expectLeaseLost(
        ctx.cns.progress(t.id, stale, { note: 'stale', percent: 99 }),
        t.id,
        'reassigned',
      );
      await expectLeaseLost(ctx.cns.complete(t.id, stale, { result: 'stale result' }), t.id, 'reassigned');
      await expectLeaseLost(
        ctx.cns.fail(t.id, stale, { error: 'stale', retryable: false }),
        t.id,
        'reassigned',
      );
      await expectLeaseLost(ctx.cns.release(t.id, stale, 'stale'), t.id, 'reassigned');
      await expectLeaseLost(ctx.cns.heartbeatTask(t.id, stale), t.id, 'reassigned');

      const after = await ctx.task(t.id);
      expect(snapshot(after)).toEqual(before);
      expect(after.lease).toMatchObject({ agentId: b.id, token: c2.leaseToken });
      expect(after.progress).toMatchObject({ note: 'second note', percent: 20, checkpoint: { s: 2 } });
      expect(after.result).toBeNull();
      // The stale holder's agent heartbeat does not renew somebody else's lease.
      expect((await ctx.store.heartbeatAgent(a.id, a.session)).renewed).toEqual([]);
      expect((await ctx.task(t.id)).lease?.expiresAt).toBe(before.lease?.expiresAt);

      // The current token works.
      const done = await ctx.cns.complete(t.id, c2.leaseToken, {
        result: 'real result',
        data: { ok: true },
      });
      expect(done).toMatchObject({
        status: 'completed',
        result: 'real result',
        resultData: { ok: true },
        lease: null,
        completedBy: b.id,
      });
      expect(await ctx.task(t.id)).toMatchObject({
        status: 'completed',
        result: 'real result',
        completedBy: b.id,
      });
    });

    it('after expiry and reap (not yet reclaimed) the old token → LeaseLostError expired', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      ctx.clock.advance(ctx.policy.leaseMs + 1);
      await ctx.cns.reap();
      const before = snapshot(await ctx.task(t.id));
      await expectLeaseLost(ctx.cns.complete(t.id, c.leaseToken, { result: 'late' }), t.id, 'expired');
      await expectLeaseLost(ctx.cns.heartbeatTask(t.id, c.leaseToken), t.id, 'expired');
      expect(snapshot(await ctx.task(t.id))).toEqual(before);
      expect(before.status).toBe('pending');
    });

    it('among concurrent completions, one with a stale token fails alone and the others complete', async () => {
      const tasks = [];
      for (let i = 0; i < 4; i++) tasks.push(await createOne(ctx.store, { title: `t${i}` }));
      const claims = [];
      for (let i = 0; i < 4; i++) claims.push(await ctx.claim(await ctx.agent(`w${i}`)));
      const outcomes = await Promise.allSettled(
        claims.map((c, i) =>
          ctx.cns.complete(c.task.id, i === 2 ? BOGUS_TOKEN : c.leaseToken, { result: `r${i}` }),
        ),
      );
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      await expectLeaseLost(
        Promise.reject((outcomes[2] as PromiseRejectedResult).reason),
        claims[2]!.task.id,
      );
      for (const i of [0, 1, 3]) {
        const t = await ctx.task(claims[i]!.task.id);
        expect(t.status).toBe('completed');
        expect(t.result).toBe(`r${i}`);
      }
      const stale = await ctx.task(claims[2]!.task.id);
      expect(stale.status).toBe('in_progress');
      expect(stale.lease?.token).toBe(claims[2]!.leaseToken);
      expect(stale.result).toBeNull();
    });

    it('the same completion sent twice at once completes the task once', async () => {
      const t = await createOne(ctx.store);
      const c = await ctx.claim(await ctx.agent('twice'));
      const outcomes = await Promise.allSettled([
        ctx.cns.complete(t.id, c.leaseToken, { result: 'one' }),
        ctx.cns.complete(t.id, c.leaseToken, { result: 'two' }),
      ]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const lost = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
      await expectLeaseLost(Promise.reject(lost.reason), t.id, 'finished');
      expect(await ctx.store.listEvents({ taskId: t.id, kinds: ['task.completed'] })).toHaveLength(1);
      expect(await ctx.store.listAttempts(t.id)).toHaveLength(1);
    });

    it('a random token → LeaseLostError and nothing changes', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      const before = snapshot(await ctx.task(t.id));
      await expectLeaseLost(ctx.cns.complete(t.id, BOGUS_TOKEN, { result: 'forged' }), t.id);
      await expectLeaseLost(ctx.cns.progress(t.id, BOGUS_TOKEN, { note: 'forged' }), t.id);
      await expectLeaseLost(ctx.cns.fail(t.id, BOGUS_TOKEN, { error: 'forged', retryable: false }), t.id);
      await expectLeaseLost(ctx.cns.release(t.id, BOGUS_TOKEN), t.id);
      await expectLeaseLost(ctx.cns.heartbeatTask(t.id, BOGUS_TOKEN), t.id);
      expect(snapshot(await ctx.task(t.id))).toEqual(before);
      // A token of another task does not work either.
      const other = await createOne(ctx.store, { title: 'other' });
      const c2 = await ctx.claim(a);
      expect(c2.task.id).toBe(other.id);
      await expectLeaseLost(ctx.cns.complete(t.id, c2.leaseToken, { result: 'cross' }), t.id);
      expect((await ctx.task(t.id)).status).toBe('in_progress');
      expect((await ctx.cns.complete(t.id, c.leaseToken, { result: 'mine' })).status).toBe('completed');
    });

    it('a token on a pending (never claimed) task → LeaseLostError', async () => {
      const t = await createOne(ctx.store);
      await expectLeaseLost(ctx.cns.complete(t.id, BOGUS_TOKEN, { result: 'x' }), t.id);
      expect((await ctx.task(t.id)).status).toBe('pending');
    });

    it('writes about an unknown task → NotFoundError', async () => {
      await expect(ctx.cns.complete(999_999, BOGUS_TOKEN, { result: 'x' })).rejects.toBeInstanceOf(
        NotFoundError,
      );
      await expect(ctx.cns.progress(999_999, BOGUS_TOKEN, { note: 'x' })).rejects.toBeInstanceOf(
        NotFoundError,
      );
      await expect(ctx.cns.heartbeatTask(999_999, BOGUS_TOKEN)).rejects.toBeInstanceOf(NotFoundError);
    });

    it('after completion the same token → LeaseLostError finished; the result is not overwritten', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      await ctx.cns.complete(t.id, c.leaseToken, { result: 'first' });
      await expectLeaseLost(ctx.cns.complete(t.id, c.leaseToken, { result: 'second' }), t.id, 'finished');
      await expectLeaseLost(
        ctx.cns.fail(t.id, c.leaseToken, { error: 'x', retryable: true }),
        t.id,
        'finished',
      );
      await expectLeaseLost(ctx.cns.progress(t.id, c.leaseToken, { note: 'x' }), t.id, 'finished');
      expect(await ctx.task(t.id)).toMatchObject({ status: 'completed', result: 'first', error: null });
    });
  });

  describe('heartbeats renew leases', () => {
    const ctx = useStore(h);

    it("heartbeatAgent renews every lease of the agent's session to now + leaseMs; reap before the renewed expiry keeps the task", async () => {
      const t1 = await createOne(ctx.store, { title: 'one' });
      const t2 = await createOne(ctx.store, { title: 'two' });
      const a = await ctx.agent('a');
      const c1 = await ctx.claim(a);
      const c2 = await ctx.claim(a);
      ctx.clock.advance(8_000);
      const { agent, renewed } = await ctx.store.heartbeatAgent(a.id, a.session);
      expect([...renewed].sort((x, y) => x - y)).toEqual([t1.id, t2.id]);
      expect(agent.lastHeartbeatAt).toBe(T0 + 8_000);
      for (const id of [t1.id, t2.id]) {
        expect((await ctx.task(id)).lease?.expiresAt).toBe(T0 + 8_000 + ctx.policy.leaseMs);
      }
      // Past the original expiry, before the renewed one.
      ctx.clock.advance(8_000);
      expect((await ctx.cns.reap()).expired).toEqual([]);
      expect((await ctx.task(t1.id)).status).toBe('in_progress');
      await ctx.cns.progress(t1.id, c1.leaseToken, { note: 'still here' });
      // Past the renewed expiry: t2 (not renewed by the progress call) expires.
      ctx.clock.advance(ctx.policy.leaseMs - 8_000 + 1);
      const reaped = await ctx.cns.reap();
      expect(reaped.expired.map((x) => x.id)).toEqual([t2.id]);
      expect((await ctx.task(t2.id)).status).toBe('pending');
      await expectLeaseLost(ctx.cns.complete(t2.id, c2.leaseToken, { result: 'x' }), t2.id);
      expect((await ctx.task(t1.id)).status).toBe('in_progress');
    });

    it('a lease keeps the length chosen at its claim: every renewal (agent or task heartbeat, progress) extends it by that length', async () => {
      const long = await createOne(ctx.store, { title: 'long' });
      const short = await createOne(ctx.store, { title: 'short' });
      const a = await ctx.agent('a');
      const cl = await ctx.claim(a, 120_000);
      const cs = await ctx.claim(a, 2_000);
      expect(cl.task.id).toBe(long.id);
      expect(cl.leaseExpiresAt).toBe(T0 + 120_000);
      expect(cl.task.lease).toMatchObject({ lengthMs: 120_000, expiresAt: T0 + 120_000 });
      expect(cs.task.lease).toMatchObject({ lengthMs: 2_000, expiresAt: T0 + 2_000 });

      ctx.clock.advance(1_000);
      const p = await ctx.cns.progress(long.id, cl.leaseToken, { percent: 50 });
      expect(p.lease?.expiresAt).toBe(T0 + 1_000 + 120_000);
      ctx.clock.advance(1_000);
      const hb = await ctx.cns.heartbeatTask(long.id, cl.leaseToken);
      expect(hb.lease?.expiresAt).toBe(T0 + 2_000 + 120_000);
      expect((await ctx.cns.heartbeatTask(short.id, cs.leaseToken)).lease?.expiresAt).toBe(T0 + 4_000);
      ctx.clock.advance(1_000);
      const { renewed } = await ctx.store.heartbeatAgent(a.id, a.session);
      expect([...renewed].sort((x, y) => x - y)).toEqual([long.id, short.id]);
      expect((await ctx.task(long.id)).lease?.expiresAt).toBe(T0 + 3_000 + 120_000);
      expect((await ctx.task(short.id)).lease?.expiresAt).toBe(T0 + 3_000 + 2_000);

      // Well past the default lease (10 s here): the long lease holds, the short one expired.
      ctx.clock.advance(33_000);
      expect((await ctx.cns.reap()).expired.map((x) => x.id)).toEqual([short.id]);
      expect((await ctx.task(long.id)).status).toBe('in_progress');
      await ctx.cns.complete(long.id, cl.leaseToken, { result: 'done' });
    });

    it('heartbeatTask renews one lease by its length; an expired lease left unreaped is still renewable', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      ctx.clock.advance(9_000);
      const r = await ctx.cns.heartbeatTask(t.id, c.leaseToken);
      expect(r.lease?.expiresAt).toBe(T0 + 9_000 + ctx.policy.leaseMs);
      expect(r.lease?.token).toBe(c.leaseToken);
      ctx.clock.advance(9_000);
      expect((await ctx.cns.reap()).expired).toEqual([]);
      ctx.clock.advance(ctx.policy.leaseMs);
      const r2 = await ctx.cns.heartbeatTask(t.id, c.leaseToken);
      expect(r2.lease?.expiresAt).toBe(T0 + 18_000 + 2 * ctx.policy.leaseMs);
      ctx.clock.advance(ctx.policy.leaseMs + 1);
      expect((await ctx.cns.reap()).expired.map((x) => x.id)).toEqual([t.id]);
    });

    it('progress renews the lease too', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      ctx.clock.advance(9_000);
      const r = await ctx.cns.progress(t.id, c.leaseToken, { percent: 50 });
      expect(r.lease?.expiresAt).toBe(T0 + 9_000 + ctx.policy.leaseMs);
      ctx.clock.advance(9_000);
      expect((await ctx.cns.reap()).expired).toEqual([]);
    });
  });

  describe('lease expiry', () => {
    const ctx = useStore(h);

    it('reap returns the expired task: pending, attempts kept, runAfter = now + backoff, exponential across expiries', async () => {
      const t = await createOne(ctx.store, { maxAttempts: 5 });
      const a = await ctx.agent('a');
      await ctx.claim(a);
      ctx.clock.advance(ctx.policy.leaseMs - 1);
      expect((await ctx.cns.reap()).expired).toEqual([]);
      ctx.clock.advance(2);
      let now = T0 + ctx.policy.leaseMs + 1;
      const first = await ctx.cns.reap();
      expect(first.expired).toHaveLength(1);
      const d1 = retryDelayMs(1, ctx.policy);
      expect(d1).toBe(ctx.policy.retryBaseMs);
      expect(first.expired[0]).toMatchObject({
        id: t.id,
        status: 'pending',
        attempts: 1,
        lease: null,
        runAfter: now + d1,
      });
      expect(await ctx.task(t.id)).toMatchObject({
        status: 'pending',
        attempts: 1,
        lease: null,
        runAfter: now + d1,
      });
      expect((await ctx.cns.reap()).expired).toEqual([]);
      expect((await ctx.store.listAttempts(t.id))[0]).toMatchObject({ outcome: 'expired', endedAt: now });

      // Not claimable until runAfter.
      ctx.clock.advance(d1 - 1);
      expect(await ctx.tryClaim(a)).toBeNull();
      ctx.clock.advance(2);
      now += d1 + 1;
      const c2 = await ctx.claim(a);
      expect(c2.task.id).toBe(t.id);
      expect(c2.task.attempts).toBe(2);

      ctx.clock.advance(ctx.policy.leaseMs + 1);
      now += ctx.policy.leaseMs + 1;
      const second = await ctx.cns.reap();
      const d2 = retryDelayMs(2, ctx.policy);
      expect(d2).toBe(2 * ctx.policy.retryBaseMs);
      expect(second.expired[0]).toMatchObject({
        id: t.id,
        status: 'pending',
        attempts: 2,
        runAfter: now + d2,
      });
      expect((await ctx.task(t.id)).runAfter).toBe(now + d2);
      ctx.clock.advance(d2 - 1);
      expect(await ctx.tryClaim(a)).toBeNull();
      ctx.clock.advance(2);
      expect((await ctx.claim(a)).task.attempts).toBe(3);

      const events = await ctx.store.listEvents({ taskId: t.id, kinds: ['task.expired'] });
      expect(events).toHaveLength(2);
      for (const e of events) expect(e).toMatchObject({ fromStatus: 'in_progress', toStatus: 'pending' });
    });

    it('after maxAttempts expiries the task fails', async () => {
      const t = await createOne(ctx.store, { maxAttempts: 2 });
      const a = await ctx.agent('a');
      await ctx.claim(a);
      ctx.clock.advance(ctx.policy.leaseMs + 1);
      expect((await ctx.cns.reap()).expired[0]?.status).toBe('pending');
      ctx.clock.advance(retryDelayMs(1, ctx.policy) + 1);
      await ctx.claim(a);
      ctx.clock.advance(ctx.policy.leaseMs + 1);
      const r = await ctx.cns.reap();
      expect(r.expired).toHaveLength(1);
      expect(r.expired[0]).toMatchObject({ id: t.id, status: 'failed', attempts: 2, lease: null });
      const failed = await ctx.task(t.id);
      expect(failed.status).toBe('failed');
      expect(failed.finishedAt).toBe(T0 + 2 * (ctx.policy.leaseMs + 1) + retryDelayMs(1, ctx.policy) + 1);
      ctx.clock.advance(3_600_000);
      expect(await ctx.tryClaim(a)).toBeNull();
      const events = await ctx.store.listEvents({ taskId: t.id, kinds: ['task.expired'] });
      expect(events.map((e) => e.toStatus)).toEqual(['pending', 'failed']);
    });

    it('reap only expires leases that have run out', async () => {
      const t1 = await createOne(ctx.store, { title: 'short' });
      const t2 = await createOne(ctx.store, { title: 'long' });
      const a = await ctx.agent('a');
      const c1 = await ctx.claim(a, 5_000);
      const c2 = await ctx.claim(a, 50_000);
      expect([c1.task.id, c2.task.id]).toEqual([t1.id, t2.id]);
      ctx.clock.advance(5_001);
      expect((await ctx.cns.reap()).expired.map((x) => x.id)).toEqual([t1.id]);
      expect((await ctx.task(t2.id)).status).toBe('in_progress');
    });
  });

  describe('fail', () => {
    const ctx = useStore(h);

    it('retryable with attempts left → pending with backoff; the error is recorded', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      ctx.clock.advance(100);
      const r = await ctx.cns.fail(t.id, c.leaseToken, { error: 'network down', retryable: true });
      const runAfter = T0 + 100 + retryDelayMs(1, ctx.policy);
      expect(r).toMatchObject({
        status: 'pending',
        attempts: 1,
        lease: null,
        error: 'network down',
        runAfter,
      });
      expect(await ctx.task(t.id)).toMatchObject({ status: 'pending', error: 'network down', runAfter });
      expect((await ctx.store.listAttempts(t.id))[0]).toMatchObject({
        outcome: 'failed',
        error: 'network down',
      });
      const ev = await ctx.store.listEvents({ taskId: t.id, kinds: ['task.failed'] });
      expect(ev).toHaveLength(1);
      expect(ev[0]).toMatchObject({ actor: 'a', fromStatus: 'in_progress', toStatus: 'pending' });
      ctx.clock.advance(retryDelayMs(1, ctx.policy) - 1);
      expect(await ctx.tryClaim(a)).toBeNull();
      ctx.clock.advance(2);
      expect((await ctx.claim(a)).task).toMatchObject({ id: t.id, attempts: 2 });
    });

    it('non-retryable → failed with the error', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      const r = await ctx.cns.fail(t.id, c.leaseToken, { error: 'spec is wrong', retryable: false });
      expect(r).toMatchObject({ status: 'failed', error: 'spec is wrong', lease: null, finishedAt: T0 });
      expect(await ctx.task(t.id)).toMatchObject({ status: 'failed', error: 'spec is wrong' });
      expect((await ctx.getAgent(a.id)).heldTasks).toEqual([]);
      ctx.clock.advance(3_600_000);
      expect(await ctx.tryClaim(a)).toBeNull();
    });

    it('retryable but attempts exhausted → failed', async () => {
      const t = await createOne(ctx.store, { maxAttempts: 1 });
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      const r = await ctx.cns.fail(t.id, c.leaseToken, { error: 'flaky', retryable: true });
      expect(r).toMatchObject({ status: 'failed', attempts: 1, error: 'flaky' });
      expect((await ctx.task(t.id)).status).toBe('failed');
      const ev = await ctx.store.listEvents({ taskId: t.id, kinds: ['task.failed'] });
      expect(ev[0]).toMatchObject({ fromStatus: 'in_progress', toStatus: 'failed' });
    });
  });

  describe('release', () => {
    const ctx = useStore(h);

    it('release: pending again, attempt given back, no backoff (claimable at once), task.released', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      const b = await ctx.agent('b');
      const c = await ctx.claim(a);
      ctx.clock.advance(1_000);
      const r = await ctx.cns.release(t.id, c.leaseToken, 'shutting down');
      expect(r).toMatchObject({ status: 'pending', attempts: 0, lease: null });
      expect(r.runAfter).toBeLessThanOrEqual(T0 + 1_000);
      expect(await ctx.task(t.id)).toMatchObject({ status: 'pending', attempts: 0, lease: null });
      expect((await ctx.store.listAttempts(t.id))[0]).toMatchObject({
        outcome: 'released',
        endedAt: T0 + 1_000,
      });
      const ev = await ctx.store.listEvents({ taskId: t.id, kinds: ['task.released'] });
      expect(ev).toHaveLength(1);
      expect(ev[0]).toMatchObject({ actor: 'a', fromStatus: 'in_progress', toStatus: 'pending' });
      const c2 = await ctx.claim(b);
      expect(c2.task).toMatchObject({ id: t.id, attempts: 1 });
      await expectLeaseLost(ctx.cns.complete(t.id, c.leaseToken, { result: 'x' }), t.id);
    });
  });

  describe('handoff', () => {
    const ctx = useStore(h);

    it('progress stores note, percent and checkpoint; fields not given keep their value', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      ctx.clock.advance(10);
      const p1 = await ctx.cns.progress(t.id, c.leaseToken, {
        note: 'step 1',
        percent: 30,
        checkpoint: { step: 1 },
      });
      expect(p1.progress).toEqual({ note: 'step 1', percent: 30, checkpoint: { step: 1 }, at: T0 + 10 });
      ctx.clock.advance(10);
      const p2 = await ctx.cns.progress(t.id, c.leaseToken, { note: 'step 2' });
      expect(p2.progress).toEqual({ note: 'step 2', percent: 30, checkpoint: { step: 1 }, at: T0 + 20 });
      expect((await ctx.task(t.id)).progress).toEqual(p2.progress);
      const ev = await ctx.store.listEvents({ taskId: t.id, kinds: ['task.progress'] });
      expect(ev).toHaveLength(2);
      expect(ev[0]!.actor).toBe('a');
      const att = (await ctx.store.listAttempts(t.id))[0]!;
      expect(att).toMatchObject({ note: 'step 2', percent: 30, checkpoint: { step: 1 } });
    });

    it('after the first holder’s lease expires, the next claim’s handoff has its last note and checkpoint', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      const b = await ctx.agent('b');
      const c1 = await ctx.claim(a);
      await ctx.cns.progress(t.id, c1.leaseToken, {
        note: 'parsed input',
        percent: 40,
        checkpoint: { line: 120 },
      });
      await ctx.cns.progress(t.id, c1.leaseToken, { note: 'halfway', checkpoint: { line: 300 } });
      ctx.clock.advance(ctx.policy.leaseMs + 1);
      await ctx.cns.reap();
      ctx.clock.advance(retryDelayMs(1, ctx.policy) + 1);
      const c2 = await ctx.claim(b);
      expect(c2.task.id).toBe(t.id);
      expect(c2.handoff).toHaveLength(1);
      expect(c2.handoff[0]).toMatchObject({
        taskId: t.id,
        seq: 1,
        agentId: a.id,
        agentName: 'a',
        outcome: 'expired',
        note: 'halfway',
        percent: 40,
        checkpoint: { line: 300 },
      });
      expect(c2.handoff[0]!.endedAt).not.toBeNull();
      const attempts = await ctx.store.listAttempts(t.id);
      expect(attempts.map((x) => [x.seq, x.agentId, x.outcome])).toEqual([
        [1, a.id, 'expired'],
        [2, b.id, 'running'],
      ]);
    });

    it('after a failure, the next claim’s handoff has the error; attempts accumulate oldest first', async () => {
      const t = await createOne(ctx.store, { maxAttempts: 5 });
      const a = await ctx.agent('a');
      const b = await ctx.agent('b');
      const c1 = await ctx.claim(a);
      await ctx.cns.progress(t.id, c1.leaseToken, { note: 'tried X', checkpoint: { tried: ['X'] } });
      await ctx.cns.fail(t.id, c1.leaseToken, { error: 'X does not compile', retryable: true });
      ctx.clock.advance(retryDelayMs(1, ctx.policy) + 1);
      const c2 = await ctx.claim(b);
      expect(c2.handoff).toHaveLength(1);
      expect(c2.handoff[0]).toMatchObject({
        seq: 1,
        agentId: a.id,
        outcome: 'failed',
        note: 'tried X',
        checkpoint: { tried: ['X'] },
        error: 'X does not compile',
      });
      await ctx.cns.progress(t.id, c2.leaseToken, { note: 'tried Y' });
      await ctx.cns.release(t.id, c2.leaseToken, 'going home');
      const c3 = await ctx.claim(a);
      expect(c3.handoff.map((x) => [x.seq, x.outcome, x.note])).toEqual([
        [1, 'failed', 'tried X'],
        [2, 'released', 'tried Y'],
      ]);
      expect(c3.handoff[0]!.error).toBe('X does not compile');
    });
  });
}
