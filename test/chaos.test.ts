/**
 * Chaos, the short run of `npm test` (the long one: `npm run chaos -- --tasks 10000`, see
 * docs/reliability.md). The run itself is scripts/chaos/run-chaos.ts: agent processes of every kind
 * (AgentSession, `cns mcp` over stdio, `cns mcp --server` through `cns serve`, `cns worker --exec`) SIGKILLed at random
 * and restarted (half of them under the same name), then `cns serve` killed and PostgreSQL restarted
 * too; tasks that fail once, ask questions, need review, and fencing probes that complete late. The
 * checks read the database and the event log at the end; any broken invariant is a violation.
 */
import { describe, expect, it } from 'vitest';
import { formatSummaries, runChaos, type ChaosSummary } from '../scripts/chaos/run-chaos.js';

function expectClean(s: ChaosSummary): void {
  console.log(`chaos (${s.backend}):\n${formatSummaries([s])}`);
  expect(s.violations, 'broken invariants').toEqual([]);
  expect(s).toMatchObject({ completed: s.tasks, duplicates: 0, lost: 0, stuck: 0, staleAccepted: 0 });
  // The faults really happened (a run without them proves nothing).
  expect(s.kills).toBeGreaterThan(5);
  expect(s.killsOfHolders).toBeGreaterThan(0);
  expect(s.restartsSameName).toBeGreaterThan(0);
  expect(s.serveKills).toBeGreaterThan(0);
  expect(s.leasesExpired).toBeGreaterThan(0);
  expect(s.staleRefused).toBeGreaterThan(0);
  expect(s.reviews).toBeGreaterThan(0);
  expect(s.questionsAnswered).toBeGreaterThan(0);
}

const SIZE = { tasks: 200, agents: 8, seconds: 20, workMs: 150 };

describe('chaos: every kind of agent SIGKILLed and restarted, cns serve killed, PostgreSQL restarted', () => {
  it('sqlite: every task final exactly once, no late write accepted, nothing lost or stuck', async () => {
    expectClean(await runChaos({ backend: 'sqlite', ...SIZE }));
  }, 120_000);

  it('postgres (a dedicated server, restarted mid-run): the same', async () => {
    const s = await runChaos({ backend: 'postgres', ...SIZE });
    expectClean(s);
    expect(s.postgresRestarts).toBeGreaterThan(0);
  }, 120_000);
});
