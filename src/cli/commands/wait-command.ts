import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import type { CnsApi } from '../../coordinator/cns-api.js';
import { CnsError, InvalidInputError } from '../../core/errors.js';
import type { Agent, Task } from '../../core/types.js';
import { collect, parseDuration, withCoordinator } from '../context.js';
import { EXIT, reportError } from '../errors.js';
import { oneLine, print, printErr, printJson } from '../output.js';

interface WaitOpts {
  agent?: string;
  type?: string;
  capability?: string[];
  timeout?: string;
  json?: boolean;
  hook?: 'rewake' | 'stop';
  server?: string;
  token?: string;
}

/** The longest single wait the coordinator takes; longer waits are made of several. */
const CHUNK_MS = 50_000;

/**
 * `cns wait`: blocks outside any model until a task this agent could claim exists, prints a short
 * brief and exits 0; exits 10 when the time runs out. It claims nothing: the agent claims next
 * (`task_next`). `--hook` speaks Claude Code's hook contract (see docs/claude-code.md).
 */
export function registerWaitCommand(program: Command): void {
  program
    .command('wait')
    .description(
      'wait, without claiming and without a model, until a task this agent could claim exists; print a brief and exit 0 (exit 10 on timeout)',
    )
    .option('--agent <name>', 'the agent: its type and capabilities, and tasks assigned to it, count')
    .option('--type <type>', "the agent type (default: the named agent's; env CNS_AGENT_TYPE)")
    .option('--capability <name>', 'a capability the agent has (repeatable, or comma-separated)', collect)
    .option('--timeout <duration>', 'give up after this long (30s, 10m, 2h; default: wait until work comes)')
    .option('--json', 'print {task} (or {task: null, reason}) as JSON')
    .option(
      '--server <url>',
      'wait through a remote "cns serve" instead of opening a database (env CNS_SERVER); needs an agent token, which names the agent',
    )
    .option('--token <secret>', 'the cns serve agent token (env CNS_TOKEN, preferred)')
    .option(
      '--hook <mode>',
      'run as a Claude Code hook (reads the hook JSON on stdin): "rewake" for an async Stop hook with asyncRewake (exit 2 with the brief on stderr wakes the idle session), "stop" for a blocking Stop hook (prints {"decision":"block"} when work comes)',
    )
    .addHelpText(
      'after',
      `
Who the agent is: --agent NAME (a registered agent: its type and capabilities, and tasks assigned
to it), else --type/--capability (or CNS_AGENT_TYPE). With --hook and no --agent, the agent that a
"cns mcp" started by the same Claude Code session registered is found by its process (Linux), so
tasks assigned to it count too; failing that, CNS_AGENT_TYPE, else "general".

With --server (or env CNS_SERVER) the agent token says who the agent is: its name, type and
capabilities (those of the registered agent once it has registered). If the database or the server
cannot be reached for a while, the wait goes on trying until its time runs out.

Examples:
  cns wait --type backend && claude -p "Call task_next and do the task"
  cns wait --agent backend-1 --timeout 10m --json
  CNS_TOKEN=cns_… cns wait --server http://cns.internal:4747

"cns init --claude-hook" installs the hook that makes an idle Claude Code session wait here.

Exit codes: 0 work is there (the brief is printed); 10 the time ran out; 130 interrupted;
with --hook rewake: 2 work is there (the brief on stderr), 0 otherwise; with --hook, an error exits
1 (never 2, which would wake the session or keep it from stopping, again and again).`,
    )
    .action(async (opts: WaitOpts, cmd: Command) => {
      if (!opts.hook) return runWait(opts, cmd);
      try {
        await runWait(opts, cmd);
      } catch (err) {
        // In a hook, exit code 2 means "wake the session" (asyncRewake) or "do not stop" (a Stop
        // hook): an error must not look like work, or the session would be woken by it again and
        // again. Exit 1: Claude Code shows the error and the session rests.
        reportError(err);
        process.exitCode = EXIT.error;
      }
    });
}

async function runWait(opts: WaitOpts, cmd: Command): Promise<void> {
  if (opts.hook !== undefined && opts.hook !== 'rewake' && opts.hook !== 'stop')
    throw new InvalidInputError(`--hook must be "rewake" or "stop" (got ${JSON.stringify(opts.hook)})`);
  // A hook gets its event as JSON on stdin; read it so the writer is never left blocked.
  if (opts.hook) readHookInput();
  const timeoutMs = opts.timeout === undefined ? Infinity : parseDuration('--timeout', opts.timeout);
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const deadline = Date.now() + timeoutMs;
  const server = opts.server ?? (process.env.CNS_SERVER || undefined);
  try {
    const outcome =
      server !== undefined
        ? await waitRemotely(server, opts, deadline, abort.signal)
        : await withCoordinator(cmd, async (c) => {
            if (opts.token !== undefined)
              throw new InvalidInputError('--token goes with --server (a cns serve URL)');
            const agent = await resolveWaiter(
              opts,
              (ref) => c.findAgent(ref),
              () => c.listAgents(),
            );
            const outage = new Outage(deadline, abort.signal);
            return { ...(await waitLoop(c, agent, outage, deadline, CHUNK_MS, abort.signal)), agent };
          });
    if (outcome.task) return report(outcome.task, outcome.agent, opts);
    if (abort.signal.aborted) {
      process.exitCode = opts.hook ? EXIT.ok : EXIT.interrupted;
      return;
    }
    if (opts.json) printJson({ task: null, reason: outcome.reason });
    else if (!opts.hook) printErr(`no work: ${outcome.reason}`);
    // A hook that found no work lets the session rest: no exit code that would wake or block it.
    process.exitCode = opts.hook ? EXIT.ok : EXIT.noTask;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

type WaitOutcome = { task: Task; reason?: undefined } | { task: null; reason: string };

/**
 * What a wait does while its database or `cns serve` cannot be reached (a restart, a network
 * break): it says so once on stderr and tries again, 1 s, 2 s, 4 s … 15 s apart, until its time
 * runs out — a hook that gave up would leave its session idle for good. Null when interrupted.
 */
class Outage {
  private down = false;
  private pause = 1_000;

  constructor(
    private readonly deadline: number,
    private readonly signal: AbortSignal,
  ) {}

  async retry<T>(attempt: () => Promise<T>): Promise<T | null> {
    for (;;) {
      if (this.signal.aborted) return null;
      try {
        const value = await attempt();
        if (this.down) printErr('cns wait: reachable again, waiting on');
        this.down = false;
        this.pause = 1_000;
        return value;
      } catch (err) {
        if (!(err instanceof CnsError && err.code === 'store_unavailable') || this.signal.aborted) throw err;
        if (!this.down) printErr(`cns wait: ${err.message}; trying again until the wait's time runs out`);
        this.down = true;
        const left = this.deadline - Date.now();
        if (left <= 0) throw err;
        await sleep(Math.min(this.pause, left), this.signal);
        this.pause = Math.min(this.pause * 2, 15_000);
      }
    }
  }
}

/** Waits in chunks until work is there, the deadline or the abort, through outages. */
async function waitLoop(
  api: Pick<CnsApi, 'waitForWork'>,
  agent: Waiter,
  outage: Outage,
  deadline: number,
  chunkMs: number,
  signal: AbortSignal,
): Promise<WaitOutcome> {
  for (;;) {
    const out = await outage.retry(() =>
      api.waitForWork(agent, { waitMs: Math.max(0, Math.min(chunkMs, deadline - Date.now())), signal }),
    );
    if (out === null) return { task: null, reason: 'the wait was interrupted' };
    if (out.task || signal.aborted || Date.now() >= deadline) return out;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** `cns wait --server`: the agent token names the agent; the server waits for it. */
async function waitRemotely(
  server: string,
  opts: WaitOpts,
  deadline: number,
  signal: AbortSignal,
): Promise<WaitOutcome & { agent: Waiter }> {
  const token = opts.token ?? (process.env.CNS_TOKEN || undefined);
  if (!token) throw new InvalidInputError('--server needs a token: --token <secret> or env CNS_TOKEN');
  if (opts.capability !== undefined)
    throw new InvalidInputError(
      '--capability does not go with --server: the agent token (or the registered agent) gives the capabilities',
    );
  const { HttpCnsApi } = await import('../../http/http-client.js');
  // A server that is down when the wait starts (a fleet rebooting, cns serve after its agents) is
  // waited for too.
  const outage = new Outage(deadline, signal);
  const remote = await outage.retry(() => HttpCnsApi.connect(server, token));
  if (remote === null) return { task: null, reason: 'the wait was interrupted', agent: unknownAgent };
  try {
    const who = remote.whoami.agent;
    if (!who)
      throw new InvalidInputError(
        `cns wait --server needs an agent token (this one is a ${remote.whoami.role} token)`,
      );
    if (opts.agent !== undefined && opts.agent !== who.name)
      throw new InvalidInputError(`this token acts as agent ${who.name}, not ${opts.agent}`);
    const type = opts.type ?? (process.env.CNS_AGENT_TYPE || undefined);
    if (type !== undefined && type !== who.type)
      throw new InvalidInputError(`this token's agent has type ${who.type}, not ${type}`);
    const agent: Waiter = { id: 0, name: who.name, type: who.type, capabilities: who.capabilities };
    const chunkMs = Math.min(CHUNK_MS, remote.config.waitMaxMs);
    return { ...(await waitLoop(remote, agent, outage, deadline, chunkMs, signal)), agent };
  } finally {
    await remote.close();
  }
}

interface Waiter {
  id: number;
  name: string;
  type: string;
  capabilities: string[];
}

/** The waiter of a wait interrupted before it knew who it was (only its exit code is used). */
const unknownAgent: Waiter = { id: 0, name: '?', type: '?', capabilities: [] };

async function resolveWaiter(
  opts: WaitOpts,
  find: (ref: string) => Promise<Agent | null>,
  list: () => Promise<Agent[]>,
): Promise<Waiter> {
  let agent: Agent | null = null;
  if (opts.agent !== undefined) {
    agent = await find(opts.agent);
    if (!agent && opts.type === undefined && !process.env.CNS_AGENT_TYPE)
      throw new InvalidInputError(
        `no agent named ${JSON.stringify(opts.agent)} has registered: give --type (and --capability) to wait for its kind of work`,
      );
  } else if (opts.hook) {
    agent = sessionAgent(await list());
  }
  // A hook with nothing else to go on waits for the type `cns mcp` agents are given by cns init.
  const type =
    opts.type ??
    agent?.type ??
    (process.env.CNS_AGENT_TYPE || undefined) ??
    (opts.hook ? 'general' : undefined);
  if (type === undefined)
    throw new InvalidInputError(
      'say whose work to wait for: --agent NAME or --type TYPE (or env CNS_AGENT_TYPE)',
    );
  return {
    // A waiter that is no registered agent has no assigned tasks: id 0 matches none.
    id: agent?.id ?? 0,
    name: agent?.name ?? `wait-${type}`,
    type,
    capabilities: opts.capability ?? agent?.capabilities ?? [],
  };
}

/**
 * The agent of this Claude Code session: a live agent registered from this host by a process
 * whose parent is one of our ancestors (the `cns mcp` that the same `claude` started). Linux only
 * (reads /proc); null elsewhere or when there is none.
 */
function sessionAgent(agents: Agent[]): Agent | null {
  const ancestors = new Set<number>();
  let pid = process.ppid;
  for (let i = 0; i < 6 && pid > 1; i++) {
    ancestors.add(pid);
    const parent = parentOf(pid);
    if (parent === null) break;
    pid = parent;
  }
  const host = hostname();
  const mine = agents.filter(
    (a) =>
      a.status !== 'offline' && a.host === host && a.pid !== null && ancestors.has(parentOf(a.pid) ?? -1),
  );
  return mine.sort((a, b) => b.lastHeartbeatAt - a.lastHeartbeatAt)[0] ?? null;
}

function parentOf(pid: number): number | null {
  try {
    // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : null;
  } catch {
    return null;
  }
}

interface HookInput {
  hook_event_name?: string;
  stop_hook_active?: boolean;
}

/** The hook's JSON on stdin (Claude Code sends one object); {} when there is none or it is not JSON. */
function readHookInput(): HookInput {
  if (process.stdin.isTTY) return {};
  try {
    const text = readFileSync(0, 'utf8');
    const value: unknown = text.trim() === '' ? {} : JSON.parse(text);
    return value !== null && typeof value === 'object' ? (value as HookInput) : {};
  } catch {
    return {};
  }
}

function brief(task: Task, agent: Waiter): string {
  const assigned = task.status === 'assigned' ? ' (assigned to you)' : '';
  const caps = task.requires.length ? `, needs ${task.requires.join(', ')}` : '';
  return `cns: task #${task.id} is waiting for a ${agent.type} agent${assigned}: "${oneLine(task.title, 120)}" (priority ${task.priority}${caps}).`;
}

function report(task: Task, agent: Waiter, opts: WaitOpts): void {
  const text = brief(task, agent);
  const instruction = 'Call the task_next tool to claim it, do it, then complete it with task_complete.';
  if (opts.hook === 'rewake') {
    // asyncRewake: exit 2 wakes the idle session and hands it stderr.
    process.stderr.write(`${text} ${instruction}\n`);
    process.exitCode = 2;
    return;
  }
  if (opts.hook === 'stop') {
    // A blocking Stop hook: "block" keeps the session going with the reason as its instruction.
    printJson({ decision: 'block', reason: `${text} ${instruction}` });
    return;
  }
  if (opts.json) return printJson({ task });
  print(
    `${text}\nClaim it with task_next (MCP) or: cns task claim --agent ${agent.name} --type ${agent.type}`,
  );
}
