import type { Command } from 'commander';
import { maskDatabaseUrl } from '../../coordinator/database.js';
import { describeReason } from '../../coordinator/explain.js';
import { TASK_STATUSES } from '../../core/status.js';
import { withCoordinator } from '../context.js';
import { oneLine, print, printJson } from '../output.js';
import { agentsTable } from './agents-command.js';

/** `cns status`: the fleet, task counts by status, and the tasks that are stuck (with why). */
export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('the fleet, task counts by status, and the stuck tasks with why they are not moving')
    .option('--json', 'print {at, backend, agents, counts, openQuestions, stuck} as JSON')
    .addHelpText(
      'after',
      `
"Stuck" tasks are non-final tasks that cannot move on their own: no live agent of their type (or
with their capabilities), held by an agent that went offline, or assigned to an absent agent.
The lease reaper runs once before the numbers are read, so expired leases are already returned.`,
    )
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withCoordinator(
        cmd,
        async (c) => {
          const s = await c.status();
          if (opts.json) return printJson(s);
          const total = TASK_STATUSES.reduce((n, st) => n + s.counts[st], 0);
          const db = `${maskDatabaseUrl(c.config.db)} (${s.backend})`;
          if (total === 0 && s.agents.length === 0) return print(emptyScreen(db));
          const lines: string[] = [`cns: ${db}`, ''];
          const live = s.agents.filter((a) => a.status !== 'offline');
          const working = live.filter((a) => a.status === 'working').length;
          lines.push(
            `Agents: ${live.length} live (${working} working, ${live.length - working} idle), ${s.agents.length - live.length} offline`,
          );
          if (s.agents.length > 0) lines.push(indentBlock(agentsTable(s.agents, s.at)));
          else
            lines.push(
              '  none yet: start one (see "cns status" on an empty database, or "cns task claim --help")',
            );
          lines.push('');
          const counts = TASK_STATUSES.filter((st) => s.counts[st] > 0).map((st) => `${s.counts[st]} ${st}`);
          lines.push(`Tasks: ${total} — ${counts.join(' · ') || 'none'}`);
          if (s.stuck.length > 0) {
            lines.push('', `Stuck (${s.stuck.length}):`);
            for (const ex of s.stuck) {
              lines.push(
                `  #${ex.taskId} ${ex.status}: ${ex.reasons.map((r) => oneLine(describeReason(r), 200)).join('; ')}`,
              );
            }
          }
          if (s.counts.awaiting_review > 0) {
            lines.push(
              '',
              `${s.counts.awaiting_review} task(s) await review: cns task list --status awaiting_review`,
            );
          }
          if (s.openQuestions > 0) {
            lines.push('', `${s.openQuestions} open question(s) wait for an answer: cns questions`);
          }
          print(lines.join('\n'));
        },
        { sweep: true },
      );
    });
}

function indentBlock(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

function emptyScreen(db: string): string {
  return `cns is ready: ${db} has no tasks and no agents yet.

Queue work (as the supervisor):
  cns task add --type general --title "Write the README" --spec "Cover install and usage"
  cns workflow add plan.yaml        # a DAG of tasks; see "cns workflow add --help"

Start agents (each is a long-running instance; nothing is spawned for you):
  Claude Code in this folder reads .mcp.json (written by "cns init"): its cns-agent server makes the
  session an agent that takes tasks of type $CNS_AGENT_TYPE (default "general"), e.g.
    CNS_AGENT_TYPE=backend claude
  A supervisor session uses the cns-supervisor server to create, watch and review work.
  From a shell script:
    cns task claim --agent sh-1 --type general --wait 30     # prints the task and its lease token

Watch:
  cns status            this screen, once there is work
  cns task list         the tasks;  cns task show ID  everything about one
  cns events --follow   the live event log`;
}
