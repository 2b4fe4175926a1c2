import { describe, expect, it } from 'vitest';

import { LeaseLostError, NotFoundError } from '../../src/core/errors.js';
import { createOne, T0, useStore, type BackendHarness } from './fixtures.js';

export function agentTests(h: BackendHarness): void {
  describe('agents', () => {
    const ctx = useStore(h);

    it('registerAgent stores every field, marks the agent alive and idle, and records agent.registered', async () => {
      const a = await ctx.cns.registerAgent({
        name: 'alice',
        type: 'backend',
        capabilities: ['git', 'node'],
        host: 'box-1',
        pid: 4242,
        clientInfo: { name: 'claude-code', version: '1.0' },
      });
      expect(a.id).toBeGreaterThan(0);
      expect(a).toMatchObject({
        name: 'alice',
        type: 'backend',
        host: 'box-1',
        pid: 4242,
        clientInfo: { name: 'claude-code', version: '1.0' },
        registeredAt: T0,
        lastHeartbeatAt: T0,
        deregisteredAt: null,
        status: 'idle',
        heldTasks: [],
      });
      expect([...a.capabilities].sort()).toEqual(['git', 'node']);

      const reread = await ctx.getAgent(a.id);
      expect(reread).toEqual(a);

      const events = await ctx.store.listEvents({ agentId: a.id, kinds: ['agent.registered'] });
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ kind: 'agent.registered', agentId: a.id, at: T0 });
    });

    it('optional registration fields default to null and an empty capability list', async () => {
      const a = await ctx.cns.registerAgent({ name: 'bare', type: 'backend' });
      expect(a).toMatchObject({ capabilities: [], host: null, pid: null, clientInfo: null });
    });

    it('re-registering by the same name keeps the id and updates type and capabilities', async () => {
      const first = await ctx.agent('bob', 'backend', ['git']);
      ctx.clock.advance(5_000);
      const second = await ctx.agent('bob', 'frontend', ['css', 'git']);
      expect(second.id).toBe(first.id);
      expect(second.type).toBe('frontend');
      expect([...second.capabilities].sort()).toEqual(['css', 'git']);
      expect(second.lastHeartbeatAt).toBe(T0 + 5_000);

      const reread = await ctx.getAgent('bob');
      expect(reread.id).toBe(first.id);
      expect(reread.type).toBe('frontend');
      expect([...reread.capabilities].sort()).toEqual(['css', 'git']);
      expect((await ctx.store.listAgents()).filter((x) => x.name === 'bob')).toHaveLength(1);
    });

    it('re-registering a deregistered agent clears deregisteredAt and makes it alive again', async () => {
      const a = await ctx.agent('carol');
      await ctx.cns.deregisterAgent(a.id, a.session, 'carol');
      const gone = await ctx.getAgent(a.id);
      expect(gone.deregisteredAt).toBe(T0);
      expect(gone.status).toBe('offline');
      ctx.clock.advance(1_000);
      const back = await ctx.agent('carol');
      expect(back.id).toBe(a.id);
      expect(back.deregisteredAt).toBeNull();
      expect(back.status).toBe('idle');
      expect((await ctx.getAgent(a.id)).deregisteredAt).toBeNull();
    });

    it('heartbeatAgent records the heartbeat time; unknown agent → NotFoundError', async () => {
      const a = await ctx.agent('dave');
      ctx.clock.advance(7_000);
      const { agent, renewed } = await ctx.store.heartbeatAgent(a.id, a.session);
      expect(agent.id).toBe(a.id);
      expect(agent.lastHeartbeatAt).toBe(T0 + 7_000);
      expect(renewed).toEqual([]);
      expect((await ctx.getAgent(a.id)).lastHeartbeatAt).toBe(T0 + 7_000);
      await expect(ctx.store.heartbeatAgent(999_999, null)).rejects.toBeInstanceOf(NotFoundError);
    });

    it('derived status: idle → working while holding a task → offline after offlineAfterMs of silence', async () => {
      const a = await ctx.agent('erin');
      expect((await ctx.getAgent(a.id)).status).toBe('idle');
      const t = await createOne(ctx.store);
      await ctx.claim(a);
      const working = await ctx.getAgent(a.id);
      expect(working.status).toBe('working');
      expect(working.heldTasks).toEqual([t.id]);

      ctx.clock.advance(ctx.policy.offlineAfterMs - 1);
      await ctx.store.heartbeatAgent(a.id, a.session);
      ctx.clock.advance(ctx.policy.offlineAfterMs);
      expect((await ctx.getAgent(a.id)).status).toBe('working');
      ctx.clock.advance(1_001);
      expect((await ctx.getAgent(a.id)).status).toBe('offline');
    });

    it('reap marks a silent agent offline once (agent.offline) and a heartbeat brings it back', async () => {
      const a = await ctx.agent('frank');
      const b = await ctx.agent('grace');
      ctx.clock.advance(ctx.policy.offlineAfterMs / 2);
      await ctx.store.heartbeatAgent(b.id, b.session);
      ctx.clock.advance(ctx.policy.offlineAfterMs / 2 + 1);

      const first = await ctx.cns.reap();
      expect(first.offline.map((x) => x.id)).toEqual([a.id]);
      expect(first.offline[0]!.status).toBe('offline');
      expect((await ctx.getAgent(a.id)).status).toBe('offline');
      expect((await ctx.getAgent(b.id)).status).toBe('idle');

      const second = await ctx.cns.reap();
      expect(second.offline).toEqual([]);
      const events = await ctx.store.listEvents({ kinds: ['agent.offline'] });
      expect(events.map((e) => e.agentId)).toEqual([a.id]);

      await ctx.store.heartbeatAgent(a.id, a.session);
      expect((await ctx.getAgent(a.id)).status).toBe('idle');
    });

    it('deregisterAgent releases held tasks (pending, attempt given back) and marks the agent offline', async () => {
      const a = await ctx.agent('heidi');
      const t1 = await createOne(ctx.store, { title: 'one' });
      const t2 = await createOne(ctx.store, { title: 'two' });
      const c1 = await ctx.claim(a);
      const c2 = await ctx.claim(a);
      expect(new Set([c1.task.id, c2.task.id])).toEqual(new Set([t1.id, t2.id]));
      expect([...(await ctx.getAgent(a.id)).heldTasks].sort((x, y) => x - y)).toEqual([t1.id, t2.id]);

      ctx.clock.advance(100);
      const { released } = await ctx.cns.deregisterAgent(a.id, a.session, 'heidi');
      expect([...released].sort((x, y) => x - y)).toEqual([t1.id, t2.id]);
      for (const id of [t1.id, t2.id]) {
        const t = await ctx.task(id);
        expect(t.status).toBe('pending');
        expect(t.attempts).toBe(0);
        expect(t.lease).toBeNull();
        expect(t.runAfter).toBeLessThanOrEqual(T0 + 100);
      }
      const gone = await ctx.getAgent(a.id);
      expect(gone.status).toBe('offline');
      expect(gone.deregisteredAt).toBe(T0 + 100);
      expect(gone.heldTasks).toEqual([]);
      const events = await ctx.store.listEvents({ agentId: a.id, kinds: ['agent.deregistered'] });
      expect(events).toHaveLength(1);
      expect(events[0]!.actor).toBe('heidi');

      // The old lease is dead, and the tasks are claimable at once by someone else.
      await expect(ctx.cns.complete(c1.task.id, c1.leaseToken, { result: 'late' })).rejects.toBeInstanceOf(
        LeaseLostError,
      );
      const b = await ctx.agent('ivan');
      const again = await ctx.claim(b);
      expect([t1.id, t2.id]).toContain(again.task.id);
      expect(again.task.attempts).toBe(1);
    });

    it('deregisterAgent of an unknown agent → NotFoundError', async () => {
      await expect(ctx.cns.deregisterAgent(999_999, null, 'x')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('getAgent by id and by name; null when unknown; listAgents lists all', async () => {
      const a = await ctx.agent('judy', 'backend', ['git']);
      const b = await ctx.agent('ken', 'frontend');
      expect((await ctx.store.getAgent(a.id))?.name).toBe('judy');
      expect((await ctx.store.getAgent('judy'))?.id).toBe(a.id);
      expect((await ctx.store.getAgent('ken'))?.id).toBe(b.id);
      expect(await ctx.store.getAgent('nobody')).toBeNull();
      expect(await ctx.store.getAgent(999_999)).toBeNull();
      const all = await ctx.store.listAgents();
      expect(all.map((x) => x.name).sort()).toEqual(['judy', 'ken']);
    });

    it('heldTasks lists exactly the in_progress tasks the agent holds', async () => {
      const a = await ctx.agent('leo');
      const b = await ctx.agent('mia');
      await createOne(ctx.store, { title: 'x' });
      await createOne(ctx.store, { title: 'y' });
      await createOne(ctx.store, { title: 'z' });
      const ca1 = await ctx.claim(a);
      const cb = await ctx.claim(b);
      const ca2 = await ctx.claim(a);
      expect([...(await ctx.getAgent(a.id)).heldTasks].sort((x, y) => x - y)).toEqual(
        [ca1.task.id, ca2.task.id].sort((x, y) => x - y),
      );
      expect((await ctx.getAgent(b.id)).heldTasks).toEqual([cb.task.id]);
      await ctx.cns.complete(ca1.task.id, ca1.leaseToken, { result: 'done' });
      expect((await ctx.getAgent(a.id)).heldTasks).toEqual([ca2.task.id]);
      const listed = await ctx.store.listAgents();
      expect(listed.find((x) => x.id === b.id)?.heldTasks).toEqual([cb.task.id]);
    });
  });

  describe('forgetting agents', () => {
    const ctx = useStore(h);

    it('forgets only agents offline and silent that long, never one holding a task; they come back when they register', async () => {
      const gone = await ctx.agent('gone-1');
      const holder = await ctx.agent('holder-1');
      const t = await createOne(ctx.store);
      await ctx.claim(holder);
      await ctx.cns.deregisterAgent(gone.id, gone.session);
      ctx.clock.advance(ctx.policy.offlineAfterMs + 60_000);
      await ctx.agent('fresh-1');

      // Silent for 2 minutes at least: gone-1 (deregistered), not holder-1 (holds a task, though
      // silent), not fresh-1 (just registered).
      const forgotten = await ctx.cns.forgetAgents({ silentForMs: 120_000 }, 'tester');
      expect(forgotten.map((a) => a.name)).toEqual([]);
      const later = await ctx.cns.forgetAgents({ silentForMs: 60_000 }, 'tester');
      expect(later.map((a) => a.name)).toEqual(['gone-1']);
      expect((await ctx.store.listAgents()).map((a) => a.name).sort()).toEqual(['fresh-1', 'holder-1']);
      // Its history stays: it is still found by name and id, and the event names it.
      expect((await ctx.store.getAgent('gone-1'))?.id).toBe(gone.id);
      const events = await ctx.store.listEvents({ kinds: ['agent.forgotten'] });
      expect(events.map((e) => [e.agentId, e.actor])).toEqual([[gone.id, 'tester']]);
      // Forgetting again finds nothing; naming an agent limits the forgetting to it.
      expect(await ctx.cns.forgetAgents({ silentForMs: 0 }, 'tester')).toEqual([]);
      expect((await ctx.cns.forgetAgents({ silentForMs: 0, names: ['holder-1'] }, 'tester')).length).toBe(0);
      expect((await ctx.task(t.id)).status).toBe('in_progress');

      await ctx.agent('gone-1');
      expect((await ctx.store.listAgents()).map((a) => a.name).sort()).toEqual([
        'fresh-1',
        'gone-1',
        'holder-1',
      ]);
    });
  });
}
