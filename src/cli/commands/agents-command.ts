import type { Command } from 'commander';
import type { Agent } from '../../core/types.js';
import { parseDuration, resolveActor, withCoordinator } from '../context.js';
import { age, print, printJson, table } from '../output.js';

/** `cns agents`: the fleet; `cns agents forget`: leave long-gone agents out of it. */
export function registerAgentsCommand(program: Command): void {
  const agents = program
    .command('agents')
    .description(
      'the fleet: every agent with its type, capabilities, status (idle/working/offline), heartbeat age and held tasks',
    )
    .option('--json', 'print the agents as JSON')
    .addHelpText(
      'after',
      `
An agent is offline when it deregistered or its last heartbeat is older than the offline threshold
(default 30 s, env CNS_OFFLINE_AFTER_MS).`,
    )
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withCoordinator(
        cmd,
        async (c) => {
          const [agents, now] = await Promise.all([c.listAgents(), c.now()]);
          if (opts.json) return printJson(agents);
          if (agents.length === 0)
            return print('no agents have registered yet (see "cns status" for how to start one)');
          print(agentsTable(agents, now));
        },
        { sweep: true },
      );
    });

  agents
    .command('forget')
    .description(
      'leave agents that are offline and long silent out of the fleet (their history stays; one that registers again comes back)',
    )
    .argument('[names...]', 'only these agents (default: every agent offline for --offline-for)')
    .option('--offline-for <duration>', 'silent for at least this long (e.g. 1h, 2d; default 1h)', '1h')
    .option('--as <name>', 'who forgets them, for the event log (default cli)')
    .option('--json', 'print the forgotten agents as JSON')
    .addHelpText(
      'after',
      `
An agent that holds a task, or was heard from within --offline-for, is never forgotten. Each
forgotten agent gets one "agent.forgotten" event.

Examples:
  cns agents forget                    every agent offline and silent for an hour
  cns agents forget --offline-for 0s shell-1 shell-2`,
    )
    .action(
      async (names: string[], opts: { offlineFor: string; as?: string; json?: boolean }, cmd: Command) => {
        const silentForMs = parseDuration('--offline-for', opts.offlineFor);
        const forgotten = await withCoordinator(cmd, async (c) =>
          c.forgetAgents(
            { silentForMs, names: names.length ? names : undefined },
            await resolveActor(c, opts.as),
          ),
        );
        if (opts.json) return printJson(forgotten);
        print(
          forgotten.length === 0
            ? 'no agent to forget (none offline and silent that long, or each holds a task)'
            : `forgot ${forgotten.length} agent(s): ${forgotten.map((a) => a.name).join(', ')}`,
        );
      },
    );
}

export function agentsTable(agents: Agent[], now: number): string {
  return table(agents, [
    { header: 'NAME', get: (a) => a.name, max: 32 },
    { header: 'TYPE', get: (a) => a.type, max: 20 },
    { header: 'CAPABILITIES', get: (a) => a.capabilities.join(',') || '-', max: 30 },
    { header: 'STATUS', get: (a) => a.status },
    { header: 'HEARTBEAT', get: (a) => `${age(now - a.lastHeartbeatAt)} ago`, align: 'right' },
    { header: 'HELD', get: (a) => a.heldTasks.join(',') || '-', max: 30 },
  ]);
}
