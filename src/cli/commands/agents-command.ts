import type { Command } from 'commander';
import type { Agent } from '../../core/types.js';
import { withCoordinator } from '../context.js';
import { age, print, printJson, table } from '../output.js';

/** `cns agents`: the fleet. */
export function registerAgentsCommand(program: Command): void {
  program
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
