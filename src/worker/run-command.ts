/**
 * Runs one task's command for `cns worker --exec`: `/bin/sh -c COMMAND` in its own process group
 * (so that stopping it stops whatever it started), the brief written to its stdin, its stdout kept
 * (bounded: head and tail) and the tail of its stderr. It can be terminated (SIGTERM to the group,
 * SIGKILL after a grace period) on a timeout, when the worker stops or when the task is lost.
 */
import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';

export interface CommandOptions {
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Written to the command's stdin, which is then closed. */
  stdin: string;
  /** Terminate the command after this long (null: never). */
  timeoutMs: number | null;
  /** How long a terminated command has between SIGTERM and SIGKILL. */
  graceMs: number;
  /** The most of stdout kept (characters): the head and the tail, half each. */
  maxOutputChars: number;
  /** How much of the end of stderr is kept (characters). */
  stderrTailChars: number;
}

export interface CommandRun {
  /** The exit code, or null when a signal ended it (or it never started). */
  code: number | null;
  /** The signal that ended it, if one did. */
  signal: NodeJS.Signals | null;
  stdout: BoundedText;
  stderr: BoundedText;
  /** It was terminated because it ran longer than the timeout. */
  timedOut: boolean;
  /** Why it was terminated from outside (the worker stopping, the task lost), if it was. */
  terminated: string | null;
  /** The strongest signal the worker sent it (null: none). */
  sent: 'SIGTERM' | 'SIGKILL' | null;
  /** It could not be started (e.g. the folder does not exist). */
  spawnError: Error | null;
  durationMs: number;
}

export interface RunningCommand {
  pid: number | undefined;
  done: Promise<CommandRun>;
  /** SIGTERM to its process group now, SIGKILL after the grace period. The first reason is kept. */
  terminate(why: string): void;
  /** SIGKILL to its process group now. */
  kill(): void;
}

/**
 * The guardian of one command: a tiny shell that outlives a worker killed without warning (SIGKILL,
 * an OOM kill, a crash) and then stops the command's process group, so that a task whose lease
 * expires is not run twice at once. It reads its stdin, a pipe only the worker holds: a line
 * `done` (the command ended) lets it exit quietly; end of file (the worker is gone) makes it send
 * SIGTERM to the group, then SIGKILL after the grace period. `$1`: the group, `$2`: the grace in
 * seconds. (`kill -TERM "-$1"`, not `kill -s TERM -- …`: dash knows neither `--` nor a negative
 * pid after `-s`.)
 */
const GUARDIAN_SCRIPT = [
  'trap "" INT HUP TERM',
  'IFS= read -r line',
  '[ "$line" = done ] && exit 0',
  'kill -TERM "-$1" 2>/dev/null || exit 0',
  'sleep "$2"',
  'kill -KILL "-$1" 2>/dev/null',
  'exit 0',
].join('\n');

/** Starts the guardian of the process group `pgid`; returns how to tell it the command ended. */
function guard(pgid: number, graceMs: number): () => void {
  let guardian: ReturnType<typeof spawn>;
  try {
    guardian = spawn(
      '/bin/sh',
      ['-c', GUARDIAN_SCRIPT, 'cns-worker-guardian', String(pgid), String(graceMs / 1000)],
      {
        stdio: ['pipe', 'ignore', 'ignore'],
        // Its own group: a Ctrl-C meant for the worker does not reach it.
        detached: true,
      },
    );
  } catch {
    return () => {};
  }
  guardian.on('error', () => {});
  guardian.stdin?.on('error', () => {});
  // Neither the guardian nor its pipe keeps the worker's event loop alive.
  guardian.unref();
  (guardian.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  let told = false;
  return () => {
    if (told) return;
    told = true;
    guardian.stdin?.end('done\n');
  };
}

/** How long output may still arrive after the command exited (a process it left behind may hold the pipes). */
const OUTPUT_GRACE_MS = 2_000;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Text cns can store: NUL characters and halves of characters cut apart become U+FFFD. */
export function storable(text: string): string {
  return text.replaceAll('\u0000', '\ufffd').replace(LONE_SURROGATE, '\ufffd');
}

/**
 * Keeps at most `max` characters of a stream of text: all of it when it fits, else its first and
 * last parts (`head` characters, and `max - head`), and how much there was in all.
 */
export class BoundedText {
  private head = '';
  private tail = '';
  /** Characters seen in all. */
  total = 0;

  constructor(
    readonly max: number,
    private readonly headMax: number = Math.floor(max / 2),
  ) {}

  get tailMax(): number {
    return this.max - this.headMax;
  }

  push(chunk: string): void {
    this.total += chunk.length;
    if (this.head.length < this.headMax) {
      const room = this.headMax - this.head.length;
      this.head += chunk.slice(0, room);
      chunk = chunk.slice(room);
    }
    if (chunk === '' || this.tailMax === 0) return;
    this.tail += chunk;
    if (this.tail.length > 2 * Math.max(this.tailMax, 1024)) this.tail = this.tail.slice(-this.tailMax);
  }

  get truncated(): boolean {
    return this.total > this.max;
  }

  /** Characters left out (0 when it all fits). */
  get omitted(): number {
    return Math.max(0, this.total - this.max);
  }

  /** The text kept: all of it, or the head and the tail around `marker(omitted)` (storable). */
  text(marker: (omitted: number, total: number) => string): string {
    if (!this.truncated) return storable(this.head + this.tail);
    const tail = this.tailMax > 0 ? this.tail.slice(-this.tailMax) : '';
    return storable(this.head + marker(this.omitted, this.total) + tail);
  }

  /** The last `n` characters (storable). */
  last(n: number): string {
    return storable((this.head + this.tail).slice(-n));
  }
}

function capture(stream: Readable, into: BoundedText): void {
  const decoder = new StringDecoder('utf8');
  stream.on('data', (chunk: Buffer) => into.push(decoder.write(chunk)));
  stream.on('end', () => into.push(decoder.end()));
  stream.on('error', () => {});
}

/** Sends `signal` to the process group led by `pid` (or the process alone if that fails). */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export function startCommand(options: CommandOptions): RunningCommand {
  const started = Date.now();
  const stdout = new BoundedText(options.maxOutputChars);
  // Only the tail of stderr is used (a failure's reason).
  const stderr = new BoundedText(options.stderrTailChars, 0);
  let timedOut = false;
  let terminated: string | null = null;
  let sent: CommandRun['sent'] = null;
  let exited = false;
  let timeout: NodeJS.Timeout | undefined;
  let killTimer: NodeJS.Timeout | undefined;

  const child = spawn('/bin/sh', ['-c', options.command], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    // Its own process group: stopping the command stops what it started (and a Ctrl-C in the
    // worker's terminal reaches the worker only, which then stops its commands in order).
    detached: true,
  });

  // Without a process of its own the command could not be guarded (it failed to start).
  const release = child.pid === undefined ? () => {} : guard(child.pid, options.graceMs);

  const kill = (): void => {
    if (exited) return;
    sent = 'SIGKILL';
    signalGroup(child.pid, 'SIGKILL');
  };
  const terminate = (why: string, isTimeout = false): void => {
    if (exited || sent !== null) {
      if (!isTimeout) terminated ??= why;
      return;
    }
    if (isTimeout) timedOut = true;
    else terminated = why;
    sent = 'SIGTERM';
    signalGroup(child.pid, 'SIGTERM');
    killTimer = setTimeout(kill, options.graceMs);
  };

  const done = new Promise<CommandRun>((resolve) => {
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      clearTimeout(killTimer);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        timedOut,
        terminated,
        sent,
        spawnError,
        durationMs: Date.now() - started,
      });
    };
    child.once('error', (err) => {
      exited = true;
      release();
      finish(null, null, err);
    });
    child.once('exit', (code, signal) => {
      exited = true;
      release();
      // Processes it left behind are no longer the task's: stop waiting for output they may hold.
      let closed = false;
      const grace = setTimeout(() => {
        if (closed) return;
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(code, signal, null);
      }, OUTPUT_GRACE_MS);
      child.once('close', () => {
        closed = true;
        clearTimeout(grace);
        finish(code, signal, null);
      });
    });
  });

  if (child.stdout) capture(child.stdout, stdout);
  if (child.stderr) capture(child.stderr, stderr);
  // A command that does not read its stdin closes the pipe early: that is not an error.
  child.stdin?.on('error', () => {});
  child.stdin?.end(options.stdin);
  if (options.timeoutMs !== null) timeout = setTimeout(() => terminate('timed out', true), options.timeoutMs);

  return { pid: child.pid, done, terminate: (why) => terminate(why), kill };
}
