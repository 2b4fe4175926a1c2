#!/usr/bin/env node
/**
 * The `cns` command line: a front over the coordinator (src/coordinator/). Errors become one line
 * on stderr and an exit code in one place (errors.ts).
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { CONFIG_ENV_VARS } from '../core/config.js';
import { registerAgentsCommand } from './commands/agents-command.js';
import { registerDemoCommand } from './commands/demo-command.js';
import { registerEventsCommand } from './commands/events-command.js';
import { registerExplainCommand } from './commands/explain-command.js';
import { registerInitCommand } from './commands/init-command.js';
import { registerMcpCommand } from './commands/mcp-command.js';
import { registerMigrateCommand } from './commands/migrate-command.js';
import { registerQuestionCommands } from './commands/question-commands.js';
import { registerServeCommand } from './commands/serve-command.js';
import { registerStatusCommand } from './commands/status-command.js';
import { registerTaskCommands } from './commands/task-commands.js';
import { registerTokenCommands } from './commands/token-commands.js';
import { registerWaitCommand } from './commands/wait-command.js';
import { registerWorkerCommand } from './commands/worker-command.js';
import { registerWorkflowCommands } from './commands/workflow-commands.js';
import { EXIT, EXIT_CODES_HELP, reportError } from './errors.js';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function wrap(text: string, width: number, prefix: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${prefix}`);
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('cns')
    .description(
      'cns: a durable coordination database for fleets of AI coding agents.\n' +
        'A supervisor queues tasks (grouped in workflows); agents claim them, report progress and results.',
    )
    .version(version(), '-V, --version', 'print the cns version')
    .addOption(
      new Option(
        '--db <path|url>',
        'the database: a SQLite file path or a postgres:// URL (env CNS_DB; default .cns/cns.db in this folder or the nearest parent that has .cns/)',
      ),
    )
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({ outputError: () => {} }) // errors are printed by errors.ts, on one line
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Start here:
  cns init                                  set up .cns/ and .mcp.json in this project
  cns task add --type general --title "…"   queue a task
  cns status                                the fleet, task counts, stuck tasks

Environment (flags win over the environment, which wins over the defaults):
  ${wrap(CONFIG_ENV_VARS.join(', '), 96, '  ')}
  CNS_DEBUG=1 prints stack traces with errors.

${EXIT_CODES_HELP}`,
    );

  registerInitCommand(program);
  registerTaskCommands(program);
  registerWaitCommand(program);
  registerWorkflowCommands(program);
  registerAgentsCommand(program);
  registerStatusCommand(program);
  registerEventsCommand(program);
  registerExplainCommand(program);
  registerQuestionCommands(program);
  registerMcpCommand(program);
  registerMigrateCommand(program);
  registerServeCommand(program);
  registerDemoCommand(program);
  registerTokenCommands(program);
  registerWorkerCommand(program);
  return program;
}

/** Top-level commands that finish on their own (unlike `cns mcp`, which serves until stdin closes). */
const ONE_SHOT = new Set([
  'init',
  'task',
  'workflow',
  'agents',
  'status',
  'events',
  'explain',
  'token',
  'migrate',
]);
let oneShot = false;

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  program.hook('preAction', (_root, action) => {
    let top: Command = action;
    while (top.parent && top.parent !== program) top = top.parent;
    oneShot = ONE_SHOT.has(top.name());
  });
  if (argv.length <= 2) {
    program.outputHelp();
    return 0;
  }
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    const code = reportError(err);
    // `cns wait --hook` runs as a Claude Code hook, where 2 means "wake the session" or "do not
    // stop": an option the installed cns does not know must not look like work (see wait-command).
    const args = argv.slice(2);
    return code === EXIT.usage && args.includes('wait') && args.includes('--hook') ? EXIT.error : code;
  }
}

// A closed pipe (`cns events --follow | head -1`) ends the command quietly, not with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const code = await main();
process.exitCode = code;
// A one-shot command has closed everything by now; if some handle still keeps the process alive,
// do not hang (the timer is unref'd: it fires only then). Not for `cns mcp`, which serves on.
if (oneShot || code !== 0) setTimeout(() => process.exit(), 2_000).unref();
