import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { InvalidInputError } from '../../core/errors.js';
import type { McpRole } from '../../mcp/tool-kit.js';
import { collect, intOption, openFromOptions, type GlobalOptions } from '../context.js';

interface McpOptions {
  role?: McpRole;
  server?: string;
  token?: string;
  type?: string;
  capability?: string[];
  name?: string;
  leaseMs?: number;
  heartbeatMs?: number;
}

/** Registers `cns mcp`: the MCP server on stdio for an agent or a supervisor. */
export function registerMcpCommand(program: Command): void {
  program
    .command('mcp')
    .summary('run the MCP server on stdio (for Claude Code or any MCP client)')
    .description(
      [
        'Run the cns MCP server on stdio. An MCP client (e.g. Claude Code) starts it; stdout carries only protocol messages, logs go to stderr.',
        'Role agent: this process is the agent. It registers on start (name default <type>-<host>-<pid>), heartbeats in the background (renewing the leases of the tasks it holds) and, on a clean exit (stdin closed, SIGTERM, SIGINT), releases what it holds and deregisters. If it dies, its leases expire and its tasks go back to the queue with its last progress note in the handoff. Tools: task_next, task_update, task_complete, task_fail, task_release, task_get. Prompt: worker.',
        'Role supervisor: tools to queue, watch and review work: workflow_create, task_create, task_list, task_get, task_wait, task_review, task_cancel, task_retry, fleet_status. Prompt: supervisor.',
        'Role both: all of them, as one agent that also supervises (it cannot approve its own results).',
      ].join('\n\n'),
    )
    .addOption(
      new Option(
        '--role <role>',
        "agent, supervisor or both (required, except with --server: then the token's role)",
      ).choices(['agent', 'supervisor', 'both']),
    )
    .option(
      '--server <url>',
      'talk to a remote "cns serve" at this URL instead of opening a database (env CNS_SERVER); needs --token',
    )
    .option(
      '--token <secret>',
      'the cns serve token (env CNS_TOKEN, preferred: arguments are visible to other local users); an agent token also gives the agent name and type',
    )
    .option(
      '--type <type>',
      "agent type: which tasks this agent takes (required for roles agent and both; env CNS_AGENT_TYPE, for clients whose own --type option takes this one, as Gemini CLI's does)",
    )
    .option('--capability <name>', 'a capability the agent has (repeatable, or comma-separated)', collect)
    .option(
      '--name <name>',
      'agent name (default <type>-<host>-<pid>); for a supervisor, the name its actions are recorded under (default "supervisor")',
    )
    .option(
      '--lease-ms <ms>',
      'lease length for tasks this agent claims (env CNS_LEASE_MS; default 30000)',
      intOption('--lease-ms', 100),
    )
    .option(
      '--heartbeat-ms <ms>',
      'how often the agent heartbeats, renewing its leases (env CNS_HEARTBEAT_MS; default a third of the lease)',
      intOption('--heartbeat-ms', 10),
    )
    .addHelpText(
      'after',
      `
The database comes from the global --db option (or CNS_DB; default .cns/cns.db, see "cns init").

Examples:
  cns mcp --role agent --type backend --capability node,postgres
  cns mcp --role supervisor
  cns --db /tmp/team.db mcp --role agent --type backend --lease-ms 60000

Claude Code ("cns init" writes both to .mcp.json, with absolute paths to this cns):
  claude mcp add -s project cns-agent -- cns mcp --role agent --type backend
  claude mcp add -s project cns-supervisor -- cns mcp --role supervisor
  claude mcp add cns-agent -e CNS_DB=/path/to/cns.db -- cns mcp --role agent --type backend
  claude mcp add cns-agent -e CNS_TOKEN=cns_… -- cns mcp --server http://cns.internal:4747
(The server's name comes before -e: -e takes several values.)

See docs/mcp.md for the tools and a walk-through.`,
    )
    .action(async (opts: McpOptions, cmd: Command) => {
      const global = cmd.optsWithGlobals() as GlobalOptions & McpOptions;
      const server = opts.server ?? (process.env.CNS_SERVER || undefined);
      if (server !== undefined) {
        await runRemote(server, opts);
        return;
      }
      if (opts.role === undefined)
        throw new InvalidInputError('--role is required (agent, supervisor or both)');
      if (opts.role !== 'supervisor') opts.type ??= process.env.CNS_AGENT_TYPE || undefined;
      if (opts.token !== undefined)
        throw new InvalidInputError('--token goes with --server (a cns serve URL)');
      const role = opts.role;
      if (role !== 'supervisor' && !opts.type) {
        throw new InvalidInputError(
          `--type is required for --role ${role} (the type of tasks this agent takes; or env CNS_AGENT_TYPE)`,
        );
      }
      if (role === 'supervisor' && (opts.type || opts.capability)) {
        throw new InvalidInputError(
          '--type and --capability are for agents: use --role agent or --role both',
        );
      }
      const coordinator = await openFromOptions(
        { db: global.db, leaseMs: opts.leaseMs, heartbeatIntervalMs: opts.heartbeatMs },
        // Claude Code starts this process in the project: create the database on first use.
        { reaper: true, create: true },
      );
      // Loaded here, not at the top, so other commands do not pay for the MCP SDK at start-up.
      const { runMcpServer } = await import('../../mcp/run-mcp-server.js');
      let running;
      try {
        running = await runMcpServer({
          coordinator,
          role,
          agent: opts.type
            ? { type: opts.type, capabilities: opts.capability ?? [], name: opts.name }
            : undefined,
          // Who the supervisor tools act as: the agent (roles agent, both), else the supervisor by
          // name (no agent; the author rule also compares names).
          actor:
            role === 'supervisor'
              ? { name: opts.name ?? 'supervisor', agentId: null, role: 'supervisor' }
              : undefined,
          version: version(),
        });
      } catch (err) {
        await coordinator.close().catch(() => {});
        throw err;
      }
      await running.stopped;
      // Everything is closed; if some handle still keeps the process alive, do not linger.
      setTimeout(() => process.exit(), 200).unref();
    });
}

/**
 * `cns mcp --server URL --token T`: the same stdio server over a remote cns serve. The role, agent
 * name and type come from the token; this process still heartbeats for the agent (its liveness).
 */
async function runRemote(server: string, opts: McpOptions): Promise<void> {
  const token = opts.token ?? (process.env.CNS_TOKEN || undefined);
  if (!token) throw new InvalidInputError('--server needs a token: --token <secret> or env CNS_TOKEN');
  if (opts.leaseMs !== undefined)
    throw new InvalidInputError(
      "--lease-ms is the server's setting with --server (start cns serve with CNS_LEASE_MS)",
    );
  // Loaded here, not at the top, so other commands do not pay for them at start-up.
  const { HttpCnsApi } = await import('../../http/http-client.js');
  const { runMcpServer } = await import('../../mcp/run-mcp-server.js');
  const api = await HttpCnsApi.connect(server, token, { heartbeatIntervalMs: opts.heartbeatMs });
  const who = api.whoami;
  const role: McpRole = opts.role ?? (who.role === 'agent' ? 'agent' : 'supervisor');
  if (role === 'both')
    throw new InvalidInputError(
      '--role both is not available with --server: run one agent (agent token) and one supervisor (supervisor token)',
    );
  if (role === 'agent' && !who.agent)
    throw new InvalidInputError(`--role agent needs an agent token (this one is a ${who.role} token)`);
  if (role === 'supervisor' && who.role === 'agent')
    throw new InvalidInputError(
      '--role supervisor needs a supervisor or admin token (this one is an agent token)',
    );
  if (who.agent && opts.type && opts.type !== who.agent.type)
    throw new InvalidInputError(`this token's agent has type ${who.agent.type}, not ${opts.type}`);
  if (who.agent && opts.name && opts.name !== who.agent.name)
    throw new InvalidInputError(`this token acts as agent ${who.agent.name}, not ${opts.name}`);
  let running;
  try {
    running = await runMcpServer({
      coordinator: api,
      role,
      agent: who.agent
        ? {
            type: who.agent.type,
            capabilities: opts.capability ?? who.agent.capabilities,
            name: who.agent.name,
          }
        : undefined,
      // Informational: over HTTP the server decides who acts, from the token.
      actor: who.agent ? undefined : { name: who.name, agentId: null, role: who.role },
      version: version(),
    });
  } catch (err) {
    await api.close().catch(() => {});
    throw err;
  }
  await running.stopped;
  setTimeout(() => process.exit(), 200).unref();
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
