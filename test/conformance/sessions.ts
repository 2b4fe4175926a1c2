/**
 * Leases belong to the session that claimed them (one run of an agent process), not to the agent's
 * name: a heartbeat renews only its own session's leases, so an agent that crashed and was restarted
 * under the same name never keeps its predecessor's tasks alive; those expire and go back to the
 * queue with their handoff. A session can list what it holds (to hand back a claim whose answer was
 * lost), and ending a session releases only its own tasks.
 */
import { describe, expect, it } from 'vitest';

import { retryDelayMs } from '../../src/core/policy.js';
import { create, createOne, T0, useStore, type BackendHarness } from './fixtures.js';

export function sessionTests(h: BackendHarness): void {
  describe('sessions own their leases', () => {
    const ctx = useStore(h);

    it('each registration starts a new session; re-registering under the same name keeps the id', async () => {
      const first = await ctx.agent('ns-1');
      const again = await ctx.agent('ns-1');
      expect(first.session).toMatch(/^[0-9a-f]{32}$/);
      expect(again.session).toMatch(/^[0-9a-f]{32}$/);
      expect(again.session).not.toBe(first.session);
      expect(again.id).toBe(first.id);
      expect((await ctx.getAgent('ns-1')).session).toBe(again.session);
    });

    it("a restarted agent's heartbeats never renew its predecessor's lease: it expires and requeues with the handoff", async () => {
      const t = await createOne(ctx.store);
      const crashed = await ctx.agent('ns-1');
      const c = await ctx.claim(crashed);
      await ctx.cns.progress(t.id, c.leaseToken, { note: 'half way', checkpoint: { step: 3 } });
      // The process dies (no deregistration); its supervisor starts it again under the same name.
      ctx.clock.advance(1_000);
      const restarted = await ctx.agent('ns-1');
      for (let i = 0; i < 4; i++) {
        ctx.clock.advance(Math.floor(ctx.policy.leaseMs / 3));
        const { renewed } = await ctx.store.heartbeatAgent(restarted.id, restarted.session);
        expect(renewed).toEqual([]);
      }
      expect((await ctx.task(t.id)).lease?.expiresAt).toBe(T0 + ctx.policy.leaseMs);
      const reaped = await ctx.cns.reap();
      expect(reaped.expired.map((x) => x.id)).toEqual([t.id]);
      expect(await ctx.task(t.id)).toMatchObject({ status: 'pending', attempts: 1, lease: null });

      // The next claimant (the restarted agent itself here) gets the handoff.
      ctx.clock.advance(retryDelayMs(1, ctx.policy));
      const again = await ctx.claim(restarted);
      expect(again.task.id).toBe(t.id);
      expect(again.handoff).toHaveLength(1);
      expect(again.handoff[0]).toMatchObject({
        agentName: 'ns-1',
        outcome: 'expired',
        note: 'half way',
        checkpoint: { step: 3 },
      });
      expect(again.leaseToken).not.toBe(c.leaseToken);
    });

    it('two live sessions under one name each renew only their own leases', async () => {
      const t1 = await createOne(ctx.store, { title: 'one' });
      const t2 = await createOne(ctx.store, { title: 'two' });
      const s1 = await ctx.agent('twin');
      const c1 = await ctx.claim(s1);
      const s2 = await ctx.agent('twin');
      const c2 = await ctx.claim(s2);
      expect([c1.task.id, c2.task.id]).toEqual([t1.id, t2.id]);
      ctx.clock.advance(5_000);
      expect((await ctx.store.heartbeatAgent(s1.id, s1.session)).renewed).toEqual([t1.id]);
      ctx.clock.advance(1_000);
      expect((await ctx.store.heartbeatAgent(s2.id, s2.session)).renewed).toEqual([t2.id]);
      expect((await ctx.task(t1.id)).lease?.expiresAt).toBe(T0 + 5_000 + ctx.policy.leaseMs);
      expect((await ctx.task(t2.id)).lease?.expiresAt).toBe(T0 + 6_000 + ctx.policy.leaseMs);
      // Both agents' views list every task the name holds; a session-less heartbeat renews none.
      const { agent, renewed } = await ctx.store.heartbeatAgent(s1.id, null);
      expect(renewed).toEqual([]);
      expect(agent.heldTasks).toEqual([t1.id, t2.id]);
    });

    it('heldBy lists what a session holds, as its claim handed it out (token, dependencies, handoff)', async () => {
      const res = await create(ctx.store, [
        { ref: 'dep', type: 'backend', title: 'dependency' },
        { ref: 'main', type: 'backend', title: 'main', dependsOn: ['dep'] },
      ]);
      const [dep, main] = res.tasks;
      const a = await ctx.agent('a');
      expect(await ctx.store.heldBy(a)).toEqual([]);
      const cd = await ctx.claim(a);
      expect(cd.task.id).toBe(dep!.id);
      await ctx.cns.complete(dep!.id, cd.leaseToken, { result: 'dep result' });
      // main: a first attempt released with a note, then claimed again.
      const first = await ctx.claim(a);
      await ctx.cns.progress(main!.id, first.leaseToken, { note: 'first try', checkpoint: { at: 1 } });
      await ctx.cns.release(main!.id, first.leaseToken, 'not now');
      const claimed = await ctx.claim(a);
      expect(claimed.task.id).toBe(main!.id);

      const held = await ctx.store.heldBy(a);
      expect(held).toHaveLength(1);
      expect(held[0]!.task.id).toBe(main!.id);
      expect(held[0]!.leaseToken).toBe(claimed.leaseToken);
      expect(held[0]!.leaseExpiresAt).toBe(claimed.leaseExpiresAt);
      expect(held[0]!.dependencies).toEqual(claimed.dependencies);
      expect(held[0]!.dependencies[0]).toMatchObject({ taskId: dep!.id, result: 'dep result' });
      expect(held[0]!.handoff).toEqual(claimed.handoff);
      expect(held[0]!.handoff.map((x) => x.outcome)).toEqual(['released']);

      // Another session of the same name, or no session, holds nothing.
      const other = await ctx.agent('a');
      expect(await ctx.store.heldBy(other)).toEqual([]);
      expect(await ctx.store.heldBy({ id: a.id, session: null })).toEqual([]);
    });

    it("ending a former session releases only its tasks and leaves the agent's current session registered", async () => {
      const t1 = await createOne(ctx.store, { title: 'old' });
      const t2 = await createOne(ctx.store, { title: 'new' });
      const old = await ctx.agent('w');
      await ctx.claim(old);
      const current = await ctx.agent('w');
      const c2 = await ctx.claim(current);
      ctx.clock.advance(100);
      expect((await ctx.cns.deregisterAgent(old.id, old.session, 'w')).released).toEqual([t1.id]);
      expect(await ctx.task(t1.id)).toMatchObject({ status: 'pending', attempts: 0, lease: null });
      expect((await ctx.task(t2.id)).lease?.token).toBe(c2.leaseToken);
      const still = await ctx.getAgent('w');
      expect(still.deregisteredAt).toBeNull();
      expect(still.status).toBe('working');
      expect(await ctx.store.listEvents({ agentId: old.id, kinds: ['agent.deregistered'] })).toEqual([]);

      expect((await ctx.cns.deregisterAgent(current.id, current.session, 'w')).released).toEqual([t2.id]);
      expect((await ctx.getAgent('w')).deregisteredAt).toBe(T0 + 100);
      expect(await ctx.store.listEvents({ agentId: old.id, kinds: ['agent.deregistered'] })).toHaveLength(1);
    });

    it('ending every session (null) releases all the tasks the agent holds', async () => {
      await createOne(ctx.store, { title: 'one' });
      await createOne(ctx.store, { title: 'two' });
      const s1 = await ctx.agent('w');
      const c1 = await ctx.claim(s1);
      const s2 = await ctx.agent('w');
      const c2 = await ctx.claim(s2);
      const { released } = await ctx.cns.deregisterAgent(s1.id, null, 'admin');
      expect([...released].sort((x, y) => x - y)).toEqual([c1.task.id, c2.task.id]);
      expect((await ctx.getAgent('w')).deregisteredAt).not.toBeNull();
    });
  });
}
