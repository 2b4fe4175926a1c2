import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import { InvalidInputError, NotFoundError } from '../../src/core/errors.js';
import { createOne, T0, useStore, type BackendHarness } from './fixtures.js';

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');

export function tokenTests(h: BackendHarness): void {
  describe('API tokens', () => {
    const ctx = useStore(h);

    it('createToken stores the fields and the hash only; findTokenByHash finds it', async () => {
      const admin = await ctx.store.createToken({ name: 'root', role: 'admin', secretHash: hash('s1') });
      expect(admin).toEqual({
        id: admin.id,
        name: 'root',
        role: 'admin',
        agentName: null,
        agentType: null,
        capabilities: [],
        createdAt: T0,
        lastUsedAt: null,
        revokedAt: null,
      });
      expect(admin.id).toBeGreaterThan(0);
      expect(JSON.stringify(admin)).not.toContain(hash('s1'));
      expect(await ctx.store.findTokenByHash(hash('s1'))).toEqual(admin);
      expect(await ctx.store.findTokenByHash(hash('other'))).toBeNull();
    });

    it('an agent token carries its identity, type and capabilities (agentName defaults to the name)', async () => {
      const a = await ctx.store.createToken({
        name: 'worker-1',
        role: 'agent',
        agentType: 'backend',
        capabilities: ['node', 'git', 'node'],
        secretHash: hash('a'),
      });
      expect(a).toMatchObject({
        role: 'agent',
        agentName: 'worker-1',
        agentType: 'backend',
        capabilities: ['git', 'node'],
      });
      const b = await ctx.store.createToken({
        name: 'laptop key',
        role: 'agent',
        agentName: 'alice',
        agentType: 'frontend',
        secretHash: hash('b'),
      });
      expect(b).toMatchObject({ agentName: 'alice', agentType: 'frontend', capabilities: [] });
    });

    it('rejects a bad role, an agent token without a type, a malformed hash and a duplicate secret', async () => {
      await expect(
        ctx.store.createToken({ name: 'x', role: 'root' as never, secretHash: hash('x') }),
      ).rejects.toBeInstanceOf(InvalidInputError);
      await expect(
        ctx.store.createToken({ name: 'x', role: 'agent', secretHash: hash('x') }),
      ).rejects.toBeInstanceOf(InvalidInputError);
      await expect(
        ctx.store.createToken({ name: 'x', role: 'supervisor', secretHash: 'plain-secret' }),
      ).rejects.toBeInstanceOf(InvalidInputError);
      await ctx.store.createToken({ name: 'x', role: 'supervisor', secretHash: hash('x') });
      await expect(
        ctx.store.createToken({ name: 'y', role: 'supervisor', secretHash: hash('x') }),
      ).rejects.toBeInstanceOf(InvalidInputError);
      expect(await ctx.store.listTokens()).toHaveLength(1);
    });

    it('listTokens lists every token oldest first, revoked ones included', async () => {
      const t1 = await ctx.store.createToken({ name: 'a', role: 'admin', secretHash: hash('1') });
      const t2 = await ctx.store.createToken({ name: 'b', role: 'supervisor', secretHash: hash('2') });
      await ctx.store.revokeToken(t1.id);
      const list = await ctx.store.listTokens();
      expect(list.map((t) => t.id)).toEqual([t1.id, t2.id]);
      expect(list[0]!.revokedAt).toBe(T0);
      expect(list[1]!.revokedAt).toBeNull();
    });

    it('revokeToken sets revokedAt once; an unknown id is not_found', async () => {
      const t = await ctx.store.createToken({ name: 'a', role: 'supervisor', secretHash: hash('1') });
      ctx.clock.advance(5_000);
      const revoked = await ctx.store.revokeToken(t.id);
      expect(revoked.revokedAt).toBe(T0 + 5_000);
      ctx.clock.advance(5_000);
      expect((await ctx.store.revokeToken(t.id)).revokedAt).toBe(T0 + 5_000);
      expect((await ctx.store.findTokenByHash(hash('1')))!.revokedAt).toBe(T0 + 5_000);
      await expect(ctx.store.revokeToken(t.id + 1000)).rejects.toBeInstanceOf(NotFoundError);
    });

    it('touchToken records the time of use', async () => {
      const t = await ctx.store.createToken({ name: 'a', role: 'supervisor', secretHash: hash('1') });
      ctx.clock.advance(60_000);
      await ctx.store.touchToken(t.id);
      expect((await ctx.store.findTokenByHash(hash('1')))!.lastUsedAt).toBe(T0 + 60_000);
      await ctx.store.touchToken(t.id + 1000); // ignored
    });
  });

  describe('latest events', () => {
    const ctx = useStore(h);

    it('listLatestEvents returns the newest events, oldest first, filtered', async () => {
      expect(await ctx.store.listLatestEvents({ limit: 1 })).toEqual([]);
      const t1 = await createOne(ctx.store, { title: 'one' });
      const t2 = await createOne(ctx.store, { title: 'two' });
      await createOne(ctx.store, { title: 'three' });
      const all = await ctx.store.listEvents({ limit: 1000 });
      const latest = await ctx.store.listLatestEvents({ limit: 2 });
      expect(latest).toEqual(all.slice(-2));
      expect((await ctx.store.listLatestEvents({ limit: 1 }))[0]!.id).toBe(all.at(-1)!.id);
      const forT1 = await ctx.store.listLatestEvents({ taskId: t1.id });
      expect(forT1.length).toBeGreaterThan(0);
      expect(forT1.every((e) => e.taskId === t1.id)).toBe(true);
      const created = await ctx.store.listLatestEvents({ kinds: ['task.created'], limit: 2 });
      expect(created.map((e) => e.taskId)).toEqual([t2.id, t2.id + 1]);
    });
  });
}
