/**
 * Black-box tests of the `cns` command line: each runs the real CLI as a child process against a
 * SQLite file in a temporary folder, and checks stdout (parsed with --json), stderr and exit codes.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST_MAIN = join(ROOT, 'dist', 'cli', 'main.js');

/** Newest modification time of the files under `dir`. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * How to run the CLI: the built bin when `dist/` is newer than `src/` (as after `npm test`, which
 * builds first: faster to start), else the TypeScript sources through tsx.
 */
const CLI: string[] =
  existsSync(DIST_MAIN) && statSync(DIST_MAIN).mtimeMs >= newestMtime(join(ROOT, 'src'))
    ? [DIST_MAIN]
    : [
        '--import',
        pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
        join(ROOT, 'src', 'cli', 'main.ts'),
      ];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  input?: string;
  /** Run as this user and group (the tests run as root on CI: "read-only" needs another user). */
  user?: { uid: number; gid: number };
}

/** The environment without any CNS_* variable of the machine running the tests. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CNS_')) env[k] = v;
  return { ...env, ...extra };
}

function start(args: string[], opts: RunOptions = {}) {
  const child = spawn(process.execPath, [...CLI, ...args], {
    cwd: opts.cwd ?? tmpdir(),
    env: cleanEnv(opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
    ...opts.user,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(opts.input ?? '');
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done, output: () => stdout };
}

function cns(args: string[], opts: RunOptions = {}): Promise<Run> {
  return start(args, opts).done;
}

const dirs: string[] = [];
function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cns-cli-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh database; returns a runner with `--db` set. */
function fresh(): { dir: string; db: string; run: (args: string[], opts?: RunOptions) => Promise<Run> } {
  const dir = tmp();
  const db = join(dir, 'cns.db');
  return { dir, db, run: (args, opts = {}) => cns(['--db', db, ...args], { cwd: dir, ...opts }) };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed CLI output, asserted field by field
async function json<T = any>(p: Promise<Run>): Promise<T> {
  const r = await p;
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** One line on stderr, `cns: …`, no stack trace. */
function expectOneLineError(r: Run, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^cns: /);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const CHAIN_YAML = `name: chain
tasks:
  - ref: a
    type: general
    title: First step
    spec: |
      Do the first thing.
  - ref: b
    type: general
    title: Second step
    depends_on: [a]
  - ref: c
    type: general
    title: Third step
    depends_on: [b]
`;

describe('cns --help', () => {
  const commands = [
    [],
    ['init'],
    ['task'],
    ['task', 'add'],
    ['task', 'list'],
    ['task', 'show'],
    ['task', 'cancel'],
    ['task', 'retry'],
    ['task', 'review'],
    ['task', 'assign'],
    ['task', 'claim'],
    ['task', 'complete'],
    ['task', 'fail'],
    ['task', 'release'],
    ['task', 'progress'],
    ['task', 'heartbeat'],
    ['workflow'],
    ['workflow', 'add'],
    ['workflow', 'list'],
    ['workflow', 'show'],
    ['workflow', 'cancel'],
    ['agents'],
    ['status'],
    ['events'],
    ['explain'],
  ];

  it('every command and subcommand explains itself', async () => {
    const runs = await Promise.all(commands.map((c) => cns([...c, '--help'])));
    runs.forEach((r, i) => {
      const path = ['cns', ...commands[i]!].join(' ');
      expect(r.code, `${path} --help: ${r.stderr}`).toBe(0);
      expect(r.stdout, path).toContain(`Usage: ${path}`);
      expect(r.stdout, path).toMatch(/--db <path\|url>/); // the global option is shown everywhere
    });
    const [top, , , add, , , , , , , claim] = runs;
    expect(top!.stdout).toContain('Exit codes:');
    expect(top!.stdout).toContain('CNS_DB');
    expect(add!.stdout).toContain('--idempotency-key');
    expect(claim!.stdout).toMatch(/Exit code 10/);
  });

  it('no arguments prints the help and exits 0; a group without a subcommand exits 2', async () => {
    const [bare, helpTask, task] = await Promise.all([cns([]), cns(['help', 'task']), cns(['task'])]);
    expect(bare.code).toBe(0);
    expect(bare.stdout).toContain('Usage: cns');
    expect(helpTask.code).toBe(0);
    expect(helpTask.stdout).toContain('Usage: cns task');
    expect(task.code).toBe(2);
    expect(task.stderr).toContain('Usage: cns task');
  });
});

describe('cns init', () => {
  it('creates .cns/, the database and .mcp.json; merges; is idempotent; updates .gitignore', async () => {
    const dir = tmp();
    writeFileSync(join(dir, '.gitignore'), 'node_modules');
    writeFileSync(
      join(dir, '.mcp.json'),
      JSON.stringify({ mcpServers: { other: { command: 'x' } }, keep: 1 }),
    );
    const r = await cns(['init'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Next steps');
    expect(existsSync(join(dir, '.cns', 'cns.db'))).toBe(true);
    const mcp = JSON.parse(readFileSync(join(dir, '.mcp.json'), 'utf8'));
    expect(mcp.keep).toBe(1);
    expect(mcp.mcpServers.other).toEqual({ command: 'x' });
    // The entries run this cns (absolute paths of its node and entry point), never `npx cns`.
    const supervisor = mcp.mcpServers['cns-supervisor'];
    expect(supervisor).toMatchObject({ type: 'stdio', command: process.execPath });
    expect(supervisor.args.slice(-3)).toEqual(['mcp', '--role', 'supervisor']);
    const main = supervisor.args.at(-4) as string;
    expect(main).toMatch(/[\\/]cli[\\/]main\.[jt]s$/);
    expect(isAbsolute(main) && existsSync(main)).toBe(true);
    expect(mcp.mcpServers['cns-agent'].args.slice(-5)).toEqual([
      'mcp',
      '--role',
      'agent',
      '--type',
      '${CNS_AGENT_TYPE:-general}',
    ]);
    expect(JSON.stringify(mcp)).not.toContain('npx');
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe('node_modules\n.cns/\n');

    const before = readFileSync(join(dir, '.mcp.json'), 'utf8');
    const again = await json(cns(['init', '--json'], { cwd: dir }));
    expect(again).toMatchObject({ dbCreated: false, gitignore: 'present' });
    expect(again.mcpJson.added).toEqual([]);
    expect(readFileSync(join(dir, '.mcp.json'), 'utf8')).toBe(before);
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe('node_modules\n.cns/\n');

    // The default database is found from the folder (and its subfolders) without --db.
    const st = await json(cns(['status', '--json'], { cwd: dir }));
    expect(st.backend).toBe('sqlite');
  });

  it('updates the entries an earlier cns init wrote (npx cns …), keeps hand-made ones; creates the --db folder', async () => {
    const dir = tmp();
    const own = { command: 'node', args: ['/opt/my-cns-wrapper.js'] };
    writeFileSync(
      join(dir, '.mcp.json'),
      JSON.stringify({
        mcpServers: {
          'cns-supervisor': { type: 'stdio', command: 'npx', args: ['cns', 'mcp', '--role', 'supervisor'] },
          'cns-agent': own,
        },
      }),
    );
    const r = await json(cns(['--db', join(dir, 'data', 'deep', 'team.db'), 'init', '--json'], { cwd: dir }));
    expect(r.mcpJson).toMatchObject({ added: [], updated: ['cns-supervisor'], kept: ['cns-agent'] });
    expect(existsSync(join(dir, 'data', 'deep', 'team.db'))).toBe(true);
    const mcp = JSON.parse(readFileSync(join(dir, '.mcp.json'), 'utf8'));
    expect(mcp.mcpServers['cns-supervisor'].command).toBe(process.execPath);
    expect(mcp.mcpServers['cns-agent']).toEqual(own);
  });

  it('refuses a malformed .mcp.json and leaves everything untouched', async () => {
    const dir = tmp();
    writeFileSync(join(dir, '.mcp.json'), '{ not json');
    const r = await cns(['init'], { cwd: dir });
    expectOneLineError(r, 2, /\.mcp\.json is not valid JSON/);
    expect(readFileSync(join(dir, '.mcp.json'), 'utf8')).toBe('{ not json');
    expect(existsSync(join(dir, '.cns'))).toBe(false);
  });

  it('without init, a command says to run cns init (exit 6)', async () => {
    const r = await cns(['status'], { cwd: tmp() });
    expectOneLineError(r, 6, /cns init/);
  });
});

describe('cns status', () => {
  it('on an empty database prints how to add a task and start agents', async () => {
    const { run } = fresh();
    const r = await run(['status']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('cns task add');
    expect(r.stdout).toContain('cns task claim');
    expect(r.stdout).toContain('CNS_AGENT_TYPE');
    const s = await json(run(['status', '--json']));
    expect(s.agents).toEqual([]);
    expect(Object.values(s.counts).every((n) => n === 0)).toBe(true);
  });

  it('shows the fleet, counts by status and stuck tasks with the reason', async () => {
    const { run } = fresh();
    await run(['task', 'add', '--type', 'nobody', '--title', 'Orphan']);
    await run(['task', 'claim', '--agent', 'w1', '--type', 'general']); // registers w1 (nothing to claim)
    const r = await run(['status']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Agents: 1 live/);
    expect(r.stdout).toMatch(/1 pending/);
    expect(r.stdout).toMatch(/#1 pending: no live agent of type "nobody"/);
    const s = await json(run(['status', '--json']));
    expect(s.counts.pending).toBe(1);
    expect(s.stuck[0].taskId).toBe(1);
    expect(s.agents[0].name).toBe('w1');
  });
});

describe('a shell acting as the agents of a workflow (black box)', () => {
  it('workflow add of a 3-task chain, claim/complete in order, all completed', async () => {
    const { dir, run } = fresh();
    writeFileSync(join(dir, 'chain.yaml'), CHAIN_YAML);
    const added = await json(run(['workflow', 'add', 'chain.yaml', '--json']));
    expect(added.workflow.name).toBe('chain');
    expect(Object.keys(added.ids)).toEqual(['a', 'b', 'c']);

    const text = await run(['workflow', 'show', String(added.workflow.id)]);
    expect(text.stdout).toMatch(/a\s+pending/);
    expect(text.stdout).toMatch(/b\s+blocked/);

    let previous: string | null = null;
    for (const ref of ['a', 'b', 'c']) {
      const claim = await json(run(['task', 'claim', '--agent', 'sh-1', '--type', 'general', '--json']));
      expect(claim.task.id).toBe(added.ids[ref]);
      expect(claim.leaseToken).toMatch(/^[0-9a-f]{32}$/);
      if (previous !== null) expect(claim.dependencies[0].result).toBe(previous);
      previous = `result of ${ref}`;
      const done = await json(
        run([
          'task',
          'complete',
          String(claim.task.id),
          '--token',
          claim.leaseToken,
          '--result',
          previous,
          '--json',
        ]),
      );
      expect(done.status).toBe('completed');
    }
    const list = await json(run(['task', 'list', '--json']));
    expect(list.items.map((t: { status: string }) => t.status)).toEqual([
      'completed',
      'completed',
      'completed',
    ]);
    const wfs = await json(run(['workflow', 'list', '--json']));
    expect(wfs.items[0].status).toBe('completed');
    const shown = await json(run(['workflow', 'show', String(added.workflow.id), '--json']));
    expect(shown.tasks.map((t: { ref: string }) => t.ref)).toEqual(['a', 'b', 'c']);
  });

  it('refuses bad workflow files with a message naming the problem, and writes nothing', async () => {
    const { dir, run } = fresh();
    const cases: [string, string, RegExp][] = [
      [
        'cycle.yaml',
        'name: w\ntasks:\n  - {ref: a, type: g, title: A, depends_on: [b]}\n  - {ref: b, type: g, title: B, depends_on: [a]}\n',
        /cycle.*"a".*"b"/,
      ],
      [
        'unknown-ref.yaml',
        'name: w\ntasks:\n  - {ref: a, type: g, title: A, depends_on: [zz]}\n',
        /task "a".*"zz"/,
      ],
      ['no-type.json', '{"name":"w","tasks":[{"ref":"a","title":"A"}]}', /task "a".*type is required/],
      [
        'unknown-key.yaml',
        'name: w\ntasks:\n  - {ref: a, type: g, title: A, dependsOn: [b]}\n',
        /task "a".*unknown key "dependsOn".*depends_on/,
      ],
      ['bad.yaml', 'name: [\n', /not valid YAML/],
      ['no-tasks.yaml', 'name: w\n', /"tasks" must be a non-empty list/],
    ];
    for (const [file, content, pattern] of cases) {
      writeFileSync(join(dir, file), content);
      const r = await run(['workflow', 'add', file]);
      expectOneLineError(r, 2, pattern);
      expect(r.stderr).toContain(file);
    }
    expect((await json(run(['workflow', 'list', '--json']))).items).toEqual([]);
    expect((await json(run(['task', 'list', '--json']))).items).toEqual([]);
  });

  it('reads a workflow from stdin and maps snake_case keys', async () => {
    const { run } = fresh();
    const yaml = `name: s\nreview: true\ntasks:\n  - ref: x\n    type: backend\n    title: X\n    requires: [node, pg]\n    priority: 7\n    max_attempts: 2\n    input: {k: 1}\n    idempotency_key: key-x\n`;
    const res = await json(run(['workflow', 'add', '-', '--json'], { input: yaml }));
    expect(res.tasks[0]).toMatchObject({
      ref: 'x',
      type: 'backend',
      requires: ['node', 'pg'],
      priority: 7,
      maxAttempts: 2,
      input: { k: 1 },
      idempotencyKey: 'key-x',
      review: true,
    });
    const cancelled = await json(run(['workflow', 'cancel', String(res.workflow.id), '--json']));
    expect(cancelled.map((t: { status: string }) => t.status)).toEqual(['cancelled']);
  });
});

describe('cns task', () => {
  it('add (with options, idempotency key), list (filters, pages), show, explain', async () => {
    const { run } = fresh();
    const r1 = await run([
      'task',
      'add',
      '--type',
      'backend',
      '--title',
      'One',
      '--spec',
      'Do it',
      '--priority',
      '5',
    ]);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout.trim()).toBe('1');
    const r2 = await json(
      run([
        'task',
        'add',
        '--type',
        'backend',
        '--title',
        'Two',
        '--requires',
        'node,pg',
        '--input',
        '{"n":2}',
        '--depends-on',
        '1',
        '--max-attempts',
        '5',
        '--review',
        '--idempotency-key',
        'two',
        '--run-after',
        '+1h',
        '--json',
      ]),
    );
    expect(r2.created).toBe(true);
    expect(r2.task).toMatchObject({
      id: 2,
      requires: ['node', 'pg'],
      input: { n: 2 },
      dependsOn: [1],
      maxAttempts: 5,
      review: true,
      status: 'blocked',
    });
    expect(r2.task.runAfter).toBeGreaterThan(Date.now() + 50 * 60_000);
    const again = await run([
      'task',
      'add',
      '--type',
      'backend',
      '--title',
      'Two',
      '--idempotency-key',
      'two',
    ]);
    expect(again.stdout.trim()).toBe('2');
    expect(again.stderr).toMatch(/existing/);

    const blocked = await json(run(['task', 'list', '--status', 'blocked', '--json']));
    expect(blocked.items.map((t: { id: number }) => t.id)).toEqual([2]);
    const page = await json(run(['task', 'list', '--limit', '1', '--json']));
    expect(page.items).toHaveLength(1);
    expect(page.nextCursor).toBe(1);
    const next = await json(run(['task', 'list', '--limit', '1', '--after', '1', '--json']));
    expect(next.items[0].id).toBe(2);
    const search = await json(run(['task', 'list', '--search', 'two', '--type', 'backend', '--json']));
    expect(search.items.map((t: { id: number }) => t.id)).toEqual([2]);
    const table = await run(['task', 'list', '--limit', '1']);
    expect(table.stdout).toMatch(/ID\s+STATUS\s+TYPE\s+PRI\s+TITLE/);
    expect(table.stdout).toContain('--after 1');

    const detail = await json(run(['task', 'show', '2', '--json']));
    expect(detail.task.id).toBe(2);
    expect(detail.dependencies[0]).toMatchObject({ taskId: 1, status: 'pending' });
    expect(detail.explanation.reasons[0].code).toBe('blocked_by');
    expect(detail.events[0].kind).toBe('task.created');
    const shown = await run(['task', 'show', '#2']);
    expect(shown.stdout).toContain('Task 2: Two');
    expect(shown.stdout).toContain('Why it is not moving');
    expect(shown.stdout).toMatch(/blocked by #1 "One"/);

    const ex = await json(run(['explain', '1', '--json']));
    expect(ex).toMatchObject({ taskId: 1, status: 'pending' });
    expect(ex.reasons[0].code).toBe('no_live_agent');
    const exText = await run(['explain', '1']);
    expect(exText.stdout).toMatch(/no live agent of type "backend"/);
  });

  it('claim prints the task and token; nothing claimable exits 10 with the reason', async () => {
    const { run } = fresh();
    const none = await run(['task', 'claim', '--agent', 'a1', '--type', 'general']);
    expect(none.code).toBe(10);
    expect(none.stderr).toMatch(/no task: no pending task of type "general"/);
    const noneJson = await run(['task', 'claim', '--agent', 'a1', '--type', 'general', '--json']);
    expect(noneJson.code).toBe(10);
    expect(JSON.parse(noneJson.stdout)).toMatchObject({ claimed: null });

    await run(['task', 'add', '--type', 'general', '--title', 'Needs pg', '--requires', 'pg']);
    const lacking = await run(['task', 'claim', '--agent', 'a1', '--type', 'general']);
    expect(lacking.code).toBe(10);
    expect(lacking.stderr).toMatch(/capabilities this agent lacks: pg/);

    const claimed = await run(['task', 'claim', '--agent', 'a1', '--type', 'general', '--capability', 'pg']);
    expect(claimed.code, claimed.stderr).toBe(0);
    expect(claimed.stdout).toMatch(/claimed task 1: Needs pg/);
    expect(claimed.stdout).toMatch(/token: +[0-9a-f]{32}/);
    // The CLI exits right after, but the agent keeps its claim (it is not deregistered).
    const agents = await json(run(['agents', '--json']));
    expect(agents[0]).toMatchObject({ name: 'a1', capabilities: ['pg'], heldTasks: [1] });
    expect((await run(['agents'])).stdout).toMatch(/a1\s+general\s+pg\s+working/);
  });

  it('claim --wait returns as soon as a task is added', async () => {
    const { run } = fresh();
    const waiting = run(['task', 'claim', '--agent', 'w', '--type', 'general', '--wait', '20', '--json']);
    await new Promise((r) => setTimeout(r, 1_500));
    await run(['task', 'add', '--type', 'general', '--title', 'Late']);
    const claim = await json(waiting);
    expect(claim.task.title).toBe('Late');
  });

  it('progress, heartbeat, fail (retry and --no-retry), release, and the handoff', async () => {
    const { run } = fresh();
    await run(['task', 'add', '--type', 'g', '--title', 'T', '--max-attempts', '3']);
    let c = await json(
      run(['task', 'claim', '--agent', 'a', '--type', 'g', '--json', '--lease-ms', '60000']),
    );
    expect(c.leaseExpiresAt - Date.now()).toBeGreaterThan(50_000);
    const p = await json(
      run([
        'task',
        'progress',
        '1',
        '--token',
        c.leaseToken,
        '--note',
        'half',
        '--percent',
        '50',
        '--checkpoint',
        '{"step":2}',
        '--json',
      ]),
    );
    expect(p.progress).toMatchObject({ note: 'half', percent: 50, checkpoint: { step: 2 } });
    const hb = await run(['task', 'heartbeat', '1', '--token', c.leaseToken]);
    expect(hb.code, hb.stderr).toBe(0);
    expect(hb.stdout).toMatch(/renewed until/);
    const rel = await json(
      run(['task', 'release', '1', '--token', c.leaseToken, '--reason', 'lunch', '--json']),
    );
    expect(rel.status).toBe('pending');

    c = await json(run(['task', 'claim', '--agent', 'b', '--type', 'g', '--json']));
    expect(c.handoff[0]).toMatchObject({ agentName: 'a', outcome: 'released', note: 'half' });
    const failed = await json(
      run(['task', 'fail', '1', '--token', c.leaseToken, '--error', 'boom', '--json']),
    );
    expect(failed.status).toBe('pending'); // retried (with backoff)

    await run(['task', 'add', '--type', 'h', '--title', 'Once']);
    const c2 = await json(run(['task', 'claim', '--agent', 'h1', '--type', 'h', '--json']));
    const final = await json(
      run(['task', 'fail', '2', '--token', c2.leaseToken, '--error', 'fatal', '--no-retry', '--json']),
    );
    expect(final.status).toBe('failed');
    const retried = await json(run(['task', 'retry', '2', '--json']));
    expect(retried.status).toBe('pending');

    // A stale token: exit 5, nothing changed.
    const stale = await run(['task', 'complete', '2', '--token', c2.leaseToken, '--result', 'late']);
    expectOneLineError(stale, 5, /lease lost on task 2/);
    expect((await json(run(['task', 'show', '2', '--json']))).task.status).toBe('pending');
  });

  it('review: author cannot approve, changes need feedback, feedback is handed off, approve completes', async () => {
    const { dir, run } = fresh();
    await run(['task', 'add', '--type', 'g', '--title', 'Reviewed', '--review']);
    let c = await json(run(['task', 'claim', '--agent', 'author', '--type', 'g', '--json']));
    writeFileSync(join(dir, 'result.md'), 'v1 result');
    const sub = await json(
      run([
        'task',
        'complete',
        '1',
        '--token',
        c.leaseToken,
        '--result-file',
        'result.md',
        '--data',
        '{"v":1}',
        '--json',
      ]),
    );
    expect(sub).toMatchObject({ status: 'awaiting_review', result: 'v1 result', resultData: { v: 1 } });

    expectOneLineError(
      await run(['task', 'review', '1', '--approve', '--reviewer', 'author']),
      4,
      /cannot review/,
    );
    // --as names who acts, --reviewer is the same for a review: the agent of that name either way.
    expectOneLineError(await run(['task', 'review', '1', '--approve', '--as', 'author']), 4, /cannot review/);
    expectOneLineError(
      await run(['task', 'review', '1', '--approve', '--as', 'author', '--reviewer', 'boss']),
      2,
      /give one of them/,
    );
    expectOneLineError(await run(['task', 'review', '1', '--request-changes']), 2, /feedback/);
    expectOneLineError(await run(['task', 'review', '1']), 2, /--approve or --request-changes/);
    const changed = await json(
      run(['task', 'review', '1', '--request-changes', '--feedback', 'add tests', '--json']),
    );
    expect(changed).toMatchObject({ status: 'pending', reviewRounds: 1 });

    c = await json(run(['task', 'claim', '--agent', 'author', '--type', 'g', '--json']));
    expect(c.handoff.some((a: { feedback: string | null }) => a.feedback === 'add tests')).toBe(true);
    await run(['task', 'complete', '1', '--token', c.leaseToken, '--result', 'v2']);
    const ok = await run(['task', 'review', '1', '--approve']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/approved: completed/);
  });

  it('assign reserves a task for an agent; cancel cascades to dependents', async () => {
    const { run } = fresh();
    await run(['task', 'add', '--type', 'g', '--title', 'Base']);
    await run(['task', 'add', '--type', 'g', '--title', 'Dependent', '--depends-on', '1']);
    await run(['task', 'add', '--type', 'g', '--title', 'Other']);
    await run(['task', 'claim', '--agent', 'bob', '--type', 'x']); // register bob (exit 10)
    expectOneLineError(await run(['task', 'assign', '3', '--agent', 'nobody']), 3, /agent nobody not found/);
    const assigned = await json(run(['task', 'assign', '3', '--agent', 'bob', '--json']));
    expect(assigned.status).toBe('assigned');
    const list = await json(run(['task', 'list', '--agent', 'bob', '--json']));
    expect(list.items.map((t: { id: number }) => t.id)).toEqual([3]);

    const cancelled = await json(run(['task', 'cancel', '1', '--reason', 'not needed', '--json']));
    expect(cancelled.map((t: { id: number }) => t.id).sort()).toEqual([1, 2]);
    expectOneLineError(await run(['task', 'cancel', '1']), 4, /.+/);
    const text = await run(['task', 'cancel', '3', '--as', 'alice']);
    expect(text.stdout).toMatch(/cancelled task 3/);
    // Who acts is recorded: --as, else "cli".
    const events = (await run(['events', '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; taskId: number; actor: string });
    const cancels = events.filter((e) => e.kind === 'task.cancelled');
    expect(cancels.map((e) => [e.taskId, e.actor])).toEqual([
      [1, 'cli'],
      [2, 'cli'],
      [3, 'alice'],
    ]);
  });
});

describe('cns events', () => {
  it('lists events (NDJSON with --json), filters by task, follows until SIGINT', async () => {
    const { db, dir, run } = fresh();
    await run(['task', 'add', '--type', 'g', '--title', 'A']);
    await run(['task', 'add', '--type', 'g', '--title', 'B']);
    const all = await run(['events', '--json']);
    const events = all.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.kind)).toEqual(['task.created', 'task.created']);
    const one = await run(['events', '--task', '2', '--json']);
    expect(
      one.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).taskId),
    ).toEqual([2]);
    const after = await run(['events', '--after', String(events[0].id), '--json']);
    expect(after.stdout.trim().split('\n')).toHaveLength(1);
    const text = await run(['events', '--limit', '1']);
    expect(text.stdout).toMatch(/task\.created task 2 .*by cli/);

    const follow = start(['--db', db, 'events', '--follow', '--json', '--limit', '1'], { cwd: dir });
    await waitFor(() => follow.output().includes('"taskId":2'));
    await run(['task', 'add', '--type', 'g', '--title', 'C']);
    await waitFor(() => follow.output().includes('"taskId":3'));
    follow.child.kill('SIGINT');
    const r = await follow.done;
    expect(r.code).toBe(0);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).taskId),
    ).toEqual([2, 3]);
  });
});

describe('errors', () => {
  it('bad input, unknown commands and missing things: one line, the right exit code', async () => {
    const { run } = fresh();
    expectOneLineError(await run(['nope']), 2, /unknown command 'nope'/);
    expectOneLineError(await run(['task', 'list', '--bogus']), 2, /unknown option '--bogus'/);
    expectOneLineError(await run(['task', 'show', 'abc']), 2, /task id must be a number like 42/);
    expectOneLineError(await run(['explain', 'x']), 2, /task id must be a number like 42/);
    expectOneLineError(await run(['task', 'show', '999']), 3, /task 999 not found/);
    expectOneLineError(await run(['workflow', 'show', '9']), 3, /workflow 9 not found/);
    expectOneLineError(await run(['task', 'add', '--type', 'x']), 2, /--title/);
    expectOneLineError(
      await run(['task', 'add', '--type', 'x', '--title', 't', '--priority', 'high']),
      2,
      /--priority must be an integer/,
    );
    expectOneLineError(
      await run(['task', 'add', '--type', 'x', '--title', 't', '--input', '{bad']),
      2,
      /--input must be valid JSON/,
    );
    expectOneLineError(
      await run(['task', 'add', '--type', 'x', '--title', 't', '--run-after', 'soon']),
      2,
      /--run-after/,
    );
    expectOneLineError(await run(['task', 'list', '--status', 'done']), 2, /unknown status "done"/);
    expectOneLineError(await run(['task', 'complete', '1', '--token', 't']), 2, /--result/);
    expectOneLineError(
      await run(['workflow', 'add', 'missing.yaml']),
      2,
      /cannot read workflow file missing\.yaml/,
    );
  });

  it('strips terminal control sequences from what agents wrote; JSON keeps it escaped', async () => {
    const { run } = fresh();
    const evil = 'evil \u001b[31mred\u001b[0m \u001b]0;pwned\u0007 title\r';
    await run(['task', 'add', '--type', 'g', '--title', evil, '--spec', 'spec \u001b[2J cleared']);
    for (const args of [['task', 'list'], ['task', 'show', '1'], ['events'], ['status']]) {
      const r = await run(args);
      expect(r.code, r.stderr).toBe(0);
      for (const c of ['\u001b', '\u0007', '\r']) expect(r.stdout.includes(c), args.join(' ')).toBe(false);
    }
    expect((await run(['task', 'list'])).stdout).toContain('evil red title');
    const j = await json(run(['task', 'show', '1', '--json']));
    expect(j.task.title).toBe(evil.trim());
  });

  it('--db with an unknown URL scheme is an error, and creates nothing (a typo never becomes a folder)', async () => {
    const dir = tmp();
    const typo = await cns(
      ['--db', 'postgress://u:pw-in-url@host/db', 'task', 'add', '--type', 'x', '--title', 't'],
      {
        cwd: dir,
      },
    );
    expectOneLineError(typo, 2, /unknown URL scheme "postgress:".*Did you mean postgres:\/\//);
    expect(typo.stderr).not.toContain('pw-in-url');
    const mysql = await cns(['--db', 'mysql://u:pw-in-url@x/y', 'status'], { cwd: dir });
    expectOneLineError(mysql, 2, /unknown URL scheme "mysql:".*SQLite file path.*postgres:\/\//);
    expect(mysql.stderr).not.toContain('pw-in-url');
    const env = await cns(['task', 'list'], { cwd: dir, env: { CNS_DB: 'mysql://u:pw-in-url@x/y' } });
    expectOneLineError(env, 2, /unknown URL scheme/);
    expectOneLineError(await cns(['--db', 'mysql://x/y', 'init'], { cwd: dir }), 2, /unknown URL scheme/);
    expectOneLineError(await cns(['--db', 'mysql://x/y', 'migrate'], { cwd: dir }), 2, /unknown URL scheme/);
    expect(readdirSync(dir)).toEqual([]);
    // sqlite:PATH still names a file.
    const file = await cns(
      ['--db', `sqlite:${join(dir, 'a.db')}`, 'task', 'add', '--type', 'x', '--title', 't'],
      {
        cwd: dir,
      },
    );
    expect(file.code, file.stderr).toBe(0);
    expect(existsSync(join(dir, 'a.db'))).toBe(true);
  });

  it('--db in a folder that does not exist is an error that suggests cns init (exit 6); cns init creates it', async () => {
    const dir = tmp();
    for (const args of [
      ['task', 'add', '--type', 'x', '--title', 't'],
      ['status'],
      ['migrate'],
      ['mcp', '--role', 'supervisor'],
      ['serve', '--port', '0'],
    ]) {
      const r = await cns(['--db', join('nope', 'sub', 'x.db'), ...args], { cwd: dir });
      expectOneLineError(
        r,
        6,
        /no folder .*nope[\\/]sub for the database .*cns --db nope[\\/]sub[\\/]x\.db init/,
      );
    }
    const viaEnv = await cns(['status'], { cwd: dir, env: { CNS_DB: join(dir, 'nope', 'x.db') } });
    expectOneLineError(viaEnv, 6, /no folder .*cns --db .*nope[\\/]x\.db init/);
    expect(readdirSync(dir)).toEqual([]);
    // Without --db, a missing .cns/cns.db refuses migrate too (it used to create one anywhere).
    expectOneLineError(await cns(['migrate'], { cwd: dir }), 6, /run "cns init"/);
    expect(readdirSync(dir)).toEqual([]);
    // In an existing folder, an explicit path is created on first use.
    const made = await cns(['--db', 'new.db', 'task', 'add', '--type', 'x', '--title', 't'], { cwd: dir });
    expect(made.code, made.stderr).toBe(0);
    const init = await cns(['--db', join('nope', 'sub', 'x.db'), 'init'], { cwd: dir });
    expect(init.code, init.stderr).toBe(0);
    expect(existsSync(join(dir, 'nope', 'sub', 'x.db'))).toBe(true);
  });

  it('a read-only database file: reads work, a write names the read-only file (exit 6)', async () => {
    const dir = tmp();
    const db = join(dir, 'ro.db');
    expect(
      (await cns(['--db', db, 'task', 'add', '--type', 'x', '--title', 'kept'], { cwd: dir })).code,
    ).toBe(0);
    // Root may write any file: run as nobody then, with the file (and, first, its folder) not writable.
    const user = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
    if (user && !readableBy(user, DIST_MAIN)) return; // the checkout is not readable by nobody here
    chmodSync(db, 0o444);
    chmodSync(dir, 0o555);
    // SQLite must create ro.db-shm beside the file even to read (WAL mode): the folder is named.
    const noFolder = await cns(['--db', db, 'status'], { cwd: dir, user });
    expectOneLineError(noFolder, 6, /ro\.db cannot be used: its folder .* is not writable for this user/);
    chmodSync(dir, 0o777);
    for (const args of [['status'], ['task', 'list'], ['explain', '1'], ['events'], ['migrate']]) {
      const r = await cns(['--db', db, ...args], { cwd: dir, user });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stderr, args.join(' ')).toBe('');
    }
    expect((await cns(['--db', db, 'task', 'list'], { cwd: dir, user })).stdout).toContain('kept');
    const write = await cns(['--db', db, 'task', 'add', '--type', 'x', '--title', 'refused'], {
      cwd: dir,
      user,
    });
    expectOneLineError(
      write,
      6,
      /the SQLite database .*ro\.db is read-only for this user: it can be read, not changed/,
    );
  });

  it('PostgreSQL: an unknown role, a wrong password and an unknown database are each named (exit 6)', async () => {
    const url = new URL(inject('postgresUrl'));
    const withUrl = (change: (u: URL) => void) => {
      const u = new URL(url.href);
      change(u);
      return u.href;
    };
    const dir = tmp();
    const role = await cns(['--db', withUrl((u) => (u.username = 'no_such_role_x')), 'status'], { cwd: dir });
    // With password authentication PostgreSQL does not say whether the role exists; with trust it does.
    expectOneLineError(
      role,
      6,
      /PostgreSQL at .* (has no role "no_such_role_x"|refused the login of role "no_such_role_x" .*: the role does not exist or its password is wrong)/,
    );
    expect(role.stderr).not.toMatch(/cannot reach/);
    const database = await cns(['--db', withUrl((u) => (u.pathname = '/no_such_db_x')), 'status'], {
      cwd: dir,
    });
    expectOneLineError(database, 6, /PostgreSQL at .* has no database "no_such_db_x"/);
    const password = await cns(['--db', withUrl((u) => (u.password = 'wrong-password-x')), 'status'], {
      cwd: dir,
    });
    // A server that trusts local connections accepts any password: then there is nothing to refuse.
    if (password.code !== 0) {
      expectOneLineError(
        password,
        6,
        new RegExp(`refused the login of role "${url.username}" .*its password is wrong`),
      );
      expect(password.stderr).not.toContain('wrong-password-x');
    }
    const down = await cns(['--db', withUrl((u) => (u.port = '1')), 'status'], { cwd: dir });
    expectOneLineError(down, 6, /cannot reach PostgreSQL at 127\.0\.0\.1:1/);
  });

  it('explain offers only what the status allows: no retry for a completed task', async () => {
    const { run } = fresh();
    await run(['task', 'add', '--type', 'x', '--title', 'done']);
    await run(['task', 'add', '--type', 'x', '--title', 'dropped']);
    const claim = await json(run(['task', 'claim', '--agent', 'a', '--type', 'x', '--json']));
    expect((await run(['task', 'complete', '1', '--token', claim.leaseToken, '--result', 'ok'])).code).toBe(
      0,
    );
    expect((await run(['task', 'cancel', '2'])).code).toBe(0);
    const completed = await json(run(['explain', '1', '--json']));
    expect(completed.summary).toBe('task 1 is completed: it is completed: final');
    expect((await run(['explain', '1'])).stdout).not.toMatch(/retry/);
    expect((await run(['explain', '2'])).stdout).toMatch(/cancelled: final \(retry it to run it again\)/);
  });

  it('CNS_DB selects the database', async () => {
    const dir = tmp();
    const db = join(dir, 'env.db');
    const r = await cns(['task', 'add', '--type', 'g', '--title', 'via env'], {
      cwd: dir,
      env: { CNS_DB: db },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(db)).toBe(true);
    const list = await json(cns(['task', 'list', '--json'], { cwd: dir, env: { CNS_DB: db } }));
    expect(list.items[0].title).toBe('via env');
  });
});

/** Whether that user can read the file (and so run the CLI from this checkout). */
function readableBy(user: { uid: number; gid: number }, file: string): boolean {
  const probe = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(file)}, 4)`], {
    ...user,
    cwd: tmpdir(),
  });
  return probe.status === 0;
}

async function waitFor(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
