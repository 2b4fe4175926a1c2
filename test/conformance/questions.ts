/**
 * Questions: an agent holding a task asks; the task waits in `waiting_input` with no lease (the agent
 * is free, the attempt does not count); an answer sends it back to pending, kept for the agent that
 * asked for a while, and the next claimant receives every question and answer. Cancelling closes
 * the question; an answer to a closed or answered question is refused.
 */
import { describe, expect, it } from 'vitest';

import { ConflictError, LeaseLostError } from '../../src/core/errors.js';
import { createOne, T0, useStore, type BackendHarness } from './fixtures.js';

export function questionTests(h: BackendHarness): void {
  describe('questions', () => {
    const ctx = useStore(h);
    const supervisor = { name: 'sue', agentId: null, role: 'supervisor' as const };

    it('ask → waiting_input (no lease, attempt given back) → answer → pending → the asker claims it with the question and answer', async () => {
      const t = await createOne(ctx.store, { title: 'pick a database' });
      const asker = await ctx.agent('asker');
      const c = await ctx.claim(asker);
      await ctx.cns.progress(t.id, c.leaseToken, { note: 'compared three', checkpoint: { step: 2 } });
      ctx.clock.advance(100);
      const asked = await ctx.cns.ask(t.id, c.leaseToken, {
        text: 'PostgreSQL or SQLite?',
        choices: ['PostgreSQL', 'SQLite'],
        context: { rows: 1_000_000 },
      });
      expect(asked.task).toMatchObject({ status: 'waiting_input', lease: null, attempts: 0 });
      expect(asked.task.progress).toMatchObject({ note: 'compared three', checkpoint: { step: 2 } });
      expect(asked.question).toMatchObject({
        taskId: t.id,
        attemptSeq: 1,
        askedBy: { agentId: asker.id, name: 'asker' },
        for: 'supervisor',
        text: 'PostgreSQL or SQLite?',
        choices: ['PostgreSQL', 'SQLite'],
        context: { rows: 1_000_000 },
        askedAt: T0 + 100,
        status: 'open',
        answer: null,
        answeredBy: null,
      });
      // The agent is free: it holds nothing, and its token is dead.
      expect((await ctx.getAgent(asker.id)).heldTasks).toEqual([]);
      await expect(ctx.cns.complete(t.id, c.leaseToken, { result: 'x' })).rejects.toBeInstanceOf(
        LeaseLostError,
      );
      const [attempt] = await ctx.store.listAttempts(t.id);
      expect(attempt).toMatchObject({ outcome: 'asked', note: 'compared three', endedAt: T0 + 100 });

      // Nothing to claim meanwhile.
      expect(await ctx.tryClaim(asker)).toBeNull();
      ctx.clock.advance(500);
      const answered = await ctx.cns.answer(asked.question.id, { answer: 'PostgreSQL', by: supervisor });
      expect(answered.task).toMatchObject({
        status: 'pending',
        runAfter: T0 + 600,
        preferred: { agentId: asker.id, until: T0 + 600 + ctx.policy.preferAskerMs },
      });
      expect(answered.question).toMatchObject({
        status: 'answered',
        answer: 'PostgreSQL',
        answeredBy: { name: 'sue', agentId: null },
        answeredAt: T0 + 600,
      });

      const again = await ctx.claim(asker);
      expect(again.task).toMatchObject({ id: t.id, attempts: 1, preferred: null, status: 'in_progress' });
      expect(again.handoff.map((a) => a.outcome)).toEqual(['asked']);
      expect(again.questions).toEqual([answered.question]);
      const events = await ctx.store.listEvents({ taskId: t.id, kinds: ['task.asked', 'task.answered'] });
      expect(events.map((e) => [e.kind, e.actor, e.agentId, e.fromStatus, e.toStatus, e.message])).toEqual([
        ['task.asked', 'asker', asker.id, 'in_progress', 'waiting_input', 'PostgreSQL or SQLite?'],
        ['task.answered', 'sue', null, 'waiting_input', 'pending', 'PostgreSQL'],
      ]);
    });

    it('an answered task is kept for the asker, then anyone of its type may take it', async () => {
      const t = await createOne(ctx.store);
      const asker = await ctx.agent('asker');
      const other = await ctx.agent('other');
      const c = await ctx.claim(asker);
      const { question } = await ctx.cns.ask(t.id, c.leaseToken, { text: 'which branch?' });
      await ctx.cns.answer(question.id, { answer: 'main', by: supervisor });
      expect(await ctx.tryClaim(other)).toBeNull();
      const ex = await ctx.cns.explain(t.id);
      expect(ex.reasons).toContainEqual(expect.objectContaining({ code: 'kept_for', agent: 'asker' }));
      ctx.clock.advance(ctx.policy.preferAskerMs);
      const taken = await ctx.claim(other);
      expect(taken.task.id).toBe(t.id);
      expect(taken.questions.map((q) => [q.text, q.answer])).toEqual([['which branch?', 'main']]);
    });

    it('while it waits there is no lease: the reaper expires nothing, heartbeats renew nothing, no attempt is burned', async () => {
      const t = await createOne(ctx.store, { maxAttempts: 1 });
      const asker = await ctx.agent('asker');
      const c = await ctx.claim(asker);
      await ctx.cns.ask(t.id, c.leaseToken, { text: 'ok to delete the table?', for: 'dba' });
      ctx.clock.advance(ctx.policy.leaseMs * 10);
      expect((await ctx.cns.reap()).expired).toEqual([]);
      expect((await ctx.store.heartbeatAgent(asker.id, asker.session)).renewed).toEqual([]);
      expect(await ctx.store.heldBy(asker)).toEqual([]);
      const ex = await ctx.cns.explain(t.id);
      expect(ex.summary).toContain('waiting for an answer from dba since');
      const [q] = await ctx.cns.listQuestions({ status: ['open'] });
      await ctx.cns.answer(q!.id, { answer: 'yes', by: supervisor });
      // maxAttempts 1: asking gave the attempt back, so the task can still be claimed.
      const again = await ctx.claim(asker);
      expect(again.task.attempts).toBe(1);
      expect((await ctx.cns.complete(t.id, again.leaseToken, { result: 'done' })).status).toBe('completed');
    });

    it('an answer twice, or to a question whose task was cancelled, is refused; cancelling closes the question', async () => {
      const t1 = await createOne(ctx.store, { title: 'one' });
      const t2 = await createOne(ctx.store, { title: 'two' });
      const a = await ctx.agent('a');
      const c1 = await ctx.claim(a);
      const q1 = (await ctx.cns.ask(t1.id, c1.leaseToken, { text: 'q1' })).question;
      const c2 = await ctx.claim(a);
      const q2 = (await ctx.cns.ask(t2.id, c2.leaseToken, { text: 'q2' })).question;

      await ctx.cns.answer(q1.id, { answer: 'first', by: supervisor });
      const twice = await ctx.cns
        .answer(q1.id, { answer: 'second', by: supervisor })
        .catch((e: unknown) => e);
      expect(twice).toBeInstanceOf(ConflictError);
      expect((twice as Error).message).toBe(`question ${q1.id} was already answered by sue`);
      expect((await ctx.cns.getQuestion(q1.id)).answer).toBe('first');

      const cancelled = await ctx.cns.cancel(t2.id, supervisor, 'not needed');
      expect(cancelled.map((t) => [t.id, t.status])).toEqual([[t2.id, 'cancelled']]);
      expect(await ctx.cns.getQuestion(q2.id)).toMatchObject({
        status: 'closed',
        closedReason: 'its task was cancelled',
        answer: null,
      });
      const late = await ctx.cns.answer(q2.id, { answer: 'x', by: supervisor }).catch((e: unknown) => e);
      expect(late).toBeInstanceOf(ConflictError);
      expect((late as Error).message).toBe(
        `question ${q2.id} is closed (its task was cancelled): there is nothing to answer`,
      );
      expect((await ctx.task(t2.id)).status).toBe('cancelled');
      expect(await ctx.cns.listQuestions({ status: ['open'] })).toEqual([]);
    });

    it('only the holder asks: a stale or made-up token is refused and nothing changes', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      const bogus = await ctx.cns.ask(t.id, 'f'.repeat(32), { text: 'q' }).catch((e: unknown) => e);
      expect(bogus).toBeInstanceOf(LeaseLostError);
      expect((bogus as LeaseLostError).reason).toBe('unknown_token');
      await ctx.cns.release(t.id, c.leaseToken);
      const stale = await ctx.cns.ask(t.id, c.leaseToken, { text: 'q' }).catch((e: unknown) => e);
      expect((stale as LeaseLostError).reason).toBe('released');
      expect((await ctx.task(t.id)).status).toBe('pending');
      expect(await ctx.cns.listQuestions({ taskId: t.id })).toEqual([]);
    });

    it('several questions over time are kept in order and all handed over', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      for (const [text, answer] of [
        ['first?', 'one'],
        ['second?', 'two'],
        ['third?', 'three'],
      ] as const) {
        const c = await ctx.claim(a);
        const { question } = await ctx.cns.ask(t.id, c.leaseToken, { text });
        ctx.clock.advance(10);
        await ctx.cns.answer(question.id, { answer, by: supervisor });
      }
      const last = await ctx.claim(a);
      expect(last.questions.map((q) => [q.attemptSeq, q.text, q.answer])).toEqual([
        [1, 'first?', 'one'],
        [2, 'second?', 'two'],
        [3, 'third?', 'three'],
      ]);
      expect(last.handoff.map((x) => x.outcome)).toEqual(['asked', 'asked', 'asked']);
      expect(last.task.attempts).toBe(1);
      expect((await ctx.cns.listQuestions({ taskId: t.id })).map((q) => q.text)).toEqual([
        'third?',
        'second?',
        'first?',
      ]);
    });

    it('a question needs text, and choices are short texts', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      const c = await ctx.claim(a);
      await expect(ctx.cns.ask(t.id, c.leaseToken, { text: '  ' })).rejects.toMatchObject({
        code: 'invalid_input',
      });
      await expect(ctx.cns.ask(t.id, c.leaseToken, { text: 'q', choices: [] })).rejects.toMatchObject({
        code: 'invalid_input',
      });
      expect((await ctx.task(t.id)).status).toBe('in_progress');
    });
  });
}
