import { describe, expect, it } from 'vitest';
import { normalizeBatch } from '../src/core/batch.js';
import { resolveConfig } from '../src/core/config.js';
import { InvalidInputError } from '../src/core/errors.js';
import { parseId } from '../src/core/ids.js';
import { DEFAULT_POLICY, retryDelayMs } from '../src/core/policy.js';
import { canTransition, FINAL_STATUSES, TASK_STATUSES, TRANSITIONS } from '../src/core/status.js';
import { deriveAgentStatus, deriveWorkflowStatus } from '../src/core/derive.js';

const defaults = { maxAttempts: 3, maxReviewRounds: 3 };

describe('batch validation', () => {
  it('orders tasks so dependencies come first and maps refs to indices', () => {
    const b = normalizeBatch(
      {
        actor: 't',
        tasks: [
          { ref: 'c', type: 'x', title: 'C', dependsOn: ['a', 'b'] },
          { ref: 'b', type: 'x', title: 'B', dependsOn: ['a'] },
          { ref: 'a', type: 'x', title: 'A' },
        ],
      },
      defaults,
    );
    expect(b.tasks.map((t) => t.ref)).toEqual(['a', 'b', 'c']);
    expect(b.inputIndex).toEqual([2, 1, 0]);
    expect(b.tasks[2]!.dependsOnIndices.sort()).toEqual([0, 1]);
    for (const [i, t] of b.tasks.entries()) for (const d of t.dependsOnIndices) expect(d).toBeLessThan(i);
  });

  it('names the tasks of a cycle', () => {
    expect(() =>
      normalizeBatch(
        {
          actor: 't',
          tasks: [
            { ref: 'a', type: 'x', title: 'A', dependsOn: ['b'] },
            { ref: 'b', type: 'x', title: 'B', dependsOn: ['a'] },
            { ref: 'c', type: 'x', title: 'C' },
          ],
        },
        defaults,
      ),
    ).toThrow(/cycle among: task "a", task "b"$/);
  });

  it('refuses unknown refs, duplicate refs, self-dependencies and bad fields with the task named', () => {
    const bad = (tasks: unknown[], re: RegExp) =>
      expect(() => normalizeBatch({ actor: 't', tasks: tasks as never }, defaults)).toThrow(re);
    bad([{ ref: 'a', type: 'x', title: 'A', dependsOn: ['zz'] }], /task "a": depends on "zz"/);
    bad(
      [
        { ref: 'a', type: 'x', title: 'A' },
        { ref: 'a', type: 'x', title: 'B' },
      ],
      /used twice/,
    );
    bad([{ ref: 'a', type: 'x', title: 'A', dependsOn: ['a'] }], /cannot depend on itself/);
    bad([{ type: 'x', title: '' }], /task #1 of the batch: title is required/);
    bad([{ type: 'bad type', title: 'T' }], /type is required/);
    bad([{ type: 'x', title: 'T', priority: 1.5 }], /priority must be an integer/);
    bad([{ type: 'x', title: 'T', maxAttempts: 0 }], /maxAttempts/);
    bad([], /at least one task/);
  });

  it('refuses what a backend cannot store exactly, naming the field and the accepted range', () => {
    const refusal = (task: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
      try {
        normalizeBatch(
          { actor: 't', tasks: [{ type: 'x', title: 'T', ...task } as never], ...extra },
          defaults,
        );
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidInputError);
        return {
          message: (err as InvalidInputError).message,
          field: (err as InvalidInputError).details.field,
        };
      }
      throw new Error(`accepted: ${JSON.stringify(task)}`);
    };
    expect(refusal({ title: 'a\u0000b' })).toMatchObject({
      field: 'title',
      message: /NUL \(\\u0000\) at position 1/,
    });
    expect(refusal({ spec: 'x\ud800' })).toMatchObject({
      field: 'spec',
      message: /unpaired surrogate \(\\ud800\)/,
    });
    expect(refusal({ input: { a: ['ok', 'b\u0000'] } })).toMatchObject({
      field: 'input',
      message: /input\.a\[1\]/,
    });
    expect(refusal({ metadata: { 'k\udc00': 1 } })).toMatchObject({ field: 'metadata' });
    expect(refusal({ metadata: [1] })).toMatchObject({ field: 'metadata', message: /JSON object/ });
    expect(refusal({ input: Infinity })).toMatchObject({ field: 'input', message: /not a finite number/ });
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(refusal({ input: deep })).toMatchObject({ field: 'input', message: /more than 64 levels/ });
    for (const priority of [2 ** 31, -(2 ** 31) - 1, 9007199254740992, 1e308, 1.5])
      expect(refusal({ priority })).toMatchObject({
        field: 'priority',
        message: /priority must be an integer from -2147483648 to 2147483647/,
      });
    expect(refusal({ runAfter: 1e300 })).toMatchObject({ field: 'runAfter' });
    expect(refusal({ runAfter: -1 })).toMatchObject({ field: 'runAfter' });
    expect(refusal({ review: 'yes' })).toMatchObject({ field: 'review' });
    expect(refusal({ dependsOn: ['#9223372036854775808'] })).toMatchObject({ field: 'dependsOn' });
    expect(refusal({}, { workflowId: 2 ** 53 })).toMatchObject({ field: 'workflowId' });
    expect(refusal({}, { actor: undefined })).toMatchObject({
      field: 'actor',
      message: /^actor is required/,
    });
    expect(refusal({}, { workflow: { name: 'w\u0000' } })).toMatchObject({ field: 'workflow name' });
    // The edges are accepted.
    const b = normalizeBatch(
      {
        actor: 't',
        tasks: [{ type: 'x', title: 'héllo 🎉', priority: -(2 ** 31), runAfter: 0, input: { n: 1e308 } }],
      },
      defaults,
    );
    expect(b.tasks[0]).toMatchObject({ priority: -(2 ** 31), runAfter: 0, input: { n: 1e308 } });
  });

  it('applies defaults and the workflow review setting', () => {
    const b = normalizeBatch(
      {
        actor: 't',
        workflow: { name: 'w', review: true },
        tasks: [{ type: 'x', title: 'T', requires: ['b', 'a', 'b'], dependsOn: [7, '#9'] }],
      },
      defaults,
    );
    const t = b.tasks[0]!;
    expect(t).toMatchObject({
      review: true,
      maxAttempts: 3,
      priority: 0,
      requires: ['a', 'b'],
      dependsOnIds: [7, 9],
    });
  });
});

describe('status table', () => {
  it('has every status, final ones only leave by retry', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...TASK_STATUSES].sort());
    for (const f of FINAL_STATUSES)
      expect(TRANSITIONS[f].every((s) => s === 'pending' || s === 'blocked')).toBe(true);
    expect(canTransition('blocked', 'completed')).toBe(false);
    expect(canTransition('in_progress', 'awaiting_review')).toBe(true);
  });
});

describe('policy and config', () => {
  it('backs off exponentially with a cap', () => {
    const p = { retryBaseMs: 1000, retryMaxMs: 5000 };
    expect([1, 2, 3, 4, 5].map((a) => retryDelayMs(a, p))).toEqual([1000, 2000, 4000, 5000, 5000]);
  });

  it('resolves flags over env over defaults, and refuses nonsense', () => {
    const c = resolveConfig(
      { leaseMs: 9000 },
      { CNS_LEASE_MS: '5000', CNS_MAX_ATTEMPTS: '7', CNS_DB: 'x.db' },
      '/',
    );
    expect(c.policy.leaseMs).toBe(9000);
    expect(c.policy.maxAttempts).toBe(7);
    expect(c.db).toBe('x.db');
    expect(c.heartbeatIntervalMs).toBe(3000);
    expect(Object.isFrozen(c)).toBe(true);
    expect(resolveConfig({}, {}, '/').policy).toEqual({ ...DEFAULT_POLICY });
    expect(() => resolveConfig({}, { CNS_LEASE_MS: 'soon' })).toThrow(InvalidInputError);
    expect(() => resolveConfig({ leaseMs: 1000, heartbeatIntervalMs: 2000 }, {})).toThrow(
      /shorter than the lease/,
    );
  });

  it('a waiting claim re-checks without a hint every 60 s on PostgreSQL, 10 s on SQLite, unless told', () => {
    expect(resolveConfig({ db: 'postgres://u@h/db' }, {}, '/').claimBackstopMs).toBe(60_000);
    expect(resolveConfig({}, { CNS_DB: 'postgresql://u@h/db' }, '/').claimBackstopMs).toBe(60_000);
    expect(resolveConfig({ db: 'x.db' }, {}, '/').claimBackstopMs).toBe(10_000);
    expect(resolveConfig({}, {}, '/').claimBackstopMs).toBe(10_000);
    expect(resolveConfig({ db: 'postgres://u@h/db', claimBackstopMs: 5_000 }, {}, '/').claimBackstopMs).toBe(
      5_000,
    );
  });

  it('parses ids as people type them', () => {
    expect(parseId('42')).toBe(42);
    expect(parseId('#42')).toBe(42);
    expect(parseId('x')).toBeNull();
    expect(parseId(0)).toBeNull();
  });
});

describe('derived statuses', () => {
  it('agents', () => {
    expect(deriveAgentStatus({ lastHeartbeatAt: 0, deregisteredAt: null, heldCount: 0 }, 1000, 30_000)).toBe(
      'idle',
    );
    expect(deriveAgentStatus({ lastHeartbeatAt: 0, deregisteredAt: null, heldCount: 2 }, 1000, 30_000)).toBe(
      'working',
    );
    expect(
      deriveAgentStatus({ lastHeartbeatAt: 0, deregisteredAt: null, heldCount: 2 }, 31_000, 30_000),
    ).toBe('offline');
    expect(deriveAgentStatus({ lastHeartbeatAt: 0, deregisteredAt: 5, heldCount: 0 }, 10, 30_000)).toBe(
      'offline',
    );
  });
  it('workflows', () => {
    expect(deriveWorkflowStatus({ pending: 1, completed: 2 })).toBe('running');
    expect(deriveWorkflowStatus({ awaiting_review: 1, completed: 2 })).toBe('awaiting_review');
    expect(deriveWorkflowStatus({ completed: 2, failed: 1 })).toBe('failed');
    expect(deriveWorkflowStatus({ completed: 2 })).toBe('completed');
    expect(deriveWorkflowStatus({ cancelled: 2 })).toBe('cancelled');
  });
});
