import type { Command } from 'commander';
import type { Coordinator } from '../../coordinator/coordinator.js';
import type { CnsEvent } from '../../core/types.js';
import type { EventFilter } from '../../store/store.js';
import { intOption, parseTaskId, parseWorkflowId, withCoordinator } from '../context.js';
import { iso, oneLine, print, printJsonLine } from '../output.js';

interface EventsOptions {
  follow?: boolean;
  task?: string;
  workflow?: string;
  after?: number;
  limit?: number;
  json?: boolean;
}

/** `cns events`: the audit log, or a live feed with --follow. */
export function registerEventsCommand(program: Command): void {
  program
    .command('events')
    .description('the event log: every state change and agent join/leave (who, what, when, why)')
    .option('--follow', 'keep streaming new events until Ctrl-C')
    .option('--task <id>', 'only events of this task')
    .option('--workflow <id>', 'only events of this workflow')
    .option(
      '--after <event-id>',
      'events after this event id (a cursor); default: the most recent ones',
      intOption('--after', 0),
    )
    .option(
      '--limit <n>',
      'how many events to print before following (default 50, at most 1000)',
      intOption('--limit', 1, 1000),
    )
    .option('--json', 'one JSON object per line (NDJSON)')
    .addHelpText(
      'after',
      `
Examples:
  cns events --task 42
  cns events --follow --json | jq -c 'select(.kind == "task.completed")'`,
    )
    .action(async (opts: EventsOptions, cmd: Command) => {
      const filter: EventFilter = {
        taskId: opts.task !== undefined ? parseTaskId(opts.task) : undefined,
        workflowId: opts.workflow !== undefined ? parseWorkflowId(opts.workflow) : undefined,
      };
      const limit = opts.limit ?? 50;
      const show = (e: CnsEvent) => (opts.json ? printJsonLine(e) : print(formatEvent(e)));
      await withCoordinator(cmd, async (c) => {
        const initial =
          opts.after !== undefined
            ? await c.listEvents({ ...filter, after: opts.after, limit })
            : await lastEvents(c, filter, limit);
        initial.forEach(show);
        if (!opts.follow) {
          if (initial.length === 0 && !opts.json) print('no events');
          return;
        }
        let cursor =
          initial.length > 0 ? initial[initial.length - 1]!.id : (opts.after ?? (await lastEventId(c)));
        const abort = new AbortController();
        const stop = () => abort.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          await c.followEvents(
            cursor,
            (e) => {
              cursor = e.id;
              if (filter.taskId !== undefined && e.taskId !== filter.taskId) return;
              if (filter.workflowId !== undefined && e.workflowId !== filter.workflowId) return;
              show(e);
            },
            abort.signal,
          );
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      });
    });
}

/** The last `limit` events matching the filter (the log is read forward in pages). */
async function lastEvents(c: Coordinator, filter: EventFilter, limit: number): Promise<CnsEvent[]> {
  const kept: CnsEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await c.listEvents({ ...filter, after, limit: 1000 });
    kept.push(...page);
    if (kept.length > limit) kept.splice(0, kept.length - limit);
    if (page.length < 1000) return kept;
    after = page[page.length - 1]!.id;
  }
}

async function lastEventId(c: Coordinator): Promise<number> {
  const last = await lastEvents(c, {}, 1);
  return last[0]?.id ?? 0;
}

/** One line per event: `#id time kind task N from→to by actor: message`. */
export function formatEvent(e: CnsEvent): string {
  const parts = [`#${e.id}`, iso(e.at), e.kind];
  if (e.taskId !== null) parts.push(`task ${e.taskId}`);
  else if (e.workflowId !== null) parts.push(`workflow ${e.workflowId}`);
  if (e.fromStatus !== null || e.toStatus !== null) parts.push(`${e.fromStatus ?? '∅'}→${e.toStatus ?? '∅'}`);
  parts.push(`by ${oneLine(e.actor, 40)}`);
  return parts.join(' ') + (e.message ? `: ${oneLine(e.message, 200)}` : '');
}
