/**
 * One lease reaper per database (Store.campaign, Store.leader) and the hints a watcher gets
 * (Store.watch): of two stores on one database one leads, the other takes over when it steps down;
 * a watcher is told when work may have become claimable, and not for a progress note.
 */
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { describe, expect, it, vi } from 'vitest';

import { Coordinator } from '../../src/coordinator/coordinator.js';
import { resolveConfig } from '../../src/core/config.js';
import type { ChangeHint, Store } from '../../src/store/store.js';
import { create, createOne, refOf, useStore, type BackendHarness } from './fixtures.js';

function track(store: Store, name = 'reaper') {
  const changes: boolean[] = [];
  const leadership = store.campaign(name, { checkMs: 50, onChange: (leading) => changes.push(leading) });
  return { leadership, changes };
}

export function leadershipTests(h: BackendHarness): void {
  describe('leadership: one reaper per database', () => {
    const ctx = useStore(h);

    it('of two campaigners one leads; when it steps down the other takes over and is recorded', async () => {
      const other = await ctx.another();
      const a = track(ctx.store);
      await vi.waitFor(() => expect(a.leadership.leading).toBe(true), { timeout: 10_000 });
      const b = track(other);
      // b stays behind while a leads (give it several checks).
      await new Promise((r) => setTimeout(r, 300));
      expect(b.leadership.leading).toBe(false);
      expect(b.changes).toEqual([]);
      const recorded = await other.leader('reaper');
      expect(recorded).toMatchObject({ name: 'reaper', host: hostname(), pid: process.pid });

      await a.leadership.stop();
      expect(a.leadership.leading).toBe(false);
      expect(a.changes).toEqual([true, false]);
      await vi.waitFor(() => expect(b.leadership.leading).toBe(true), { timeout: 10_000 });
      expect(b.changes).toEqual([true]);
      await b.leadership.stop();
      expect(b.changes).toEqual([true, false]);
    });

    it('campaigns of different names are independent; nobody leads a name nobody campaigned for', async () => {
      expect(await ctx.store.leader('nobody')).toBeNull();
      const a = track(ctx.store, 'one');
      const b = track(ctx.store, 'two');
      await vi.waitFor(() => expect(a.leadership.leading && b.leadership.leading).toBe(true), {
        timeout: 10_000,
      });
      await a.leadership.stop();
      await b.leadership.stop();
    });
  });

  describe('watch hints', () => {
    const ctx = useStore(h);

    it('a new pending task may wake a claim; a progress note does not', async () => {
      const other = await ctx.another();
      const seen: (readonly ChangeHint[] | null)[] = [];
      const stop = other.watch((hints) => seen.push(hints));
      try {
        // Let the watcher settle (PostgreSQL: LISTEN starts, then one null call).
        await new Promise((r) => setTimeout(r, 300));
        seen.length = 0;
        const t = await createOne(ctx.store, { type: 'backend', requires: ['gpu'] });
        const claimable = (hs: readonly ChangeHint[] | null) =>
          hs === null || hs.some((x) => x.kind === 'claimable' && x.type === 'backend');
        await vi.waitFor(() => expect(seen.some(claimable)).toBe(true), { timeout: 10_000 });
        // Where the store can tell, it names the type and the capabilities.
        const named = seen.flatMap((hs) => hs ?? []).find((x) => x.kind === 'claimable');
        if (named) expect(named).toEqual({ kind: 'claimable', type: 'backend', requires: ['gpu'] });

        const agent = await ctx.agent('hint-1', 'backend', ['gpu']);
        const c = await ctx.claim(agent);
        expect(c.task.id).toBe(t.id);
        await new Promise((r) => setTimeout(r, 300));
        seen.length = 0;
        await ctx.cns.progress(t.id, c.leaseToken, { note: 'half way', percent: 50 });
        await vi.waitFor(() => expect(seen.length).toBeGreaterThan(0), { timeout: 10_000 });
        await new Promise((r) => setTimeout(r, 200));
        expect(seen.some(claimable)).toBe(false);
      } finally {
        stop();
      }
    });
  });

  describe('no herd', () => {
    const ctx = useStore(h);

    it('a new task is offered to one waiting claim at a time, not to all of them', async () => {
      let claims = 0;
      const counted = new Proxy(ctx.store, {
        get(target, key) {
          const value = Reflect.get(target, key, target) as unknown;
          if (key === 'claim') claims++;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const cns = new Coordinator(
        counted,
        resolveConfig({ ...ctx.policy, claimBackstopMs: 60_000, waitMaxMs: 60_000 }, {}, '/'),
        { reaper: false },
      );
      const agents = await Promise.all(Array.from({ length: 20 }, (_, i) => ctx.agent(`herd-${i}`, 'herd')));
      const stop = new AbortController();
      setMaxListeners(agents.length + 1, stop.signal); // twenty waits share one signal, on purpose
      const waits = agents.map((a) => cns.claimNext(refOf(a), { waitMs: 20_000, signal: stop.signal }));
      await vi.waitFor(() => expect(claims).toBe(20), { timeout: 10_000 });
      // Let every waiter fall asleep (each looks for scheduled work after its empty claim).
      await new Promise((r) => setTimeout(r, 300));
      claims = 0;
      await create(
        ctx.store,
        [1, 2, 3].map((n) => ({ type: 'herd', title: `herd ${n}` })),
      );
      const won = await Promise.race([
        Promise.all(waits.slice(0, 3)),
        new Promise((r) => setTimeout(r, 8_000)),
      ]);
      // The first three waiters (oldest first) get the three tasks, one offered after another.
      expect(Array.isArray(won)).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      // Three claims that got a task, and at most a couple that found the queue empty — not twenty.
      expect(claims).toBeGreaterThanOrEqual(3);
      expect(claims).toBeLessThanOrEqual(5);
      stop.abort(); // the other waiters end empty
      const rest = await Promise.all(waits.slice(3));
      expect(rest.every((r) => r.claimed === null)).toBe(true);
      cns.changes.close();
    });
  });
}
