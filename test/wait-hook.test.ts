/**
 * `cns wait` and the Claude Code hook `cns init --claude-hook` installs, end to end with real
 * processes: waiting claims nothing, wakes when work arrives, times out with exit 10; the hook
 * follows Claude Code's contract (event JSON on stdin; asyncRewake: exit 2 with the brief on stderr
 * wakes the session, exit 0 otherwise; a blocking Stop hook prints {"decision":"block"}); init
 * merges the hook into existing settings without clobbering them.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CNS_')) e[k] = v;
  return e;
}

/** Runs a command line through `sh -c`, as Claude Code runs a hook's command. */
function sh(command: string, opts: { cwd: string; input?: string; env?: NodeJS.ProcessEnv }) {
  const child = spawn('sh', ['-c', command], { cwd: opts.cwd, env: { ...env(), ...opts.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(opts.input ?? '');
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done, stdout: () => stdout, stderr: () => stderr };
}

function cns(dir: string, args: string[], input?: string) {
  const line = [process.execPath, MAIN, '--db', join(dir, '.cns', 'cns.db'), ...args]
    .map((w) => `'${w.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  return sh(line, { cwd: dir, input });
}

function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cns-wait-'));
  dirs.push(d);
  return d;
}

const STOP_EVENT = JSON.stringify({
  session_id: 'abc',
  transcript_path: '/dev/null',
  cwd: '/',
  hook_event_name: 'Stop',
  stop_hook_active: false,
});

let dir: string;
beforeAll(async () => {
  dir = freshDir();
  expect((await cns(dir, ['init']).done).code).toBe(0);
});

describe('cns wait', () => {
  it('times out with exit 10 and the reason when no work comes', async () => {
    const r = await cns(dir, ['wait', '--type', 'nothing', '--timeout', '1s']).done;
    expect(r.code).toBe(10);
    expect(r.stderr).toMatch(/no work: no pending task of type "nothing"/);
  });

  it('wakes when a task it could claim arrives, prints a brief and claims nothing', async () => {
    const waiting = cns(dir, ['wait', '--type', 'build', '--capability', 'node', '--json']);
    await new Promise((r) => setTimeout(r, 1_500));
    // Work it cannot take (a capability it lacks, another type) does not end the wait.
    expect(
      (await cns(dir, ['task', 'add', '--type', 'build', '--title', 'gpu job', '--requires', 'gpu']).done)
        .code,
    ).toBe(0);
    expect((await cns(dir, ['task', 'add', '--type', 'other', '--title', 'not mine']).done).code).toBe(0);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(waiting.child.exitCode).toBeNull();
    const added = await cns(dir, ['task', 'add', '--type', 'build', '--title', 'compile it', '--json']).done;
    const id = (JSON.parse(added.stdout) as { task: { id: number } }).task.id;
    const r = await waiting.done;
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { task: { id: number; status: string } }).task).toMatchObject({
      id,
      status: 'pending',
    });
    const shown = await cns(dir, ['task', 'show', String(id), '--json']).done;
    expect(
      (JSON.parse(shown.stdout) as { task?: { status: string }; status?: string }).task?.status ??
        JSON.parse(shown.stdout).status,
    ).toBe('pending');
  });

  it('refuses to guess whose work it waits for', async () => {
    const r = await cns(dir, ['wait']).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--agent NAME or --type TYPE/);
  });
});

describe('cns wait --server (through cns serve)', () => {
  let url: string;
  let port: string;
  let serve: ReturnType<typeof sh> | null = null;
  let agentToken: string;
  let supervisorToken: string;

  function startServe(at: string): Promise<string> {
    const line = [process.execPath, MAIN, '--db', join(dir, '.cns', 'cns.db'), 'serve', '--port', at]
      .map((w) => `'${w.replace(/'/g, `'\\''`)}'`)
      .join(' ');
    const s = sh(`exec ${line}`, { cwd: dir });
    serve = s;
    return new Promise((resolve, reject) => {
      const check = setInterval(() => {
        const m = /listening on (http:\/\/\S+)/.exec(s.stdout());
        if (m) {
          clearInterval(check);
          resolve(m[1]!);
        }
      }, 50);
      void s.done.then((r) => {
        clearInterval(check);
        reject(new Error(`cns serve ended: ${r.stderr}`));
      });
    });
  }

  /** `cns wait` with no database: only the server and the token. */
  function remoteWait(args: string[], extraEnv: NodeJS.ProcessEnv = {}, input?: string) {
    const line = [process.execPath, MAIN, 'wait', ...args]
      .map((w) => `'${w.replace(/'/g, `'\\''`)}'`)
      .join(' ');
    return sh(line, { cwd: tmpdir(), input, env: { CNS_SERVER: url, CNS_TOKEN: agentToken, ...extraEnv } });
  }

  const token = async (...args: string[]) => {
    const r = await cns(dir, ['token', 'create', ...args, '--json']).done;
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { secret: string }).secret;
  };

  beforeAll(async () => {
    agentToken = await token('--role', 'agent', '--name', 'remote-waiter', '--type', 'remote-wait');
    supervisorToken = await token('--role', 'supervisor', '--name', 'boss');
    url = await startServe('0');
    port = new URL(url).port;
  });
  afterAll(() => serve?.child.kill('SIGKILL'));

  it("waits as the token's agent, wakes when its kind of work arrives, claims nothing", async () => {
    const waiting = remoteWait(['--json']);
    await new Promise((r) => setTimeout(r, 300));
    expect((await cns(dir, ['task', 'add', '--type', 'other', '--title', 'not for it']).done).code).toBe(0);
    const added = await cns(dir, ['task', 'add', '--type', 'remote-wait', '--title', 'over http', '--json'])
      .done;
    const id = (JSON.parse(added.stdout) as { task: { id: number } }).task.id;
    const r = await waiting.done;
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { task: { id: number } }).task.id).toBe(id);
    const shown = await cns(dir, ['task', 'show', String(id), '--json']).done;
    expect((JSON.parse(shown.stdout) as { task: { status: string } }).task.status).toBe('pending');
    // The hook over the server: exit 2 with the brief on stderr wakes the session.
    const hook = await remoteWait(['--hook', 'rewake'], {}, STOP_EVENT).done;
    expect(hook.code, hook.stderr).toBe(2);
    expect(hook.stderr).toMatch(new RegExp(`task #${id} is waiting for a remote-wait agent: "over http"`));
    expect((await cns(dir, ['task', 'cancel', String(id)]).done).code).toBe(0);
  });

  it('refuses a supervisor token, another type, --capability, and a token without a server', async () => {
    const sup = await remoteWait(['--timeout', '1s'], { CNS_TOKEN: supervisorToken }).done;
    expect(sup.code).toBe(2);
    expect(sup.stderr).toMatch(/needs an agent token \(this one is a supervisor token\)/);
    const other = await remoteWait(['--type', 'frontend', '--timeout', '1s']).done;
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/this token's agent has type remote-wait, not frontend/);
    const caps = await remoteWait(['--capability', 'gpu', '--timeout', '1s']).done;
    expect(caps.code).toBe(2);
    expect(caps.stderr).toMatch(/--capability does not go with --server/);
    const local = await cns(dir, ['wait', '--type', 'x', '--token', 'cns_x', '--timeout', '1s']).done;
    expect(local.code).toBe(2);
    expect(local.stderr).toMatch(/--token goes with --server/);
    const timedOut = await remoteWait(['--timeout', '1s']).done;
    expect(timedOut.code).toBe(10);
  });

  it('keeps waiting while cns serve is down, and wakes for work queued while it was', async () => {
    const waiting = remoteWait(['--json', '--timeout', '60s']);
    await new Promise((r) => setTimeout(r, 300));
    serve!.child.kill('SIGKILL');
    await serve!.done;
    // The waiter notices the server is gone and says so, then tries again.
    for (let i = 0; i < 200 && !/trying again/.test(waiting.stderr()); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(waiting.stderr()).toMatch(/cannot reach cns serve .* trying again until the wait's time runs out/);
    const added = await cns(dir, ['task', 'add', '--type', 'remote-wait', '--title', 'while down', '--json'])
      .done;
    const id = (JSON.parse(added.stdout) as { task: { id: number } }).task.id;
    url = await startServe(port);
    const r = await waiting.done;
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { task: { id: number } }).task.id).toBe(id);
    expect(r.stderr).toMatch(/reachable again/);
    expect((await cns(dir, ['task', 'cancel', String(id)]).done).code).toBe(0);
  });

  it('started while cns serve is down, waits for it to come back', async () => {
    serve!.child.kill('SIGKILL');
    await serve!.done;
    const waiting = remoteWait(['--json', '--timeout', '60s']);
    for (let i = 0; i < 400 && !/trying again/.test(waiting.stderr()); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(waiting.stderr()).toMatch(/cannot reach cns serve .* trying again/);
    const added = await cns(dir, ['task', 'add', '--type', 'remote-wait', '--title', 'after', '--json']).done;
    const id = (JSON.parse(added.stdout) as { task: { id: number } }).task.id;
    url = await startServe(port);
    const r = await waiting.done;
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { task: { id: number } }).task.id).toBe(id);
  });
});

describe('the Claude Code hook', () => {
  it('rewake: no work → exit 0 and silent (the session rests); work → exit 2 with the brief on stderr', async () => {
    const quiet = await cns(
      dir,
      ['wait', '--hook', 'rewake', '--type', 'review', '--timeout', '1s'],
      STOP_EVENT,
    ).done;
    expect(quiet).toEqual({ code: 0, stdout: '', stderr: '' });
    expect((await cns(dir, ['task', 'add', '--type', 'review', '--title', 'read the diff']).done).code).toBe(
      0,
    );
    const woke = await cns(dir, ['wait', '--hook', 'rewake', '--type', 'review'], STOP_EVENT).done;
    expect(woke.code).toBe(2);
    expect(woke.stdout).toBe('');
    expect(woke.stderr).toMatch(/task #\d+ is waiting for a review agent: "read the diff".*task_next/);
  });

  it('an error exits 1 in either mode, never 2 (which would wake the session or keep it going, again and again)', async () => {
    for (const mode of ['rewake', 'stop']) {
      const r = await cns(dir, ['wait', '--hook', mode, '--agent', 'nobody-registered'], STOP_EVENT).done;
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/no agent named "nobody-registered" has registered/);
      expect(r.stdout).toBe('');
      // An option this cns does not know (a hook written by another version) likewise.
      const unknown = await cns(dir, ['wait', '--hook', mode, '--no-such-option'], STOP_EVENT).done;
      expect(unknown.code, unknown.stderr).toBe(1);
      expect(unknown.stderr).toMatch(/unknown option/);
    }
  });

  it('stop: work → exit 0 with {"decision":"block","reason":…} on stdout', async () => {
    const r = await cns(dir, ['wait', '--hook', 'stop', '--type', 'review'], STOP_EVENT).done;
    expect(r.code).toBe(0);
    const answer = JSON.parse(r.stdout) as { decision: string; reason: string };
    expect(answer.decision).toBe('block');
    expect(answer.reason).toMatch(/task_next/);
  });

  it('init --claude-hook merges the hook into existing settings, replaces its own on a rerun, and the installed command works', async () => {
    const project = freshDir();
    mkdirSync(join(project, '.claude'));
    const existing = {
      permissions: { allow: ['Bash(npm test)'] },
      hooks: {
        Stop: [{ hooks: [{ type: 'command', command: 'echo done >> /dev/null' }] }],
        PostToolUse: [{ matcher: 'Edit', hooks: [{ type: 'command', command: 'npx prettier --write .' }] }],
      },
    };
    writeFileSync(join(project, '.claude', 'settings.json'), JSON.stringify(existing));
    const first = await cns(project, ['init', '--claude-hook', 'rewake', '--json']).done;
    expect(first.code).toBe(0);
    expect((JSON.parse(first.stdout) as { claudeHook: { action: string } }).claudeHook.action).toBe('added');
    const again = await cns(project, ['init', '--claude-hook', 'rewake', '--json']).done;
    expect((JSON.parse(again.stdout) as { claudeHook: { action: string } }).claudeHook.action).toBe(
      'replaced',
    );

    type Hook = { type: string; command: string; async?: boolean; asyncRewake?: boolean; timeout?: number };
    const settings = JSON.parse(readFileSync(join(project, '.claude', 'settings.json'), 'utf8')) as {
      permissions: unknown;
      hooks: { Stop: { hooks: Hook[] }[]; PostToolUse: unknown };
    };
    expect(settings.permissions).toEqual(existing.permissions);
    expect(settings.hooks.PostToolUse).toEqual(existing.hooks.PostToolUse);
    const stopHooks = settings.hooks.Stop.flatMap((g) => g.hooks);
    expect(stopHooks[0]).toEqual(existing.hooks.Stop[0]!.hooks[0]);
    const ours = stopHooks.filter((h) => h.command.includes(' wait --hook '));
    expect(ours).toHaveLength(1);
    // The fields Claude Code's settings schema gives a command hook (type, command, timeout, async, asyncRewake).
    expect(ours[0]).toMatchObject({ type: 'command', async: true, asyncRewake: true });
    expect(Object.keys(ours[0]!).sort()).toEqual(['async', 'asyncRewake', 'command', 'timeout', 'type']);
    expect(ours[0]!.timeout).toBeGreaterThan(23 * 3600);

    // Run the installed command as Claude Code would: through a shell, with the event on stdin and
    // the session's CNS_AGENT_TYPE; the project's .cns/cns.db is found from the working directory.
    expect(
      (await cns(project, ['task', 'add', '--type', 'docs', '--title', 'write the guide']).done).code,
    ).toBe(0);
    const run = await sh(ours[0]!.command, {
      cwd: project,
      input: STOP_EVENT,
      env: { CNS_AGENT_TYPE: 'docs' },
    }).done;
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/"write the guide"/);
  });

  it('init refuses malformed settings and changes nothing', async () => {
    const project = freshDir();
    mkdirSync(join(project, '.claude'));
    writeFileSync(join(project, '.claude', 'settings.json'), '{"hooks": []}');
    const r = await cns(project, ['init', '--claude-hook']).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/"hooks" must be an object/);
    expect(readFileSync(join(project, '.claude', 'settings.json'), 'utf8')).toBe('{"hooks": []}');
  });
});
