import { InvalidArgumentError, Option, type Command } from 'commander';

interface DemoCommandOptions {
  speed: number;
  agents: number;
  keep?: boolean;
  port: number;
  verbose?: boolean;
}

const DEFAULT_PORT = 4747;

function numberIn(name: string, min: number, max: number, integer: boolean): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
      throw new InvalidArgumentError(
        `${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max} (got ${JSON.stringify(value)})`,
      );
    return n;
  };
}

/**
 * `cns demo`: a fleet simulator with no LLM. The implementation (src/demo/) loads in the action,
 * so that other commands do not pay for it at start-up.
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .summary('watch a simulated fleet at work on the dashboard (no LLM needed)')
    .description(
      [
        'Start the dashboard and a simulated fleet on a demo database, and keep it busy: the supervisor queues a feature workflow (design, then backend and frontend in parallel, then end-to-end tests, then a final review) now and another every 45 seconds or so; the agents report progress notes and checkpoints, one crashes and another resumes from its checkpoint, one asks a question the supervisor answers, a review requests changes, a test run fails and is retried.',
        'The agents are real processes, through the paths real agents use: every other one is a "cns mcp" process driven over MCP, the others run an AgentSession (the TypeScript API). Nothing of the simulated work touches your files.',
        'The database is a fresh file in the OS temp folder, removed on exit unless --keep; your .cns/cns.db is not touched (CNS_DB is ignored). The global --db uses that database instead, and keeps it.',
        'Ctrl-C or SIGTERM stops every process it started; so does its own death (the agents watch their stdin).',
      ].join('\n\n'),
    )
    .addOption(
      new Option('--speed <factor>', 'pace: 2 runs twice as fast, 0.5 half as fast')
        .default(1)
        .argParser(numberIn('--speed', 0.1, 20, false)),
    )
    .addOption(
      new Option(
        '--agents <n>',
        'how many agents (at least one of each type: designer, backend, frontend, tester, reviewer)',
      )
        .default(6)
        .argParser(numberIn('--agents', 5, 40, true)),
    )
    .option('--keep', 'keep the demo database on exit (and print how to look at it)')
    .addOption(
      new Option(
        '--port <port>',
        `the dashboard's port (0 picks a free one; when ${DEFAULT_PORT} is taken and --port is not given, a free one is picked)`,
      )
        .default(DEFAULT_PORT)
        .argParser(numberIn('--port', 0, 65535, true)),
    )
    .option('--verbose', "also show the server's and the agent processes' own logs")
    .addHelpText(
      'after',
      `
Examples:
  cns demo                         the dashboard at http://127.0.0.1:4747/ (sign in with the token it prints)
  cns demo --speed 3 --agents 10   faster, with more agents
  cns demo --keep                  then: cns --db <the path it prints> status`,
    )
    .action(async (opts: DemoCommandOptions, cmd: Command) => {
      const global = cmd.optsWithGlobals() as { db?: string };
      const [{ runDemo }, { selfCommand }, { prepareDatabase }] = await Promise.all([
        import('../../demo/run-demo.js'),
        import('../self.js'),
        import('../context.js'),
      ]);
      if (global.db !== undefined) prepareDatabase(global.db, true);
      const portGiven = cmd.getOptionValueSource('port') === 'cli';
      await runDemo({
        db: global.db ?? null,
        speed: opts.speed,
        agents: opts.agents,
        keep: opts.keep ?? false,
        port: opts.port,
        portGiven,
        host: '127.0.0.1',
        verbose: opts.verbose ?? false,
        cns: selfCommand(),
        print: (line) => process.stdout.write(`${line}\n`),
      });
      setTimeout(() => process.exit(), 200).unref();
    });
}
