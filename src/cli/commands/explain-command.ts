import type { Command } from 'commander';
import { describeReason } from '../../coordinator/explain.js';
import { parseTaskId, withCoordinator } from '../context.js';
import { oneLine, print, printJson } from '../output.js';

/** `cns explain ID`: why a task is not moving. */
export function registerExplainCommand(program: Command): void {
  program
    .command('explain')
    .description(
      'why a task is not moving: blocked by which tasks, no live agent of its type, held by whom until when, awaiting review, scheduled',
    )
    .argument('<id>', 'the task id')
    .option('--json', 'print {taskId, status, summary, reasons} as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const taskId = parseTaskId(id);
      const ex = await withCoordinator(cmd, (c) => c.explain(taskId), { sweep: true });
      if (opts.json) return printJson(ex);
      const lines = [`task ${ex.taskId} is ${ex.status}`];
      for (const r of ex.reasons) lines.push(`  - ${oneLine(describeReason(r))}`);
      if (ex.reasons.length === 0) lines.push('  (nothing is holding it back)');
      print(lines.join('\n'));
    });
}
