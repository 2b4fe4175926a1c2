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

function run(
  args: string[],
  withDb = true,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...cnsEntry(), ...(withDb ? ['--db', db] : []), ...args], {
      cwd: ROOT,
      env: env(),
    });
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
    // Client commands in the form Claude Code accepts: the server's name before -e and -H.
    expect(banner).toMatch(
      /claude mcp add cns-agent -e CNS_DB=\S+ -- \S+ \S+ mcp --role agent --type <type>/,
    );
    expect(banner).toMatch(/claude mcp add cns-agent -e CNS_TOKEN=<secret> -- cns mcp --server http:\/\//);
    expect(banner).toMatch(
      /claude mcp add -t http cns http:\/\/\S+\/mcp -H "Authorization: Bearer <secret>"/,
    );
    expect(banner).not.toContain('npx');
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

    // Without a token: a bearer challenge and a body that says how to make a token (not OAuth).
    const anonymous = await fetch(new URL('/api/status', first.url));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="cns", error_description="[^"]+"$/,
    );
    const body = (await anonymous.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('unauthorized');
    expect(body.error.message).toMatch(/cns token create --role agent --type <type> --name <name>/);
    expect(body.error.message).toMatch(/as a bearer token \(the Authorization header\)/);
    const mcpNone = await fetch(new URL('/mcp', first.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }),
    });
    expect(mcpNone.status).toBe(401);
    expect(mcpNone.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="cns", error_description="[^"]*cns token create/,
    );
    expect(((await mcpNone.json()) as { error: { message: string } }).error.message).toMatch(
      /cns token create/,
    );
    const revoked = await fetch(new URL('/mcp', first.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="cns", error="invalid_token", error_description="/,
    );
    // OAuth discovery and the endpoints clients fall back to: 404 with JSON, for any method (never 405).
    for (const [method, path] of [
      ['GET', '/.well-known/oauth-protected-resource'],
      ['GET', '/.well-known/oauth-protected-resource/mcp'],
      ['GET', '/.well-known/oauth-authorization-server'],
      ['GET', '/.well-known/openid-configuration'],
      ['POST', '/register'],
      ['GET', '/authorize'],
      ['POST', '/token'],
    ]) {
      const res = await fetch(new URL(path!, first.url), { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      // In OAuth's error format, which OAuth clients parse and show.
      const err = (await res.json()) as { error: string; error_description: string };
      expect(err.error).toBe('invalid_request');
      expect(err.error_description).toMatch(/does not use OAuth.*cns token create/);
    }

    const bad = await run(['token', 'create', '--role', 'agent']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('type');

    expect(await first.stop()).toBe(0);

    // A second start creates no token.
    const second = await serve();
    expect(second.stdout()).not.toMatch(/cns_[A-Za-z0-9_-]{20,}/);
    expect(second.stdout()).toContain('cns token create --role supervisor');

    // A taken port: one line that names it and says how to choose another; the first token of a
    // new database is not used up by the failed start.
    const port = new URL(second.url).port;
    const other = join(dir, 'other.db');
    const taken = await run(['--db', other, 'serve', '--port', port], false);
    expect(taken.code, taken.stderr).toBe(2);
    expect(taken.stderr.trim().split('\n')).toHaveLength(1);
    expect(taken.stderr).toMatch(
      new RegExp(`^cns: port ${port} is already in use on 127\\.0\\.0\\.1 .*--port`),
    );
    expect(taken.stderr).not.toContain('EADDRINUSE:');
    const tokens = await run(['--db', other, 'token', 'list', '--json'], false);
    expect(JSON.parse(tokens.stdout)).toEqual([]);
    await second.stop();
  });

  it('npm start, then kill of the npm process: cns serve stops cleanly and frees its port', async () => {
    const npm = spawn('npm', ['start', '--', '--port', '0'], {
      cwd: ROOT,
      env: { ...env(), CNS_DB: db },
    });
    let out = '';
    npm.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    npm.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!out.includes('Stop with Ctrl-C')) {
      if (Date.now() > deadline || npm.exitCode !== null) throw new Error(`npm start did not serve: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const url = /listening on (http:\/\/\S+)/.exec(out)![1]!;
    expect((await fetch(new URL('/api/status', url))).status).toBe(401);
    npm.kill('SIGTERM'); // the npm process, as `kill <pid>` does
    await exited;
    // The server got the signal (npm passes it on to the node it started with exec) and stopped.
    const stopBy = Date.now() + 10_000;
    for (;;) {
      const up = await fetch(new URL('/api/status', url)).then(
        () => true,
        () => false,
      );
      if (!up) break;
      if (Date.now() > stopBy) throw new Error(`cns serve still answers after npm was killed: ${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(out).toContain('cns serve: stopping (SIGTERM)');
  });
});
