/**
 * `cns worker --exec`: a headless agent that needs no model to wait. It registers as an agent,
 * long-polls for tasks of its type (CnsApi.claimNext), and runs a command per task (run-command.ts)
 * with the task's brief on stdin (task-brief.ts) and its identity in the environment; the command's
 * exit decides the task: 0 completes it with the command's stdout as the result, EXIT_NO_RETRY
 * fails it for good, anything else fails it (retried by the task's attempt policy). While a command
 * runs, the agent's session heartbeats (renewing the lease) and the task is watched: a task
 * cancelled or otherwise lost stops its command. Stopping the worker stops its commands, releases
 * their tasks with a note, and ends the session.
 *
 * A front over CnsApi: the same code runs on a database (the Coordinator) or a `cns serve` (HttpCnsApi).
 */
import { AgentSession } from '../coordinator/agent-session.js';
import type { CnsApi } from '../coordinator/cns-api.js';
import { CnsError, LeaseLostError } from '../core/errors.js';
import { TEXT_LIMITS } from '../core/input.js';
import type { ClaimedTask, Json, Task } from '../core/types.js';
import { startCommand, type CommandRun, type RunningCommand } from './run-command.js';
import { taskBrief } from './task-brief.js';

/** How long a task's outcome is retried while the database or cns serve cannot be reached. */
const WRITE_RETRY_MS = 120_000;

/** A command exiting with this code fails its task for good (no retry): sysexits' EX_CONFIG. */
export const EXIT_NO_RETRY = 78;
/** The default bound of a result (characters of stdout kept: head and tail). */
export const DEFAULT_MAX_RESULT_CHARS = 100_000;
/** How much of the end of stderr goes into a failure's reason (characters). */
export const STDERR_TAIL_CHARS = 4_000;
/** The default time a terminated command has between SIGTERM and SIGKILL. */
export const DEFAULT_GRACE_MS = 10_000;

export interface ExecWorkerOptions {
  api: CnsApi;
  agent: { name: string; type: string; capabilities: string[]; host: string | null; pid: number | null };
  clientInfo: Json;
  /** Run by `/bin/sh -c`. */
  command: string;
  cwd: string;
  /** The environment of the commands (the task's variables are added). */
  env: NodeJS.ProcessEnv;
  /** Tasks run at once, each its own command. Default 1. */
  concurrency?: number;
  /** Take one task (wait for it), run it, and stop. */
  once?: boolean;
  /** Stop after waiting this long without getting a task (null: wait for ever). */
  idleMs?: number | null;
  /** Terminate a command that runs longer than this (null: never). */
  timeoutMs?: number | null;
  graceMs?: number;
  /** The lease length of this worker's claims. Default: the coordinator's. */
  leaseMs?: number;
  maxResultChars?: number;
  onEvent?: (event: WorkerEvent) => void;
}

/** What the worker reports, one per line in the CLI (`--json`: as JSON). */
export type WorkerEvent =
  /** The agent is registered; claiming starts. */
  | { event: 'registered'; agent: string; type: string; capabilities: string[] }
  | { event: 'claimed'; taskId: number; title: string; attempt: number; maxAttempts: number }
  | {
      event: 'completed';
      taskId: number;
      /** completed, or awaiting_review when the task needs review. */
      status: Task['status'];
      durationMs: number;
      /** Characters of stdout left out of the result. */
      omitted: number;
    }
  | {
      event: 'failed';
      taskId: number;
      /** pending (it will be retried, at retryAt) or failed. */
      status: Task['status'];
      retryAt: number | null;
      durationMs: number;
      exitCode: number | null;
      signal: string | null;
      timedOut: boolean;
      /** The first line of the reason recorded. */
      reason: string;
    }
  | { event: 'released'; taskId: number; durationMs: number; reason: string }
  /** The task was taken from this worker (cancelled, its lease expired, …): nothing was written. */
  | { event: 'lost'; taskId: number; reason: string }
  | { event: 'error'; taskId: number | null; message: string };

export interface WorkerSummary {
  /** Tasks claimed. */
  claimed: number;
  /** Why the worker stopped: idle (nothing to do for idleMs), once, or the reason given to stop(). */
  stoppedBecause: string;
}

export interface RunningWorker {
  readonly agentName: string;
  /** Resolves when the worker has stopped: its commands ended, their tasks settled, the session ended. */
  readonly done: Promise<WorkerSummary>;
  /** Stop claiming, terminate running commands (their tasks are released) and end the session. */
  stop(why: string): void;
  /** SIGKILL the running commands now (a second Ctrl-C). */
  killCommands(): void;
}

interface Running {
  command: RunningCommand;
  /** Why the task is no longer this worker's (cancelled, lease expired): its command is stopped. */
  lost: string | null;
}

const firstLine = (text: string) => text.split('\n', 1)[0]!;

/** A duration as given on the command line when it is whole (2h, 30m, 10s), else seconds (1.5s). */
function seconds(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}

/** `… [N characters of output cut here] …`, between the head and the tail of a long result. */
const cutMarker = (omitted: number, total: number) =>
  `\n…[cns worker: ${omitted} of ${total} characters of output cut here]…\n`;

/** The end of stderr, or of stdout when stderr is empty, as a block for a reason. */
function outputTail(run: CommandRun, chars: number): string {
  const err = run.stderr.last(chars).trimEnd();
  if (err !== '')
    return `\n--- stderr${run.stderr.total > chars ? ` (last ${chars} of ${run.stderr.total} characters)` : ''} ---\n${err}`;
  const out = run.stdout.last(chars).trimEnd();
  if (out !== '')
    return `\n--- stdout${run.stdout.total > chars ? ` (last ${chars} characters)` : ''} ---\n${out}`;
  return '';
}

/** How a command ended, in words. */
function ending(run: CommandRun, timeoutMs: number | null): string {
  if (run.timedOut)
    return `timed out after ${seconds(timeoutMs ?? run.durationMs)}: the command was stopped (SIGTERM${run.sent === 'SIGKILL' ? ', then SIGKILL' : ''})`;
  if (run.signal) return `the command was killed by ${run.signal}`;
  if (run.code === EXIT_NO_RETRY) return `the command exited with code ${run.code} (do not retry)`;
  return `the command exited with code ${run.code}`;
}

export async function startExecWorker(options: ExecWorkerOptions): Promise<RunningWorker> {
  const { api, command, cwd } = options;
  const concurrency = options.concurrency ?? 1;
  const idleMs = options.idleMs ?? null;
  const timeoutMs = options.timeoutMs ?? null;
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const maxResultChars = Math.min(options.maxResultChars ?? DEFAULT_MAX_RESULT_CHARS, TEXT_LIMITS.result);
  const emit = options.onEvent ?? (() => {});

  const session = await AgentSession.start(
    api,
    { ...options.agent, clientInfo: options.clientInfo },
    {
      onError: (err) =>
        emit({ event: 'error', taskId: null, message: `heartbeat failed: ${(err as Error).message}` }),
    },
  );
  emit({
    event: 'registered',
    agent: session.agent.name,
    type: session.agent.type,
    capabilities: session.agent.capabilities,
  });
  const stopping = new AbortController();
  let stoppedBecause: string | null = null;
  const running = new Map<number, Running>();
  let claimedCount = 0;

  const stop = (why: string): void => {
    if (stopping.signal.aborted) return;
    stoppedBecause = why;
    stopping.abort();
    for (const r of running.values())
      r.command.terminate(`cns worker ${session.agent.name} was stopped (${why})`);
  };

  /** Waits `ms`, or less if the worker stops. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        stopping.signal.removeEventListener('abort', done);
        resolve();
      }
      stopping.signal.addEventListener('abort', done);
    });

  /**
   * Writes a task's outcome, trying again while the database (or cns serve) is unreachable: the
   * agent's heartbeats renew every lease its session holds, so an outcome given up on would leave
   * the task held for as long as this worker lives. Refusals (a lost lease, a conflict, bad input)
   * are final at once; anything else is retried for up to WRITE_RETRY_MS.
   */
  const persist = async <T>(write: () => Promise<T>): Promise<T> => {
    const until = Date.now() + WRITE_RETRY_MS;
    for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        return await write();
      } catch (err) {
        const final =
          err instanceof LeaseLostError || (err instanceof CnsError && err.code !== 'store_unavailable');
        if (final || Date.now() + delay > until) throw err;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  };

  /** Reports a write about a task that failed: a lost lease is `lost`, anything else an error. */
  const reportWriteError = (taskId: number, err: unknown, what: string): void => {
    if (err instanceof LeaseLostError) emit({ event: 'lost', taskId, reason: err.message });
    else
      emit({
        event: 'error',
        taskId,
        message: `could not ${what} task ${taskId} (its lease will expire and it will be retried): ${(err as Error).message}`,
      });
  };

  const runTask = async (claimed: ClaimedTask): Promise<void> => {
    const t = claimed.task;
    const token = claimed.leaseToken;
    emit({ event: 'claimed', taskId: t.id, title: t.title, attempt: t.attempts, maxAttempts: t.maxAttempts });
    const workflow = t.workflowId !== null ? await api.getWorkflow(t.workflowId).catch(() => null) : null;
    const env: NodeJS.ProcessEnv = {
      ...options.env,
      CNS_TASK_ID: String(t.id),
      CNS_TASK_TYPE: t.type,
      CNS_TASK_TITLE: t.title,
      CNS_TASK_ATTEMPT: String(t.attempts),
      CNS_TASK_MAX_ATTEMPTS: String(t.maxAttempts),
      CNS_WORKFLOW_ID: t.workflowId === null ? '' : String(t.workflowId),
      CNS_LEASE_TOKEN: token,
      CNS_AGENT_NAME: session.agent.name,
    };
    const cmd = startCommand({
      command,
      cwd,
      env,
      stdin: `${JSON.stringify(taskBrief(claimed, workflow))}\n`,
      timeoutMs,
      graceMs,
      maxOutputChars: maxResultChars,
      stderrTailChars: STDERR_TAIL_CHARS,
    });
    const entry: Running = { command: cmd, lost: null };
    running.set(t.id, entry);
    if (stopping.signal.aborted)
      cmd.terminate(`cns worker ${session.agent.name} was stopped (${stoppedBecause})`);

    // Watch the task while its command runs: renew its lease, and stop the command if the task is
    // no longer this worker's (cancelled by a supervisor, its lease expired, released by the command).
    let finished = false;
    const watch = setInterval(() => {
      api.heartbeatTask(t.id, token).then(
        () => undefined,
        (err: unknown) => {
          if (finished) return;
          if (err instanceof LeaseLostError) {
            entry.lost = err.message;
            cmd.terminate(`the task is no longer this worker's: ${err.message}`);
          }
        },
      );
    }, api.config.heartbeatIntervalMs);

    const run = await cmd.done;
    finished = true;
    clearInterval(watch);
    running.delete(t.id);
    await settle(t, token, run, entry);
  };

  const settle = async (t: Task, token: string, run: CommandRun, entry: Running): Promise<void> => {
    if (entry.lost !== null) {
      emit({ event: 'lost', taskId: t.id, reason: `${entry.lost}; its command was stopped` });
      return;
    }
    const durationMs = run.durationMs;
    // Asked to stop while the command ran (and it did not finish by itself): give the task back.
    if (run.terminated !== null && !run.timedOut && run.sent !== null) {
      const reason =
        `released after ${seconds(durationMs)}: ${run.terminated}, and its command with it` +
        outputTail(run, 2_000);
      try {
        // The note goes into the attempt, which the next claimant receives in its handoff.
        await persist(() => api.progress(t.id, token, { note: reason.slice(0, TEXT_LIMITS.note) }));
        await persist(() => api.release(t.id, token, reason.slice(0, TEXT_LIMITS.reason)));
        emit({ event: 'released', taskId: t.id, durationMs, reason: firstLine(reason) });
      } catch (err) {
        reportWriteError(t.id, err, 'release');
      }
      return;
    }
    if (run.spawnError === null && run.code === 0 && !run.timedOut) {
      const result = run.stdout.text(cutMarker).replace(/\n+$/, '');
      try {
        const task = await persist(() => api.complete(t.id, token, { result }));
        emit({
          event: 'completed',
          taskId: t.id,
          status: task.status,
          durationMs,
          omitted: run.stdout.omitted,
        });
      } catch (err) {
        reportWriteError(t.id, err, 'complete');
      }
      return;
    }
    const why =
      run.spawnError !== null
        ? `could not start the command in ${cwd}: ${run.spawnError.message}`
        : ending(run, timeoutMs);
    const error = (why + outputTail(run, STDERR_TAIL_CHARS)).slice(0, TEXT_LIMITS.error);
    try {
      const task = await persist(() =>
        api.fail(t.id, token, { error, retryable: run.code !== EXIT_NO_RETRY }),
      );
      emit({
        event: 'failed',
        taskId: t.id,
        status: task.status,
        retryAt: task.status === 'pending' ? task.runAfter : null,
        durationMs,
        exitCode: run.code,
        signal: run.signal,
        timedOut: run.timedOut,
        reason: firstLine(why),
      });
    } catch (err) {
      reportWriteError(t.id, err, 'fail');
    }
  };

  /** One slot: claim, run, repeat — until the worker stops, goes idle, or (once) ran its task. */
  const slot = async (): Promise<string> => {
    let idleSince = Date.now();
    let failures = 0;
    while (!stopping.signal.aborted) {
      if (options.once && claimedCount >= 1) return 'once';
      const deadline = idleMs === null ? Infinity : idleSince + idleMs;
      const waitMs = Math.max(0, Math.min(api.config.waitMaxMs, deadline - Date.now()));
      let outcome;
      try {
        outcome = await api.claimNext(session.agent, {
          waitMs,
          signal: stopping.signal,
          leaseMs: options.leaseMs,
          // Each slot claims its own task: over cns serve, never the one another slot holds.
          another: true,
        });
        failures = 0;
      } catch (err) {
        if (stopping.signal.aborted) break;
        failures++;
        const backoff = Math.min(30_000, 500 * 2 ** Math.min(failures - 1, 6));
        emit({
          event: 'error',
          taskId: null,
          message: `claiming failed (trying again in ${seconds(backoff)}): ${(err as Error).message}`,
        });
        await pause(backoff);
        continue;
      }
      if (!outcome.claimed) {
        if (Date.now() >= deadline) return 'idle';
        continue;
      }
      if (options.once && claimedCount >= 1) {
        // Another slot took the one task meanwhile (not possible with concurrency 1): give it back.
        await api.release(outcome.claimed.task.id, outcome.claimed.leaseToken, 'not needed').catch(() => {});
        return 'once';
      }
      claimedCount++;
      try {
        await runTask(outcome.claimed);
      } catch (err) {
        // Not expected (the command's own failures are the task's); the lease expires if it is held.
        emit({ event: 'error', taskId: outcome.claimed.task.id, message: (err as Error).message });
      }
      idleSince = Date.now();
    }
    return stoppedBecause ?? 'stopped';
  };

  const done = (async (): Promise<WorkerSummary> => {
    const ends = await Promise.all(Array.from({ length: concurrency }, () => slot()));
    try {
      await session.stop();
    } catch (err) {
      emit({
        event: 'error',
        taskId: null,
        message: `could not deregister cleanly (held leases will expire): ${(err as Error).message}`,
      });
    }
    return { claimed: claimedCount, stoppedBecause: stoppedBecause ?? ends[0] ?? 'stopped' };
  })();

  return {
    agentName: session.agent.name,
    done,
    stop,
    killCommands: () => {
      for (const r of running.values()) r.command.kill();
    },
  };
}
