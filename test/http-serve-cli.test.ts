/**
 * `cns serve` and `cns token` as a person runs them: spawned processes on a temporary SQLite file.
 * The first start prints an admin token once; tokens made with the CLI work against the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cnsEntry, ROOT } from './support/mcp-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'cns-serve-'));
const db = join(dir, 'cns.db');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CNS_')) e[k] = v;
  return e;
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...cnsEntry(), '--db', db, ...args], { cwd: ROOT, env: env() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `cns serve --port 0` and resolves once it printed its URL (and the whole banner). */
async function serve(): Promise<{
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stop(): Promise<number | null>;
}> {
  const child = spawn(process.execPath, [...cnsEntry(), '--db', db, 'serve', '--port', '0'], {
    cwd: ROOT,
    env: env(),
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cns serve did not start: ${out}`)), 30_000);
    child.stdout!.on('data', () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m && out.includes('Stop with Ctrl-C')) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`cns serve exited (${code}): ${out}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    url,
    stdout: () => out,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

describe('cns serve and cns token', () => {
  it('first start prints an admin token once; CLI tokens work against the server; revoke takes effect', async () => {
    const first = await serve();
    const banner = first.stdout();
    const admin = /\n\s+(cns_[A-Za-z0-9_-]+)\n/.exec(banner)?.[1];
    expect(admin, banner).toBeTruthy();
    expect(banner).toContain('Dashboard: open');
    expect(banner).toContain('cns mcp --server');
    const who = await fetch(new URL('/api/whoami', first.url), {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(await who.json()).toMatchObject({ role: 'admin', name: 'admin' });

    const created = await run([
      'token',
      'create',
      '--role',
      'agent',
      '--type',
      'backend',
      '--name',
      'cli-agent',
      '--json',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const { token, secret } = JSON.parse(created.stdout) as { token: { id: number }; secret: string };
    const claim = await fetch(new URL('/api/agent/claim', first.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(claim.status).toBe(200);

    const list = await run(['token', 'list', '--json']);
    expect(list.stdout).not.toContain(secret);
    expect((JSON.parse(list.stdout) as { name: string }[]).map((t) => t.name)).toEqual([
      'admin',
      'cli-agent',
    ]);
    const table = await run(['token', 'list']);
    expect(table.stdout).toContain('cli-agent');

    expect((await run(['token', 'revoke', String(token.id)])).code).toBe(0);
    const refused = await fetch(new URL('/api/status', first.url), {
      headers: { authorization: `Bearer ${secret}` },
    });
    expect(refused.status).toBe(401);

    const bad = await run(['token', 'create', '--role', 'agent']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('type');

    expect(await first.stop()).toBe(0);

    // A second start creates no token.
    const second = await serve();
    expect(second.stdout()).not.toMatch(/cns_[A-Za-z0-9_-]{20,}/);
    expect(second.stdout()).toContain('cns token create --role supervisor');
    await second.stop();
  });
});
