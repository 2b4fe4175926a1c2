/**
 * The fleet stays readable from a shell: a loop of `cns task claim` under one name is one agent with
 * one registration (not one per claim), and `cns agents forget` leaves long-gone agents out.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cns-agents-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The events of one kind (`cns events --json` prints NDJSON). */
function eventsOf(kind: string): unknown[] {
  return cns('events', '--json', '--limit', '1000')
    .stdout.split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { kind: string })
    .filter((e) => e.kind === kind);
}

function cns(...args: string[]) {
  const env: NodeJS.ProcessEnv = { CNS_OFFLINE_AFTER_MS: '1000', CNS_LEASE_MS: '1000' };
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CNS_')) env[k] = v;
  const r = spawnSync(process.execPath, [MAIN, '--db', join(dir, 'cns.db'), ...args], {
    cwd: dir,
    env,
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

it('a shell loop of claims registers its agent once; cns agents forget leaves it out once it is gone', async () => {
  expect(cns('init').code).toBe(0);
  for (let i = 0; i < 3; i++) {
    expect(cns('task', 'add', '--type', 'sh', '--title', `job ${i}`).code).toBe(0);
    const claim = cns('task', 'claim', '--agent', 'sh-1', '--type', 'sh', '--json');
    expect(claim.code).toBe(0);
    const { task, leaseToken } = JSON.parse(claim.stdout) as { task: { id: number }; leaseToken: string };
    expect(cns('task', 'complete', String(task.id), '--token', leaseToken, '--result', 'ok').code).toBe(0);
  }
  const registered = eventsOf('agent.registered');
  expect(registered).toHaveLength(1);
  // Other capabilities are another registration (the agent changed).
  expect(cns('task', 'claim', '--agent', 'sh-1', '--type', 'sh', '--capability', 'gpu').code).toBe(10);
  expect(eventsOf('agent.registered')).toHaveLength(2);

  // Nothing to forget while it was just heard from; once silent past the offline threshold, forgotten.
  expect(cns('agents', 'forget', '--offline-for', '1s').stdout).toMatch(/no agent to forget/);
  await new Promise((r) => setTimeout(r, 2_500));
  const forgot = cns('agents', 'forget', '--offline-for', '1s');
  expect(forgot.code).toBe(0);
  expect(forgot.stdout).toMatch(/forgot 1 agent\(s\): sh-1/);
  expect(JSON.parse(cns('agents', '--json').stdout)).toEqual([]);
  expect(eventsOf('agent.forgotten')).toHaveLength(1);
});
