/**
 * Scenario 5, MCP overhead: `task_next` (no wait) + `task_complete` through a real MCP client over
 * stdio to `cns mcp --role agent` (the built CLI, a separate process), versus the same two calls on
 * the coordinator API in this process (an AgentSession: next + complete). Both on SQLite, ms per
 * task after a warm-up; the overhead is the difference.
 */
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { AgentSession } from '../../src/coordinator/agent-session.js';
import { openCoordinator } from '../../src/coordinator/open-coordinator.js';
import { checkCnsDatabase, enqueueCns } from '../systems/cns.js';
import { checkExactlyOnce, nowMs, type ExactlyOnce } from '../lib/stats.js';
import type { BenchEnv } from '../lib/types.js';

export interface McpResult {
  tasks: number;
  warmup: number;
  /** ms per task, per run. */
  api: number[];
  mcp: number[];
  checks: ExactlyOnce[];
  errors: string[];
}

let counter = 0;

async function viaApi(
  env: BenchEnv,
  tasks: number,
  warmup: number,
): Promise<{ ms: number; check: ExactlyOnce }> {
  const db = join(env.tmp, `mcp-api-${++counter}.db`);
  const cns = await openCoordinator({ db });
  try {
    const ids = await enqueueCns(cns, tasks + warmup, 'mcp');
    const session = await AgentSession.start(cns, { name: 'api-agent', type: 'mcp' });
    const done: number[] = [];
    const step = async () => {
      const out = await session.next({ waitMs: 0 });
      if (!out.claimed) throw new Error('api: no task');
      await session.complete(out.claimed.task.id, { result: 'ok' });
      done.push(out.claimed.task.id);
    };
    for (let i = 0; i < warmup; i++) await step();
    const t0 = nowMs();
    for (let i = 0; i < tasks; i++) await step();
    const ms = (nowMs() - t0) / tasks;
    await session.stop();
    await cns.close();
    return {
      ms,
      check: checkExactlyOnce(ids, done, 'API: ids; database rows', await checkCnsDatabase(db, ids.length)),
    };
  } finally {
    await cns.close();
  }
}

async function viaMcp(
  env: BenchEnv,
  tasks: number,
  warmup: number,
): Promise<{ ms: number; check: ExactlyOnce }> {
  const db = join(env.tmp, `mcp-stdio-${++counter}.db`);
  const cns = await openCoordinator({ db, reaper: false });
  const ids = await enqueueCns(cns, tasks + warmup, 'mcp');
  await cns.close();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(env.root, 'dist', 'cli', 'main.js'), '--db', db, 'mcp', '--role', 'agent', '--type', 'mcp'],
    env: getDefaultEnvironment(),
    stderr: 'pipe',
    cwd: env.root,
  });
  const client = new Client({ name: 'cns-bench', version: '1.0.0' });
  await client.connect(transport);
  try {
    const done: number[] = [];
    const step = async () => {
      const next = await client.callTool({ name: 'task_next', arguments: { wait_seconds: 0 } });
      const task = (next.structuredContent as { task: { id: number } | null } | undefined)?.task;
      if (next.isError || !task)
        throw new Error(`mcp: task_next gave no task: ${JSON.stringify(next.content)}`);
      const res = await client.callTool({
        name: 'task_complete',
        arguments: { task_id: task.id, result: 'ok' },
      });
      if (res.isError) throw new Error(`mcp: task_complete failed: ${JSON.stringify(res.content)}`);
      done.push(task.id);
    };
    for (let i = 0; i < warmup; i++) await step();
    const t0 = nowMs();
    for (let i = 0; i < tasks; i++) await step();
    const ms = (nowMs() - t0) / tasks;
    await client.close();
    return {
      ms,
      check: checkExactlyOnce(ids, done, 'MCP: ids; database rows', await checkCnsDatabase(db, ids.length)),
    };
  } finally {
    await client.close().catch(() => undefined);
  }
}

export async function runMcp(
  env: BenchEnv,
  options: { runs: number; tasks: number; warmup: number },
): Promise<McpResult> {
  const result: McpResult = {
    tasks: options.tasks,
    warmup: options.warmup,
    api: [],
    mcp: [],
    checks: [],
    errors: [],
  };
  for (let r = 1; r <= options.runs; r++) {
    try {
      const a = await viaApi(env, options.tasks, options.warmup);
      const m = await viaMcp(env, options.tasks, options.warmup);
      result.api.push(a.ms);
      result.mcp.push(m.ms);
      result.checks.push(a.check, m.check);
      env.log(
        `mcp run ${r}/${options.runs}: API ${a.ms.toFixed(3)} ms/task, MCP ${m.ms.toFixed(3)} ms/task, overhead ${(m.ms - a.ms).toFixed(3)} ms; exactly-once ${a.check.ok && m.check.ok ? 'ok' : 'FAILED'}`,
      );
    } catch (err) {
      result.errors.push(String(err instanceof Error ? (err.stack ?? err.message) : err));
      env.log(`mcp run ${r}: ERROR ${String(err)}`);
    }
  }
  return result;
}
