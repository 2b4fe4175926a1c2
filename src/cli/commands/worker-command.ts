import { Option, type Command } from 'commander';

/**
 * `cns worker --type T --exec CMD`: a headless agent that runs a command per task (a build, a test,
 * `claude -p`), waiting for work without any model. The loop is src/worker/exec-worker.ts; this file
 * only turns options into it. Its modules are loaded in the action, so that other commands do not
 * pay for them at start-up.
 */

interface WorkerOptions {
  type?: string;
  exec: string;
  name?: string;
  capability?: string[];
  cwd?: string;
  concurrency?: string;
  timeout?: string;
  grace?: string;
  once?: boolean;
  wait?: string;
  maxResultChars?: string;
  maxDepth?: string;
  leaseMs?: string;
  heartbeatMs?: string;
  server?: string;
  token?: string;
  json?: boolean;
}

function collectList(value: string, previous: string[] | undefined): string[] {
  return [
    ...(previous ?? []),
    ...value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  ];
}

/** Registers `cns worker`. */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .summary('run a command per task: a headless agent with no idle model (a build, a test, claude -p)')
    .description(
      [
        'Run as an agent of type --type that, for each task it claims, runs --exec CMD (with /bin/sh -c, in --cwd) with the task as JSON on stdin and its id, type, title, attempt and lease token in the environment.',
        "Exit code 0 completes the task with the command's stdout as the result; 78 fails it for good; any other exit code, a signal or --timeout fails it, and it is retried while attempts remain. While the command runs the worker heartbeats (renewing the lease); if the task is cancelled meanwhile, the command is stopped.",
        'SIGTERM or Ctrl-C stops claiming, stops running commands (SIGTERM, then SIGKILL after --grace; a second Ctrl-C kills them at once), releases their tasks with a note and deregisters. If the worker dies, its leases expire and its tasks go back to the queue.',
        "Recursion guard: the commands run with CNS_WORKER_DEPTH set to this worker's depth + 1; a worker refuses to start (exit code 11) when its depth has reached --max-depth (env CNS_WORKER_MAX_DEPTH, default 1: a worker's command cannot start another worker).",
      ].join('\n\n'),
    )
    .option(
      '--type <type>',
      'agent type: which tasks this worker takes (required unless --server; env CNS_AGENT_TYPE)',
    )
    .requiredOption('--exec <command>', 'the command run for each task, by /bin/sh -c')
    .option(
      '--capability <name>',
      'a capability the worker has (repeatable, or comma-separated)',
      collectList,
    )
    .option('--name <name>', 'agent name (default <type>-worker-<host>-<pid>)')
    .option('--cwd <dir>', 'the folder the command runs in (default: the current folder)')
    .option('--concurrency <n>', 'tasks run at once, each its own command (default 1)')
    .option('--timeout <duration>', 'stop a command that runs longer (e.g. 30s, 10m, 2h) and fail its task')
    .option('--grace <duration>', 'how long a stopped command has between SIGTERM and SIGKILL (default 10s)')
    .option(
      '--once',
      'take one task (waiting for it), run it, and exit; exit code 10 if none came (see --wait)',
    )
    .option(
      '--wait <duration>',
      'exit after waiting this long without a task (e.g. 0, 30s, 1h; default: wait for ever)',
    )
    .option(
      '--max-result-chars <n>',
      'the most of stdout kept as the result, its start and its end (default 100000, at most 1000000)',
    )
    .option('--max-depth <n>', 'how deep workers may nest (env CNS_WORKER_MAX_DEPTH; default 1: no nesting)')
    .option(
      '--lease-ms <ms>',
      'lease length of the tasks this worker claims (env CNS_LEASE_MS; default 30000)',
    )
    .option(
      '--heartbeat-ms <ms>',
      'how often the worker heartbeats, renewing its leases (env CNS_HEARTBEAT_MS; default a third of the lease)',
    )
    .option(
      '--server <url>',
      'take tasks from a remote "cns serve" instead of opening a database (env CNS_SERVER); needs an agent token',
    )
    .option(
      '--token <secret>',
      'the cns serve agent token (env CNS_TOKEN, preferred); gives the name and type',
    )
    .addOption(new Option('--json', 'one JSON object per line on stdout for each event, instead of text'))
    .addHelpText(
      'after',
      `
The command's environment: CNS_TASK_ID, CNS_TASK_TYPE, CNS_TASK_TITLE, CNS_TASK_ATTEMPT,
CNS_TASK_MAX_ATTEMPTS, CNS_WORKFLOW_ID, CNS_AGENT_NAME, CNS_LEASE_TOKEN (so that it may run
"cns task progress $CNS_TASK_ID --token $CNS_LEASE_TOKEN --note …" itself), CNS_DB (the worker's
database), CNS_WORKER_DEPTH and CNS_WORKER_MAX_DEPTH. The worker's CNS_TOKEN is not passed on.

Examples:
  cns worker --type test --exec 'npm test' --timeout 20m
  cns worker --type shell --exec 'sh ./scripts/run-step.sh' --concurrency 4
  cns worker --type code --timeout 30m \\
    --exec 'claude -p "Do the task described by the JSON on stdin. Print only your result." --output-format text'
  cns worker --type build --exec 'make' --once --wait 0       # cron: one task if there is one

See docs/worker.md for the contract: the JSON on stdin, the variables, exit codes, result bounds.`,
    )
    .action(async (opts: WorkerOptions, cmd: Command) => {
      await runWorker(opts, cmd.optsWithGlobals() as { db?: string });
    });
}

async function runWorker(opts: WorkerOptions, global: { db?: string }): Promise<void> {
  // Loaded here, not at the top, so that other commands do not pay for them at start-up.
  const [{ hostname }, { existsSync, statSync }, { resolve }] = await Promise.all([
    import('node:os'),
    import('node:fs'),
    import('node:path'),
  ]);
  const { InvalidInputError } = await import('../../core/errors.js');
  const { EXIT } = await import('../errors.js');
  const guard = await import('../../worker/recursion-guard.js');
  const { intOption, parseDuration } = await import('../context.js');

  // The recursion guard comes first: a refused worker opens nothing.
  const maxDepthFlag =
    opts.maxDepth === undefined ? undefined : intOption('--max-depth', 0, 1_000)(opts.maxDepth);
  const depth = guard.workerDepth(maxDepthFlag);
  const refusal = guard.nestingRefusal(depth);
  if (refusal !== null) {
    process.stderr.write(`cns: ${refusal}\n`);
    process.exitCode = EXIT.nested;
    return;
  }

  const concurrency =
    opts.concurrency === undefined ? 1 : intOption('--concurrency', 1, 256)(opts.concurrency);
  if (opts.once && concurrency > 1)
    throw new InvalidInputError('--once runs one task: it does not go with --concurrency');
  const timeoutMs = opts.timeout === undefined ? null : parseDuration('--timeout', opts.timeout);
  if (timeoutMs !== null && timeoutMs < 1) throw new InvalidInputError('--timeout must be more than 0');
  const graceMs = opts.grace === undefined ? undefined : parseDuration('--grace', opts.grace);
  const idleMs = opts.wait === undefined ? null : parseDuration('--wait', opts.wait);
  const maxResultChars =
    opts.maxResultChars === undefined
      ? undefined
      : intOption('--max-result-chars', 1, 1_000_000)(opts.maxResultChars);
  const leaseMs = opts.leaseMs === undefined ? undefined : intOption('--lease-ms', 100)(opts.leaseMs);
  const heartbeatMs =
    opts.heartbeatMs === undefined ? undefined : intOption('--heartbeat-ms', 10)(opts.heartbeatMs);
  if (opts.exec.trim() === '') throw new InvalidInputError('--exec needs a command');
  const cwd = resolve(opts.cwd ?? '.');
  if (!existsSync(cwd) || !statSync(cwd).isDirectory())
    throw new InvalidInputError(`--cwd ${cwd} is not a folder`);

  // The commands' environment: this one, without the worker's own server token (a command must not
  // act as this agent), with the recursion guard's depth.
  const env: NodeJS.ProcessEnv = { ...process.env, ...guard.childDepthEnv(depth) };
  delete env.CNS_TOKEN;
  // A worker started from inside a Claude Code session must not make the `claude -p` it runs think it
  // is nested in that session (Claude Code marks its children with these variables).
  for (const key of Object.keys(env))
    if (key === 'CLAUDECODE' || key.startsWith('CLAUDE_CODE_')) delete env[key];

  const server = opts.server ?? (process.env.CNS_SERVER || undefined);
  let api: import('../../coordinator/cns-api.js').CnsApi;
  let agent: { name: string; type: string; capabilities: string[] };
  let where: string;
  if (server !== undefined) {
    const token = opts.token ?? (process.env.CNS_TOKEN || undefined);
    if (!token) throw new InvalidInputError('--server needs a token: --token <secret> or env CNS_TOKEN');
    if (leaseMs !== undefined)
      throw new InvalidInputError(
        "--lease-ms is the server's setting with --server (start cns serve with CNS_LEASE_MS)",
      );
    const { HttpCnsApi } = await import('../../http/http-client.js');
    const remote = await HttpCnsApi.connect(server, token, { heartbeatIntervalMs: heartbeatMs });
    const who = remote.whoami.agent;
    const fail = (message: string) => {
      void remote.close();
      return new InvalidInputError(message);
    };
    if (!who) throw fail(`cns worker needs an agent token (this one is a ${remote.whoami.role} token)`);
    const type = opts.type ?? (process.env.CNS_AGENT_TYPE || undefined);
    if (type && type !== who.type) throw fail(`this token's agent has type ${who.type}, not ${type}`);
    if (opts.name && opts.name !== who.name)
      throw fail(`this token acts as agent ${who.name}, not ${opts.name}`);
    api = remote;
    agent = { name: who.name, type: who.type, capabilities: opts.capability ?? who.capabilities };
    where = `server ${remote.config.db}`;
  } else {
    if (opts.token !== undefined) throw new InvalidInputError('--token goes with --server (a cns serve URL)');
    const type = opts.type ?? (process.env.CNS_AGENT_TYPE || undefined);
    if (!type)
      throw new InvalidInputError(
        '--type is required: the type of tasks this worker takes (or env CNS_AGENT_TYPE)',
      );
    const { openFromOptions } = await import('../context.js');
    const { maskDatabaseUrl, parseDatabaseLocation } = await import('../../coordinator/database.js');
    const coordinator = await openFromOptions(
      { db: global.db, leaseMs, heartbeatIntervalMs: heartbeatMs },
      { reaper: true },
    );
    api = coordinator;
    agent = {
      name: opts.name ?? `${type}-worker-${hostname()}-${process.pid}`,
      type,
      capabilities: opts.capability ?? [],
    };
    const db = coordinator.config.db;
    const loc = parseDatabaseLocation(db);
    // The commands may run "cns task progress" etc. on the same database, from any folder.
    env.CNS_DB = loc.kind === 'sqlite' && loc.path !== ':memory:' ? resolve(loc.path) : db;
    where = `db ${maskDatabaseUrl(db)}`;
  }

  const { startExecWorker } = await import('../../worker/exec-worker.js');
  const { printJsonLine, oneLine } = await import('../output.js');
  const { describeEvent } = await import('../../worker/worker-log.js');
  const log = (line: string) => void process.stderr.write(`cns worker: ${oneLine(line)}\n`);

  let worker;
  try {
    worker = await startExecWorker({
      api,
      agent: { ...agent, host: hostname(), pid: process.pid },
      clientInfo: { front: 'worker' },
      command: opts.exec,
      cwd,
      env,
      concurrency,
      once: opts.once ?? false,
      idleMs,
      timeoutMs,
      graceMs,
      leaseMs,
      maxResultChars,
      onEvent: (event) => {
        if (opts.json) printJsonLine({ at: new Date().toISOString(), ...event });
        else if (event.event === 'registered')
          log(
            `${describeEvent(event)}, ${where}; running ${JSON.stringify(opts.exec)} in ${cwd}` +
              (concurrency > 1 ? `, ${concurrency} at once` : '') +
              (depth.depth > 0 ? ` (worker depth ${depth.depth} of ${depth.max})` : ''),
          );
        else if (event.event === 'error') log(describeEvent(event));
        else process.stdout.write(`${new Date().toISOString()} ${oneLine(describeEvent(event))}\n`);
      },
    });
  } catch (err) {
    await api.close().catch(() => {});
    throw err;
  }

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      log(`${signal}: stopping (running commands get SIGTERM; ${signal} again kills them)`);
      worker.stop(signal);
    } else worker.killCommands();
  };
  const handlers = (['SIGTERM', 'SIGINT', 'SIGHUP'] as const).map((s) => {
    const h = () => onSignal(s);
    process.on(s, h);
    return [s, h] as const;
  });
  try {
    const summary = await worker.done;
    log(
      `stopped (${summary.stoppedBecause}) after ${summary.claimed} task(s); agent ${worker.agentName} deregistered`,
    );
    if (opts.once && summary.claimed === 0 && signals === 0) {
      log('no task came');
      process.exitCode = EXIT.noTask;
    }
  } finally {
    await api.close().catch((err: unknown) => log(`closing failed: ${String(err)}`));
    for (const [s, h] of handlers) process.off(s, h);
  }
  // Everything is closed; if some handle still keeps the process alive, do not linger.
  setTimeout(() => process.exit(), 200).unref();
}
