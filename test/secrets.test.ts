/**
 * No command prints a database password. Every CLI command (found from `cns --help`, so a new one
 * is covered too) runs with a PostgreSQL URL whose password is a marker, first against a server
 * that cannot be reached (the error paths), then against the test server with a role whose password
 * is the marker (the normal output: `cns init`, `cns status`, the `cns mcp` start-up log, the
 * `cns serve` banner); stdout and stderr must never contain the marker.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cnsEntry, startMcp } from './support/mcp-harness.js';

const MARKER = `s3cret${randomBytes(8).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'cns-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CNS_')) e[k] = v;
  return { ...e, ...extra };
}

function cns(args: string[], extraEnv: Record<string, string> = {}, input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cnsEntry(), ...args], { cwd: dir, env: env(extraEnv) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(input);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function expectNoSecret(r: Run, what: string): void {
  expect(r.stdout, `${what}: stdout`).not.toContain(MARKER);
  expect(r.stderr, `${what}: stderr`).not.toContain(MARKER);
}

/** Every command of the CLI, as the words that name it (`["task", "add"]`), from the help texts. */
async function commands(prefix: string[] = []): Promise<{ words: string[]; usage: string }[]> {
  const help = await cns([...prefix, '--help']);
  const section = /\nCommands:\n([\s\S]*?)(\n\n|$)/.exec(help.stdout)?.[1] ?? '';
  const found: { words: string[]; usage: string }[] = [];
  for (const m of section.matchAll(/^ {2}(\S+)((?: \[options\])?(?: [<[][^\s>\]]+[>\]])*)/gm)) {
    const name = m[1]!;
    if (name === 'help') continue;
    const sub = await commands([...prefix, name]);
    if (sub.length > 0 && !/\[options\]|</.test(m[2] ?? '')) found.push(...sub);
    else found.push({ words: [...prefix, name], usage: m[2] ?? '' });
  }
  return found;
}

/** Arguments that get each command past its own checks to the database. */
const ARGS: Record<string, string[]> = {
  'task add': ['--type', 'x', '--title', 't'],
  'task list': [],
  'task claim': ['--agent', 'a', '--type', 'x'],
  'task complete': ['1', '--token', 't', '--result', 'r'],
  'task fail': ['1', '--token', 't', '--error', 'e'],
  'task release': ['1', '--token', 't'],
  'task progress': ['1', '--token', 't', '--note', 'n'],
  'task heartbeat': ['1', '--token', 't'],
  'task review': ['1', '--approve'],
  'task assign': ['1', '--agent', 'a'],
  'workflow add': ['plan.yaml'],
  'token create': ['--role', 'supervisor', '--name', 'n'],
  mcp: ['--role', 'agent', '--type', 'x'],
  serve: ['--port', '0'],
};

function argsFor(c: { words: string[]; usage: string }): string[] {
  return ARGS[c.words.join(' ')] ?? (c.usage.includes('<') ? ['1'] : []);
}

describe('no command prints a database password', () => {
  it('an unreachable server: every command, its error says where, never the password', async () => {
    writeFileSync(join(dir, 'plan.yaml'), 'name: w\ntasks:\n  - {ref: a, type: x, title: t}\n');
    const all = await commands();
    const names = all.map((c) => c.words.join(' '));
    // The list comes from the help texts; these must be among it (the parsing works).
    for (const known of [
      'init',
      'task add',
      'task claim',
      'workflow add',
      'status',
      'mcp',
      'serve',
      'token create',
    ])
      expect(names).toContain(known);
    const url = `postgres://cns:${MARKER}@127.0.0.1:1/cns`;
    for (const c of all) {
      const what = c.words.join(' ');
      const r = await cns(['--db', url, ...c.words, ...argsFor(c)]);
      expectNoSecret(r, what);
      expect(r.code, `${what}: ${r.stderr}`).not.toBe(0);
      // Each one got as far as the database (or refused its arguments before it).
      expect(r.stderr, what).toMatch(/cannot reach PostgreSQL at 127\.0\.0\.1:1|^cns: /);
    }
    // The same through CNS_DB, with stack traces on, and for URLs cns refuses.
    for (const [args, extra] of [
      [['status'], { CNS_DB: url }],
      [['task', 'list'], { CNS_DB: url, CNS_DEBUG: '1' }],
      [['mcp', '--role', 'supervisor'], { CNS_DB: url, CNS_DEBUG: '1' }],
      [
        ['--db', `postgress://cns:${MARKER}@127.0.0.1:1/cns`, 'task', 'add', '--type', 'x', '--title', 't'],
        {},
      ],
      [['--db', `mysql://cns:${MARKER}@127.0.0.1:1/cns`, 'status'], {}],
      [['--db', `postgres://127.0.0.1:1/cns?user=cns&password=${MARKER}`, 'status'], {}],
    ] as [string[], Record<string, string>][]) {
      const r = await cns(args, extra);
      expectNoSecret(r, args.join(' '));
      expect(r.code).not.toBe(0);
    }
  });

  describe('a reachable server, with a role whose password is the marker', () => {
    const role = `cns_secret_${randomBytes(4).toString('hex')}`;
    const schema = `cns_secret_${randomBytes(4).toString('hex')}`;
    let url = '';
    const admin = () => {
      const client = new pg.Client({ connectionString: inject('postgresUrl') });
      client.on('error', () => undefined);
      return client;
    };

    beforeAll(async () => {
      const client = admin();
      await client.connect();
      try {
        const database = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
        await client.query(`CREATE ROLE ${role} LOGIN PASSWORD '${MARKER}'`);
        await client.query(`GRANT CREATE ON DATABASE "${database}" TO ${role}`);
      } finally {
        await client.end();
      }
      const u = new URL(inject('postgresUrl'));
      u.username = role;
      u.password = MARKER;
      url = u.href;
    });

    afterAll(async () => {
      const client = admin();
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        const database = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
        await client.query(`REVOKE ALL ON DATABASE "${database}" FROM ${role}`);
        await client.query(`DROP ROLE IF EXISTS ${role}`);
      } finally {
        await client.end();
      }
    });

    it('init, migrate, task and workflow commands, status, explain, events, agents, tokens', async () => {
      const schemaEnv = { CNS_PG_SCHEMA: schema };
      const runs: [string[], Record<string, string>][] = [
        [['--db', url, 'init'], schemaEnv],
        [['--db', url, 'init', '--json'], schemaEnv],
        [['--db', url, 'migrate'], schemaEnv],
        [['--db', url, 'task', 'add', '--type', 'x', '--title', 't'], schemaEnv],
        [['--db', url, 'workflow', 'add', 'plan.yaml'], schemaEnv],
        [['--db', url, 'task', 'list'], schemaEnv],
        [['--db', url, 'status'], schemaEnv],
        [['--db', url, 'status', '--json'], schemaEnv],
        [['status'], { ...schemaEnv, CNS_DB: url }],
        [['--db', url, 'explain', '1'], schemaEnv],
        [['--db', url, 'events'], schemaEnv],
        [['--db', url, 'agents'], schemaEnv],
        [['--db', url, 'token', 'create', '--role', 'supervisor', '--name', 'sue'], schemaEnv],
        [['--db', url, 'token', 'list'], schemaEnv],
      ];
      let shown = '';
      for (const [args, extra] of runs) {
        const r = await cns(args, extra);
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
        expectNoSecret(r, args.join(' '));
        shown += r.stdout;
      }
      // Where the database is shown, it is shown masked.
      expect(shown).toContain(`postgres://${role}:***@`);
      expect(readFileSync(join(dir, '.mcp.json'), 'utf8')).not.toContain(MARKER);
    });

    it('the cns mcp start-up log (what Claude Code keeps in its MCP logs)', async () => {
      const mcp = await startMcp(url, ['--role', 'agent', '--type', 'x'], { env: { CNS_PG_SCHEMA: schema } });
      const tools = await mcp.client.listTools();
      expect(tools.tools.map((t) => t.name)).toContain('task_next');
      await mcp.close();
      await mcp.exited;
      expect(mcp.stderr()).toMatch(/registered/);
      expect(mcp.stderr()).toContain(`postgres://${role}:***@`);
      expect(mcp.stderr()).not.toContain(MARKER);
    });

    it('the cns serve banner and log', async () => {
      const child = spawn(process.execPath, [...cnsEntry(), '--db', url, 'serve', '--port', '0'], {
        cwd: dir,
        env: env({ CNS_PG_SCHEMA: schema }),
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const deadline = Date.now() + 30_000;
      while (!out.includes('Stop with Ctrl-C')) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`cns serve did not start: ${out}${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const base = /listening on (http:\/\/\S+)/.exec(out)![1]!;
      const res = await fetch(new URL('/api/status', base));
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain(MARKER);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toContain(`postgres://${role}:***@`);
      expect(out).not.toContain(MARKER);
      expect(err).not.toContain(MARKER);
    });
  });
});
