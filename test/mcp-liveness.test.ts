/**
 * Must show 2: the `cns mcp` process is the agent's liveness. Killed with SIGKILL while holding a
 * task, its lease expires and another agent receives the task with the first agent's last progress
 * note in the handoff. Its stdin closed (a clean exit), its task is released at once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { call, startMcp, tempDb, type McpProcess } from './support/mcp-harness.js';

interface Claimed {
  task: {
    id: number;
    handoff: { agent: string; outcome: string; note: string | null; checkpoint: unknown }[];
  } | null;
  reason: string | null;
}
interface Detail {
  task: { id: number; status: string; attempts: number; lease: unknown };
  events: { kind: string; actor: string }[];
}

const FAST = { CNS_REAPER_INTERVAL_MS: '200', CNS_RETRY_BASE_MS: '100' };
const SHORT_LEASE = ['--lease-ms', '1500', '--heartbeat-ms', '300'];

describe('cns mcp: the process is the agent’s liveness', () => {
  const tmp = tempDb();
  const started: McpProcess[] = [];
  const start = async (args: string[]) => {
    const p = await startMcp(tmp.db, args, { env: FAST });
    started.push(p);
    return p;
  };

  afterAll(async () => {
    await Promise.allSettled(started.map((p) => p.close()));
    tmp.cleanup();
  });

  it('hands a killed agent’s task to another agent after the lease expires, with its last note', async () => {
    const supervisor = await start(['--role', 'supervisor']);
    const doomed = await start(['--role', 'agent', '--type', 'worker', '--name', 'doomed', ...SHORT_LEASE]);
    const created = await call<{ task: { id: number } }>(supervisor, 'task_create', {
      type: 'worker',
      title: 'Migrate the schema',
      spec: 'three steps',
    });
    const id = created.task.id;

    const taken = await call<Claimed>(doomed, 'task_next', { wait_seconds: 5 });
    expect(taken.task?.id).toBe(id);
    await call(doomed, 'task_update', {
      task_id: id,
      note: 'step 1 of 3 done: tables created',
      percent: 33,
      checkpoint: { step: 1 },
    });
    // Several heartbeats pass: the lease is renewed while the process lives.
    await new Promise((r) => setTimeout(r, 2_000));
    const alive = await call<Detail>(supervisor, 'task_get', { task_id: id });
    expect(alive.task.status).toBe('in_progress');

    const killedAt = Date.now();
    process.kill(doomed.pid, 'SIGKILL');
    await doomed.exited;

    const rescuer = await start(['--role', 'agent', '--type', 'worker', '--name', 'rescuer', ...SHORT_LEASE]);
    const rescued = await call<Claimed>(rescuer, 'task_next', { wait_seconds: 20 });
    const after = Date.now() - killedAt;
    console.log(
      `SIGKILLed agent's task re-claimed by another agent ${after} ms after the kill (lease 1500 ms)`,
    );
    expect(rescued.task?.id).toBe(id);
    const last = rescued.task!.handoff.at(-1)!;
    expect(last.agent).toBe('doomed');
    expect(last.outcome).toBe('expired');
    expect(last.note).toBe('step 1 of 3 done: tables created');
    expect(last.checkpoint).toEqual({ step: 1 });
    await call(rescuer, 'task_complete', { task_id: id, result: 'migrated' });
  });

  it('releases the task at once when the agent’s stdin closes', async () => {
    const supervisor = await start(['--role', 'supervisor']);
    // A long lease: if the task comes back, it is the release, not an expiry.
    const agent = await start([
      '--role',
      'agent',
      '--type',
      'closer',
      '--name',
      'closer',
      '--lease-ms',
      '60000',
    ]);
    const created = await call<{ task: { id: number } }>(supervisor, 'task_create', {
      type: 'closer',
      title: 'Hold me',
    });
    const id = created.task.id;
    const taken = await call<Claimed>(agent, 'task_next', { wait_seconds: 5 });
    expect(taken.task?.id).toBe(id);

    const closedAt = Date.now();
    await agent.close(); // ends the child's stdin; the transport waits up to 2 s before SIGTERM
    const tookMs = Date.now() - closedAt;
    expect(agent.stderr()).toContain('stopping (stdin closed)');
    expect(agent.stderr()).toContain(`released task(s) ${id}`);
    expect(tookMs).toBeLessThan(2_000);

    const detail = await call<Detail>(supervisor, 'task_get', { task_id: id, events: 50 });
    expect(detail.task.status).toBe('pending');
    expect(detail.task.lease).toBeNull();
    expect(detail.task.attempts).toBe(0); // a release gives the attempt back
    const fleet = await call<{ agents: { name: string; status: string }[] }>(supervisor, 'fleet_status');
    expect(fleet.agents.find((a) => a.name === 'closer')?.status).toBe('offline');
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('releases the task and deregisters on %s', async (signal) => {
    const supervisor = await start(['--role', 'supervisor']);
    const type = `sig-${signal.toLowerCase()}`;
    const agent = await start(['--role', 'agent', '--type', type, '--name', type, '--lease-ms', '60000']);
    const created = await call<{ task: { id: number } }>(supervisor, 'task_create', {
      type,
      title: 'Hold me too',
    });
    const taken = await call<Claimed>(agent, 'task_next', { wait_seconds: 5 });
    expect(taken.task?.id).toBe(created.task.id);
    process.kill(agent.pid, signal);
    await agent.exited;
    expect(agent.stderr()).toContain(`stopping (${signal})`);
    const detail = await call<Detail>(supervisor, 'task_get', { task_id: created.task.id });
    expect(detail.task.status).toBe('pending');
  });
});
