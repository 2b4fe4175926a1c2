/**
 * `cns worker --exec`: end to end, with real processes. Each test runs the real CLI as a child
 * process (`cns --db <file> worker …`) against a SQLite file in a temporary folder (one test on
 * PostgreSQL), with real shell commands, and reads the outcome back with `cns task show --json`.
 * Nothing here asserts on timing: overlap is proven by a barrier the commands wait on, a kill by
 * the process being gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { ClaimedTask } from '../src/core/types.js';
import { claimedView } from '../src/mcp/views.js';
import { BoundedText, storable } from '../src/worker/run-command.js';
import { taskBrief } from '../src/worker/task-brief.js';
import { nestingRefusal, workerDepth } from '../src/worker/recursion-guard.js';
import { freshPostgresSchema } from './support/postgres.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST_MAIN = join(ROOT, 'dist', 'cli', 'main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** The built CLI when it is newer than the sources (after `npm run build`), else the sources through tsx. */
const CLI: string[] =
  existsSync(DIST_MAIN) &&
  statSync(DIST_MAIN).mtimeMs >=
    Math.max(newestMtime(join(ROOT, 'src', 'worker')), newestMtime(join(ROOT, 'src', 'cli')))
    ? [DIST_MAIN]
    : [
        '--import',
        pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
        join(ROOT, 'src', 'cli', 'main.ts'),
      ];

const shellWord = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;
/** The CLI as a shell command line, for commands that run cns themselves. */
const CNS_SH = [process.execPath, ...CLI].map(shellWord).join(' ');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without any CNS_* variable of the machine running the tests. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CNS_')) env[k] = v;
  return { ...env, ...extra };
}

function start(args: string[], opts: { cwd: string; env?: Record<string, string> }) {
  const child = spawn(process.execPath, [...CLI, ...args], {
    cwd: opts.cwd,
    env: cleanEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done, stdout: () => stdout };
}

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Fixture {
  dir: string;
  db: string;
  env: Record<string, string>;
  run(args: string[], env?: Record<string, string>): Promise<Run>;
  /** A worker in the background. */
  worker(args: string[], env?: Record<string, string>): ReturnType<typeof start>;
  add(...args: string[]): Promise<number>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed CLI output
  show(id: number): Promise<any>;
}

function fixture(db?: string, env: Record<string, string> = {}): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'cns-worker-'));
  dirs.push(dir);
  const where = db ?? join(dir, 'cns.db');
  const run = (args: string[], extra: Record<string, string> = {}) =>
    start(['--db', where, ...args], { cwd: dir, env: { ...env, ...extra } }).done;
  const f: Fixture = {
    dir,
    db: where,
    env,
    run,
    worker(args, extra = {}) {
      const w = start(['--db', where, 'worker', ...args], { cwd: dir, env: { ...env, ...extra } });
      children.push(w.child);
      return w;
    },
    async add(...args) {
      const r = await run(['task', 'add', '--json', ...args]);
      if (r.code !== 0) throw new Error(`task add: exit ${r.code}: ${r.stderr}`);
      return (JSON.parse(r.stdout) as { task: { id: number } }).task.id;
    },
    async show(id) {
      const r = await run(['task', 'show', String(id), '--json']);
      if (r.code !== 0) throw new Error(`task show: exit ${r.code}: ${r.stderr}`);
      return JSON.parse(r.stdout);
    },
  };
  return f;
}

/** Polls until `check` holds (a wait for something to happen, not a timing assertion). */
async function until(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (ended, not yet reaped: its parent died and nothing reaps orphans here) is gone too.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (not Linux): signal 0 is all there is
  }
}

function expectWorkerOk(r: Run): void {
  expect(r.code, `stderr: ${r.stderr}\nstdout: ${r.stdout}`).toBe(0);
}

describe('cns worker --exec (SQLite)', () => {
  it('completes a task with the stdout of its command, which gets the brief on stdin and the task in its environment', async () => {
    const f = fixture();
    const first = await f.add('--type', 'shell', '--title', 'produce', '--spec', 'print a word');
    const second = await f.add(
      ...['--type', 'shell', '--title', 'consume it', '--spec', 'use the word\nline two'],
      ...['--input', '{"n":42,"list":["a"]}', '--depends-on', String(first)],
    );
    // The command keeps its stdin and environment, reports progress with its lease token through
    // the cns CLI (CNS_DB tells it the database), and prints its result.
    const exec = [
      'cat > "brief-$CNS_TASK_ID.json"',
      'env | grep "^CNS_" | sort > "env-$CNS_TASK_ID"',
      `${CNS_SH} task progress "$CNS_TASK_ID" --token "$CNS_LEASE_TOKEN" --note "halfway through $CNS_TASK_TITLE" --percent 50 >/dev/null || exit 9`,
      'echo "result of $CNS_TASK_TITLE"',
      'printf "\\n\\n"',
    ].join('; ');
    const r = await f.worker(['--type', 'shell', '--exec', exec, '--wait', '0']).done;
    expectWorkerOk(r);
    expect(r.stdout).toMatch(new RegExp(`claimed #${first} "produce"`));
    expect(r.stdout).toMatch(new RegExp(`completed #${second} in`));

    const a = await f.show(first);
    expect(a.task.status).toBe('completed');
    expect(a.task.result).toBe('result of produce'); // trailing newlines removed
    const b = await f.show(second);
    expect(b.task.status).toBe('completed');
    expect(b.task.result).toBe('result of consume it');
    expect(b.task.progress.note).toBe('halfway through consume it');
    expect(b.task.progress.percent).toBe(50);

    const brief = JSON.parse(readFileSync(join(f.dir, `brief-${second}.json`), 'utf8'));
    expect(brief).toMatchObject({
      id: second,
      title: 'consume it',
      type: 'shell',
      status: 'in_progress',
      spec: 'use the word\nline two',
      input: { n: 42, list: ['a'] },
      attempt: 1,
      maxAttempts: 3,
      handoff: [],
      questions: [],
      dependencies: [{ taskId: first, title: 'produce', status: 'completed', result: 'result of produce' }],
    });
    expect(JSON.stringify(brief)).not.toMatch(/leaseToken/);

    const env = Object.fromEntries(
      readFileSync(join(f.dir, `env-${second}`), 'utf8')
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(env).toMatchObject({
      CNS_TASK_ID: String(second),
      CNS_TASK_TYPE: 'shell',
      CNS_TASK_TITLE: 'consume it',
      CNS_TASK_ATTEMPT: '1',
      CNS_TASK_MAX_ATTEMPTS: '3',
      CNS_WORKER_DEPTH: '1',
      CNS_WORKER_MAX_DEPTH: '1',
      CNS_DB: f.db,
    });
    expect(env.CNS_LEASE_TOKEN).toMatch(/^[0-9a-f]{32}$/);
    expect(env.CNS_AGENT_NAME).toMatch(/^shell-worker-/);
  });

  it('fails a task on a non-zero exit with the end of stderr, retries it, and fails it for good on exit 78', async () => {
    const f = fixture(undefined, { CNS_RETRY_BASE_MS: '50', CNS_RETRY_MAX_MS: '100' });
    const flaky = await f.add('--type', 'sh', '--title', 'flaky', '--max-attempts', '2');
    const fatal = await f.add('--type', 'sh', '--title', 'fatal', '--max-attempts', '3');
    const exec =
      'echo "attempt $CNS_TASK_ATTEMPT" >> "attempts-$CNS_TASK_ID"; echo "some output"; ' +
      'echo "went wrong on attempt $CNS_TASK_ATTEMPT" >&2; ' +
      'if [ "$CNS_TASK_TITLE" = fatal ]; then exit 78; fi; exit 3';
    // --wait: keep claiming (the retry comes after a short backoff) until nothing came for 3 s.
    const r = await f.worker(['--type', 'sh', '--exec', exec, '--wait', '3s']).done;
    expectWorkerOk(r);

    const a = await f.show(flaky);
    expect(a.task.status).toBe('failed');
    expect(a.task.attempts).toBe(2);
    expect(a.task.error).toBe('the command exited with code 3\n--- stderr ---\nwent wrong on attempt 2');
    expect(a.attempts.map((x: { outcome: string }) => x.outcome)).toEqual(['failed', 'failed']);
    expect(a.attempts[0].error).toMatch(/went wrong on attempt 1/);
    expect(readFileSync(join(f.dir, `attempts-${flaky}`), 'utf8')).toBe('attempt 1\nattempt 2\n');

    const b = await f.show(fatal);
    expect(b.task.status).toBe('failed');
    expect(b.task.attempts).toBe(1);
    expect(b.task.error).toMatch(/^the command exited with code 78 \(do not retry\)/);
    expect(r.stdout).toMatch(new RegExp(`failed #${flaky} in .*retry after`));
    expect(r.stdout).toMatch(new RegExp(`failed #${fatal} in .*failed for good`));
  });

  it('runs claude -p as the docs suggest (a fake claude on PATH): the answer is the result', async () => {
    const f = fixture();
    const bin = join(f.dir, 'bin');
    mkdirSync(bin);
    // A stand-in for Claude Code's print mode: the prompt is the argument after -p, the piped stdin
    // (the task's brief) is appended to it; it answers on stdout.
    writeFileSync(
      join(bin, 'claude'),
      [
        '#!/bin/sh',
        'prompt=""; format=""',
        'while [ $# -gt 0 ]; do',
        '  case "$1" in',
        '    -p|--print) prompt="$2"; shift 2 ;;',
        '    --output-format) format="$2"; shift 2 ;;',
        '    *) shift ;;',
        '  esac',
        'done',
        '[ -n "$prompt" ] || { echo "fake claude: no prompt" >&2; exit 1; }',
        'brief=$(cat)',
        'title=$(printf "%s" "$brief" | sed -n \'s/.*"title":"\\([^"]*\\)".*/\\1/p\' | head -1)',
        'echo "fake claude ($format): read ${#brief} characters of brief"',
        'echo "Done: $title"',
      ].join('\n') + '\n',
    );
    chmodSync(join(bin, 'claude'), 0o755);
    const id = await f.add('--type', 'code', '--title', 'write the parser', '--spec', 'Parse things.');
    const exec =
      'claude -p "Do the task described by the JSON on stdin. Print only your result." --output-format text';
    const r = await f.worker(['--type', 'code', '--exec', exec, '--once'], {
      PATH: `${bin}:${process.env.PATH ?? ''}`,
    }).done;
    expectWorkerOk(r);
    const t = await f.show(id);
    expect(t.task.status).toBe('completed');
    expect(t.task.result).toMatch(
      /^fake claude \(text\): read \d+ characters of brief\nDone: write the parser$/,
    );
  });

  it('--timeout stops the command and its children (process group) and fails the task', async () => {
    const f = fixture();
    const id = await f.add('--type', 'slow', '--title', 'sleeps');
    const exec = 'echo "started"; sleep 120 & echo $! > sleep.pid; wait';
    const r = await f.worker(['--type', 'slow', '--exec', exec, '--timeout', '1s', '--grace', '2s', '--once'])
      .done;
    expectWorkerOk(r);
    const t = await f.show(id);
    expect(t.task.status).toBe('pending'); // attempts remain: retried after the backoff
    expect(t.task.attempts).toBe(1);
    expect(t.attempts[0].outcome).toBe('failed');
    expect(t.task.error).toMatch(/^timed out after 1s: the command was stopped \(SIGTERM/);
    expect(t.task.error).toMatch(/--- stdout ---\nstarted/);
    const pid = Number(readFileSync(join(f.dir, 'sleep.pid'), 'utf8'));
    await until(() => !alive(pid), `the command's child ${pid} to be gone`);
  });

  it('--concurrency 2 runs two commands at once', async () => {
    const f = fixture();
    const ids = [
      await f.add('--type', 'par', '--title', 'one'),
      await f.add('--type', 'par', '--title', 'two'),
    ];
    // A barrier: each command records its start and waits until both have started. Run one at a
    // time, the first would wait for ever (and time out).
    const exec =
      'date +%s%N > "start-$CNS_TASK_ID"; ' +
      'while [ "$(ls start-* | wc -l)" -lt 2 ]; do sleep 0.05; done; ' +
      'date +%s%N > "end-$CNS_TASK_ID"; echo "both ran"';
    const r = await f.worker([
      ...['--type', 'par', '--exec', exec, '--concurrency', '2'],
      ...['--timeout', '20s', '--wait', '1s'],
    ]).done;
    expectWorkerOk(r);
    for (const id of ids)
      expect((await f.show(id)).task).toMatchObject({ status: 'completed', result: 'both ran' });
    const at = (name: string) => BigInt(readFileSync(join(f.dir, name), 'utf8').trim());
    const [a, b] = ids;
    // Each started before the other ended: they overlapped.
    expect(at(`start-${a}`) < at(`end-${b}`)).toBe(true);
    expect(at(`start-${b}`) < at(`end-${a}`)).toBe(true);
  });

  it('SIGTERM while a command runs: the command is stopped, the task released with a note, the worker exits 0', async () => {
    const f = fixture();
    const id = await f.add('--type', 'long', '--title', 'long job');
    const w = f.worker(['--type', 'long', '--exec', 'echo $$ > cmd.pid; echo "working on it"; sleep 120']);
    const pidFile = join(f.dir, 'cmd.pid');
    await until(
      () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').includes('\n'),
      'the command to start',
    );
    const pid = Number(readFileSync(pidFile, 'utf8'));
    w.child.kill('SIGTERM');
    const r = await w.done;
    expectWorkerOk(r);
    expect(r.stdout).toMatch(new RegExp(`released #${id}`));
    expect(alive(pid)).toBe(false);
    const t = await f.show(id);
    expect(t.task.status).toBe('pending');
    expect(t.task.attempts).toBe(0); // a release gives the attempt back
    expect(t.attempts).toHaveLength(1);
    expect(t.attempts[0].outcome).toBe('released');
    expect(t.attempts[0].note).toMatch(
      /^released after .*was stopped \(SIGTERM\).*\n--- stdout ---\nworking on it/s,
    );
    const agents = JSON.parse((await f.run(['agents', '--json'])).stdout) as { status: string }[];
    expect(agents.map((a) => a.status)).toEqual(['offline']);
  });

  it('SIGKILL of the worker: its guardian stops the command and what it started, so the task never runs twice at once', async () => {
    const f = fixture();
    const id = await f.add('--type', 'doomed', '--title', 'outlives its worker?');
    const exec = 'sleep 120 & echo $! > child.pid; echo $$ > cmd.pid; wait';
    const w = f.worker(['--type', 'doomed', '--exec', exec, '--grace', '1s']);
    const pidFile = join(f.dir, 'cmd.pid');
    await until(
      () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').includes('\n'),
      'the command to start',
    );
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const child = Number(readFileSync(join(f.dir, 'child.pid'), 'utf8'));
    expect(alive(pid) && alive(child)).toBe(true);
    w.child.kill('SIGKILL');
    await w.done;
    await until(() => !alive(pid), `the command ${pid} to be stopped`, 15_000);
    await until(() => !alive(child), `the command's child ${child} to be stopped`, 15_000);
    // The task itself is the lease reaper's: still held by the dead worker until its lease expires.
    expect((await f.show(id)).task.status).toBe('in_progress');
  });

  it('a task cancelled while its command runs stops the command', async () => {
    const f = fixture();
    const id = await f.add('--type', 'c', '--title', 'to cancel');
    const w = f.worker([
      ...['--type', 'c', '--exec', 'echo $$ > cmd.pid; sleep 120', '--once'],
      ...['--heartbeat-ms', '200'],
    ]);
    const pidFile = join(f.dir, 'cmd.pid');
    await until(
      () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').includes('\n'),
      'the command to start',
    );
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect((await f.run(['task', 'cancel', String(id), '--reason', 'not needed'])).code).toBe(0);
    const r = await w.done;
    expectWorkerOk(r);
    expect(r.stdout).toMatch(new RegExp(`lost #${id}: .*cancelled`));
    expect(alive(pid)).toBe(false);
    expect((await f.show(id)).task.status).toBe('cancelled');
  });

  it("the recursion guard: a worker started by a worker's command refuses, with exit code 11", async () => {
    const f = fixture();
    const id = await f.add('--type', 'outer', '--title', 'tries to nest');
    const exec = `${CNS_SH} worker --type inner --exec true --once --wait 0 2>&1; echo "nested exit code $?"`;
    const r = await f.worker(['--type', 'outer', '--exec', exec, '--once']).done;
    expectWorkerOk(r);
    const t = await f.show(id);
    expect(t.task.status).toBe('completed');
    expect(t.task.result).toMatch(
      /^cns: not starting a worker: this process runs inside the command of a cns worker \(CNS_WORKER_DEPTH=1\) and the limit is 1\..*--max-depth 2 or CNS_WORKER_MAX_DEPTH=2\.\nnested exit code 11$/s,
    );
    // The nested worker opened nothing: no agent "inner" was registered.
    const agents = JSON.parse((await f.run(['agents', '--json'])).stdout) as { type: string }[];
    expect(agents.map((a) => a.type)).toEqual(['outer']);
  });

  it('the recursion guard reads CNS_WORKER_DEPTH and CNS_WORKER_MAX_DEPTH; --max-depth wins', async () => {
    const f = fixture();
    const refused = await f.run(['worker', '--type', 'x', '--exec', 'true', '--once', '--wait', '0'], {
      CNS_WORKER_DEPTH: '2',
      CNS_WORKER_MAX_DEPTH: '2',
    });
    expect(refused.code).toBe(11);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/CNS_WORKER_DEPTH=2.*--max-depth 3 or CNS_WORKER_MAX_DEPTH=3/);
    // Allowed one level deeper: it starts, finds nothing and says so (exit code 10).
    const allowed = await f.run(
      ['worker', '--type', 'x', '--exec', 'true', '--once', '--wait', '0', '--max-depth', '3'],
      { CNS_WORKER_DEPTH: '2', CNS_WORKER_MAX_DEPTH: '2' },
    );
    expect(allowed.code, allowed.stderr).toBe(10);
    const bad = await f.run(['worker', '--type', 'x', '--exec', 'true'], { CNS_WORKER_DEPTH: 'deep' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/CNS_WORKER_DEPTH must be a whole number/);
  });

  it('cuts a long output to its head and tail, saying so in the result', async () => {
    const f = fixture();
    const id = await f.add('--type', 'big', '--title', 'talks a lot');
    const exec = 'echo FIRST; i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; echo LAST';
    const r = await f.worker(['--type', 'big', '--exec', exec, '--once', '--max-result-chars', '1000']).done;
    expectWorkerOk(r);
    const t = await f.show(id);
    expect(t.task.status).toBe('completed');
    expect(t.task.result).toMatch(/^FIRST\nline 0\n/);
    expect(t.task.result).toMatch(/\nLAST$/);
    expect(t.task.result).toMatch(/…\[cns worker: \d+ of \d+ characters of output cut here\]…/);
    expect(r.stdout).toMatch(/the result was cut/);
  });
});

describe('cns worker --exec --server (over cns serve)', () => {
  it('takes tasks with an agent token; the token is not passed to the command', async () => {
    const f = fixture();
    const created = await f.run([
      'token',
      'create',
      '--role',
      'agent',
      '--type',
      'remote',
      '--name',
      'r1',
      '--json',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const secret = (JSON.parse(created.stdout) as { secret: string }).secret;
    const server = start(['--db', f.db, 'serve', '--port', '0'], { cwd: f.dir });
    children.push(server.child);
    await until(() => /listening on http:\/\/\S+/.test(server.stdout()), 'cns serve to listen');
    const url = /listening on (http:\/\/\S+)/.exec(server.stdout())![1]!;
    try {
      const id = await f.add('--type', 'remote', '--title', 'over http');
      const w = start(
        ['worker', '--server', url, '--exec', 'echo "token=${CNS_TOKEN:-none} task=$CNS_TASK_ID"', '--once'],
        { cwd: f.dir, env: { CNS_TOKEN: secret } },
      );
      children.push(w.child);
      const r = await w.done;
      expectWorkerOk(r);
      const t = await f.show(id);
      expect(t.task.status).toBe('completed');
      expect(t.task.result).toBe(`token=none task=${id}`);
      expect(t.task.lease).toBeNull();
      expect(t.attempts[0].agentName).toBe('r1');
    } finally {
      server.child.kill('SIGTERM');
      await server.done;
    }
  });

  it('--concurrency 3 over the server runs three different tasks at once, each once', async () => {
    const f = fixture();
    const created = await f.run(['token', 'create', '--role', 'agent', '--type', 'par-remote', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const secret = (JSON.parse(created.stdout) as { secret: string }).secret;
    const server = start(['--db', f.db, 'serve', '--port', '0'], { cwd: f.dir });
    children.push(server.child);
    await until(() => /listening on http:\/\/\S+/.test(server.stdout()), 'cns serve to listen');
    const url = /listening on (http:\/\/\S+)/.exec(server.stdout())![1]!;
    try {
      const ids = [
        await f.add('--type', 'par-remote', '--title', 'one'),
        await f.add('--type', 'par-remote', '--title', 'two'),
        await f.add('--type', 'par-remote', '--title', 'three'),
      ];
      // Each run leaves a file; a barrier makes the three overlap (run one after another, the first
      // would wait for ever and time out).
      const exec =
        'touch "run-$CNS_TASK_ID-$$"; ' +
        'while [ "$(ls run-* | wc -l)" -lt 3 ]; do sleep 0.05; done; echo "ran $CNS_TASK_ID"';
      const w = start(
        ['worker', '--server', url, '--exec', exec, '--concurrency', '3', '--timeout', '20s', '--wait', '2s'],
        { cwd: f.dir, env: { CNS_TOKEN: secret } },
      );
      children.push(w.child);
      expectWorkerOk(await w.done);
      const runs = readdirSync(f.dir).filter((n) => n.startsWith('run-'));
      expect(runs.map((n) => Number(n.split('-')[1])).sort((a, b) => a - b)).toEqual(ids);
      for (const id of ids)
        expect((await f.show(id)).task).toMatchObject({ status: 'completed', result: `ran ${id}` });
    } finally {
      server.child.kill('SIGTERM');
      await server.done;
    }
  });
});

describe('cns worker --exec (PostgreSQL)', () => {
  it('completes a task', async () => {
    const pg = await freshPostgresSchema();
    try {
      const f = fixture(pg.url, { CNS_PG_SCHEMA: pg.schema });
      const id = await f.add('--type', 'pg', '--title', 'on postgres', '--input', '{"x":1}');
      const r = await f.worker(['--type', 'pg', '--exec', 'cat; echo " ran $CNS_TASK_ID"', '--once']).done;
      expectWorkerOk(r);
      const t = await f.show(id);
      expect(t.task.status).toBe('completed');
      const [json, rest] = t.task.result.split('\n');
      expect(JSON.parse(json)).toMatchObject({ id, title: 'on postgres', input: { x: 1 } });
      expect(rest).toBe(` ran ${id}`);
    } finally {
      await pg.drop();
    }
  });
});

describe('the pieces', () => {
  it('the brief has the same fields as the task MCP task_next hands out', () => {
    const claimed: ClaimedTask = {
      task: {
        id: 1,
        workflowId: null,
        ref: null,
        type: 't',
        requires: [],
        title: 'x',
        spec: 's',
        input: null,
        priority: 0,
        runAfter: 0,
        dependsOn: [],
        status: 'in_progress',
        attempts: 1,
        maxAttempts: 3,
        lease: null,
        assignedTo: null,
        preferred: null,
        review: false,
        reviewRounds: 0,
        maxReviewRounds: 3,
        progress: { note: null, percent: null, checkpoint: null, at: null },
        result: null,
        resultData: null,
        error: null,
        completedBy: null,
        idempotencyKey: null,
        metadata: {},
        createdBy: null,
        createdAt: 0,
        updatedAt: 0,
        startedAt: 0,
        finishedAt: null,
      },
      leaseToken: 'secret',
      leaseExpiresAt: 10,
      dependencies: [],
      handoff: [],
      questions: [],
    };
    expect(Object.keys(taskBrief(claimed, null)).sort()).toEqual(
      Object.keys(claimedView(claimed, null)).sort(),
    );
  });

  it('BoundedText keeps all of a short text, else its head and tail; storable text has no NUL or half characters', () => {
    const short = new BoundedText(10);
    short.push('abc');
    short.push('def');
    expect(short.text(() => '|')).toBe('abcdef');
    const long = new BoundedText(6);
    for (const c of 'abcdefghijklmnopqrstuvwxyz') long.push(c);
    expect(long.truncated).toBe(true);
    expect(long.omitted).toBe(20);
    expect(long.text((n, total) => `[${n}/${total}]`)).toBe('abc[20/26]xyz');
    const tailOnly = new BoundedText(4, 0);
    tailOnly.push('0123456789');
    expect(tailOnly.last(4)).toBe('6789');
    expect(storable('a\u0000b\ud83d')).toBe('a\ufffdb\ufffd');
    expect(storable('ok \ud83d\ude00')).toBe('ok \ud83d\ude00');
  });

  it('the recursion guard refuses at the limit only', () => {
    expect(nestingRefusal(workerDepth(undefined, {}))).toBeNull();
    expect(nestingRefusal(workerDepth(undefined, { CNS_WORKER_DEPTH: '1' }))).toMatch(/CNS_WORKER_DEPTH=1/);
    expect(nestingRefusal(workerDepth(2, { CNS_WORKER_DEPTH: '1' }))).toBeNull();
    expect(nestingRefusal(workerDepth(undefined, { CNS_WORKER_MAX_DEPTH: '0' }))).toMatch(
      /no worker may run/,
    );
  });
});
