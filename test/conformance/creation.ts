import { describe, expect, it } from 'vitest';

import { NotFoundError } from '../../src/core/errors.js';
import { counts, create, createOne, T0, total, useStore, type BackendHarness } from './fixtures.js';

export function creationTests(h: BackendHarness): void {
  describe('creating tasks', () => {
    const ctx = useStore(h);

    it('a single task gets the documented defaults and a task.created event', async () => {
      const res = await create(ctx.store, [{ type: 'backend', title: '  Write the parser  ' }]);
      expect(res.workflow).toBeNull();
      expect(res.created).toEqual([true]);
      expect(res.tasks).toHaveLength(1);
      const t = res.tasks[0]!;
      expect(t.id).toBeGreaterThan(0);
      expect(t).toMatchObject({
        workflowId: null,
        ref: null,
        type: 'backend',
        requires: [],
        title: 'Write the parser',
        spec: '',
        input: null,
        priority: 0,
        runAfter: T0,
        dependsOn: [],
        status: 'pending',
        attempts: 0,
        maxAttempts: ctx.policy.maxAttempts,
        lease: null,
        assignedTo: null,
        review: false,
        reviewRounds: 0,
        maxReviewRounds: ctx.policy.maxReviewRounds,
        progress: { note: null, percent: null, checkpoint: null, at: null },
        result: null,
        resultData: null,
        error: null,
        completedBy: null,
        idempotencyKey: null,
        metadata: {},
        createdBy: 'supervisor',
        createdAt: T0,
        startedAt: null,
        finishedAt: null,
      });
      expect(await ctx.task(t.id)).toEqual(t);
      const events = await ctx.store.listEvents({ taskId: t.id });
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        kind: 'task.created',
        taskId: t.id,
        actor: 'supervisor',
        fromStatus: null,
        toStatus: 'pending',
        at: T0,
      });
      expect(await ctx.store.countTasks()).toEqual(counts({ pending: 1 }));
    });

    it('explicit fields are stored as given', async () => {
      const t = await createOne(ctx.store, {
        type: 'frontend',
        title: 'styled',
        spec: '# Spec\nmake it pretty',
        input: { files: ['a.css'], strict: true },
        requires: ['node', 'css'],
        priority: 7,
        runAfter: T0 + 60_000,
        maxAttempts: 5,
        review: true,
        maxReviewRounds: 2,
        idempotencyKey: 'style-1',
        metadata: { ticket: 'ABC-1', n: 3 },
      });
      const expected = {
        type: 'frontend',
        title: 'styled',
        spec: '# Spec\nmake it pretty',
        input: { files: ['a.css'], strict: true },
        requires: ['css', 'node'],
        priority: 7,
        runAfter: T0 + 60_000,
        maxAttempts: 5,
        review: true,
        maxReviewRounds: 2,
        idempotencyKey: 'style-1',
        metadata: { ticket: 'ABC-1', n: 3 },
        status: 'pending',
      };
      expect(t).toMatchObject(expected);
      expect(await ctx.task(t.id)).toMatchObject(expected);
    });

    it('a workflow with refs: results in input order even when not topological; deps hold ids; roots pending, dependents blocked', async () => {
      const res = await create(
        ctx.store,
        [
          { ref: 'c', type: 'backend', title: 'c', dependsOn: ['a', 'b'] },
          { ref: 'b', type: 'backend', title: 'b', dependsOn: ['a'] },
          { ref: 'a', type: 'backend', title: 'a' },
          { ref: 'd', type: 'frontend', title: 'd' },
        ],
        { workflow: { name: 'build', metadata: { repo: 'x' } } },
      );
      expect(res.created).toEqual([true, true, true, true]);
      const [c, b, a, d] = [res.tasks[0]!, res.tasks[1]!, res.tasks[2]!, res.tasks[3]!];
      expect([c.title, b.title, a.title, d.title]).toEqual(['c', 'b', 'a', 'd']);
      expect([c.ref, b.ref, a.ref, d.ref]).toEqual(['c', 'b', 'a', 'd']);
      expect(new Set(res.tasks.map((t) => t.id)).size).toBe(4);

      const wf = res.workflow!;
      expect(wf).not.toBeNull();
      expect(wf.name).toBe('build');
      expect(wf.metadata).toEqual({ repo: 'x' });
      expect(wf.createdBy).toBe('supervisor');
      for (const t of res.tasks) expect(t.workflowId).toBe(wf.id);

      expect(a.dependsOn).toEqual([]);
      expect(b.dependsOn).toEqual([a.id]);
      expect([...c.dependsOn].sort((x, y) => x - y)).toEqual([a.id, b.id].sort((x, y) => x - y));
      expect([a.status, b.status, c.status, d.status]).toEqual(['pending', 'blocked', 'blocked', 'pending']);

      // Re-read.
      const rc = await ctx.task(c.id);
      expect(rc.status).toBe('blocked');
      expect([...rc.dependsOn].sort((x, y) => x - y)).toEqual([a.id, b.id].sort((x, y) => x - y));
      expect((await ctx.task(b.id)).dependsOn).toEqual([a.id]);
      expect([...(await ctx.store.getDependents(a.id))].sort((x, y) => x - y)).toEqual(
        [b.id, c.id].sort((x, y) => x - y),
      );
      expect(await ctx.store.getDependents(c.id)).toEqual([]);
      const deps = await ctx.store.getDependencies(c.id);
      expect(deps.map((x) => x.taskId).sort((x, y) => x - y)).toEqual([a.id, b.id].sort((x, y) => x - y));
      const depA = deps.find((x) => x.taskId === a.id)!;
      expect(depA).toMatchObject({ ref: 'a', title: 'a', status: 'pending', result: null, resultData: null });

      // Workflow counts and status are derived.
      expect(wf.counts).toMatchObject({ pending: 2, blocked: 2 });
      expect(wf.status).toBe('running');
      const rwf = (await ctx.store.getWorkflow(wf.id))!;
      expect(rwf.counts).toMatchObject({ pending: 2, blocked: 2 });
      expect(rwf.status).toBe('running');
      expect(await ctx.store.countTasks({ workflowId: wf.id })).toEqual(counts({ pending: 2, blocked: 2 }));
      const wfEvents = await ctx.store.listEvents({ workflowId: wf.id, kinds: ['workflow.created'] });
      expect(wfEvents).toHaveLength(1);
    });

    it('workflow status follows its tasks to completed', async () => {
      const res = await create(
        ctx.store,
        [
          { ref: 'a', type: 'backend', title: 'a' },
          { ref: 'b', type: 'backend', title: 'b', dependsOn: ['a'] },
        ],
        { workflow: { name: 'pair' } },
      );
      const wfId = res.workflow!.id;
      const agent = await ctx.agent('w');
      const ca = await ctx.claim(agent);
      await ctx.cns.complete(ca.task.id, ca.leaseToken, { result: 'A' });
      expect((await ctx.store.getWorkflow(wfId))!.status).toBe('running');
      const cb = await ctx.claim(agent);
      await ctx.cns.complete(cb.task.id, cb.leaseToken, { result: 'B' });
      const wf = (await ctx.store.getWorkflow(wfId))!;
      expect(wf.status).toBe('completed');
      expect(wf.counts).toMatchObject({ completed: 2 });
      expect(await ctx.store.countTasks({ workflowId: wfId })).toEqual(counts({ completed: 2 }));
      const page = await ctx.store.listWorkflows();
      expect(page.items.map((w) => w.id)).toEqual([wfId]);
      expect(page.nextCursor).toBeNull();
    });

    it('tasks may be added to an existing workflow by id', async () => {
      const first = await create(ctx.store, [{ type: 'backend', title: 'one' }], {
        workflow: { name: 'grow' },
      });
      const wfId = first.workflow!.id;
      const second = await create(
        ctx.store,
        [{ type: 'backend', title: 'two', dependsOn: [first.tasks[0]!.id] }],
        { workflowId: wfId },
      );
      expect(second.tasks[0]!.workflowId).toBe(wfId);
      expect(second.tasks[0]!.status).toBe('blocked');
      expect(await ctx.store.countTasks({ workflowId: wfId })).toEqual(counts({ pending: 1, blocked: 1 }));
    });

    it('dependencies on existing task ids: blocked while not completed, pending when already completed', async () => {
      const a = await createOne(ctx.store, { title: 'a' });
      const b = (await create(ctx.store, [{ type: 'backend', title: 'b', dependsOn: [a.id] }])).tasks[0]!;
      expect(b.status).toBe('blocked');
      expect(b.dependsOn).toEqual([a.id]);
      expect((await ctx.task(b.id)).dependsOn).toEqual([a.id]);

      const agent = await ctx.agent('x');
      const c = await ctx.claim(agent);
      expect(c.task.id).toBe(a.id);
      await ctx.cns.complete(a.id, c.leaseToken, { result: 'ok' });
      expect((await ctx.task(b.id)).status).toBe('pending');

      const late = (await create(ctx.store, [{ type: 'backend', title: 'late', dependsOn: [a.id] }]))
        .tasks[0]!;
      expect(late.status).toBe('pending');
      expect(late.dependsOn).toEqual([a.id]);
    });

    it('a missing dependency id → NotFoundError and nothing is inserted', async () => {
      const a = await createOne(ctx.store, { title: 'a' });
      const before = await ctx.store.countTasks();
      const eventsBefore = await ctx.store.listEvents({ limit: 1000 });
      const wfBefore = await ctx.store.listWorkflows();
      await expect(
        create(
          ctx.store,
          [
            { ref: 'x', type: 'backend', title: 'x' },
            { ref: 'y', type: 'backend', title: 'y', dependsOn: ['x', a.id, 987_654] },
          ],
          { workflow: { name: 'broken' } },
        ),
      ).rejects.toBeInstanceOf(NotFoundError);
      expect(await ctx.store.countTasks()).toEqual(before);
      expect(total(before)).toBe(1);
      expect((await ctx.store.listEvents({ limit: 1000 })).length).toBe(eventsBefore.length);
      expect((await ctx.store.listWorkflows()).items.length).toBe(wfBefore.items.length);
      expect((await ctx.store.listTasks()).items.map((t) => t.id)).toEqual([a.id]);
    });

    it('an unknown workflowId → NotFoundError and nothing is inserted', async () => {
      await expect(
        create(ctx.store, [{ type: 'backend', title: 'x' }], { workflowId: 424_242 }),
      ).rejects.toBeInstanceOf(NotFoundError);
      expect(total(await ctx.store.countTasks())).toBe(0);
    });

    it('an idempotency key returns the existing task with created=false and creates nothing', async () => {
      const first = await create(ctx.store, [{ type: 'backend', title: 'original', idempotencyKey: 'k-1' }]);
      expect(first.created).toEqual([true]);
      const original = first.tasks[0]!;
      expect(original.idempotencyKey).toBe('k-1');

      ctx.clock.advance(1_000);
      const second = await create(ctx.store, [
        { type: 'backend', title: 'duplicate', idempotencyKey: 'k-1' },
        { type: 'backend', title: 'fresh', idempotencyKey: 'k-2' },
      ]);
      expect(second.created).toEqual([false, true]);
      expect(second.tasks[0]!.id).toBe(original.id);
      expect(second.tasks[0]!.title).toBe('original');
      expect(second.tasks[0]!.createdAt).toBe(T0);
      expect(second.tasks[1]!.title).toBe('fresh');
      expect(total(await ctx.store.countTasks())).toBe(2);
      const all = await ctx.store.listTasks({ search: 'duplicate' });
      expect(all.items).toEqual([]);
      const created = await ctx.store.listEvents({ kinds: ['task.created'] });
      expect(created.map((e) => e.taskId)).toEqual([original.id, second.tasks[1]!.id]);
    });

    it('batch tasks depending on an idempotent duplicate depend on the existing task', async () => {
      const existing = (await create(ctx.store, [{ type: 'backend', title: 'base', idempotencyKey: 'base' }]))
        .tasks[0]!;
      const res = await create(ctx.store, [
        { ref: 'dep', type: 'backend', title: 'uses base', dependsOn: ['base-ref'] },
        { ref: 'base-ref', type: 'backend', title: 'base again', idempotencyKey: 'base' },
      ]);
      expect(res.created).toEqual([true, false]);
      expect(res.tasks[1]!.id).toBe(existing.id);
      expect(res.tasks[0]!.dependsOn).toEqual([existing.id]);
      expect(res.tasks[0]!.status).toBe('blocked');
      expect((await ctx.task(res.tasks[0]!.id)).dependsOn).toEqual([existing.id]);
      expect(await ctx.store.getDependents(existing.id)).toEqual([res.tasks[0]!.id]);
      expect(total(await ctx.store.countTasks())).toBe(2);
    });
  });
}
