import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/server';
import { InvalidInputError } from '../core/errors.js';
import { parseId } from '../core/ids.js';
import type { Task } from '../core/types.js';
import { fitAnswer } from './limits.js';
import type { McpContext } from './tool-kit.js';
import { detailView, taskRow, workflowView } from './views.js';

/**
 * Resources: a task (`cns://task/{id}`: its detail with history) and a workflow
 * (`cns://workflow/{id}`: status, counts and its tasks as rows), as JSON. Same size caps as tools.
 */
export function registerResources(server: McpServer, ctx: McpContext): void {
  const { coordinator } = ctx;

  server.registerResource(
    'task',
    new ResourceTemplate('cns://task/{id}', { list: undefined }),
    {
      title: 'A cns task',
      description: 'One task with its dependencies, attempts, recent events and explanation.',
      mimeType: 'application/json',
    },
    async (uri, variables) => {
      const id = idOf(variables.id, 'task');
      const detail = await coordinator.getTaskDetail(id);
      const body = fitAnswer(detailView(detail, 30), `call task_get with {"task_id": ${id}}`);
      return {
        contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(body, null, 2) }],
      };
    },
  );

  server.registerResource(
    'workflow',
    new ResourceTemplate('cns://workflow/{id}', { list: undefined }),
    {
      title: 'A cns workflow',
      description: 'One workflow: status, task counts and its tasks.',
      mimeType: 'application/json',
    },
    async (uri, variables) => {
      const id = idOf(variables.id, 'workflow');
      const workflow = await coordinator.getWorkflow(id);
      const tasks: Task[] = [];
      let after: number | undefined;
      let more = false;
      for (;;) {
        const page = await coordinator.listTasks({ workflowId: id, limit: 200, after });
        tasks.push(...page.items);
        if (page.nextCursor === null) break;
        if (tasks.length >= 200) {
          more = true;
          break;
        }
        after = page.nextCursor;
      }
      const body = fitAnswer(
        {
          workflow: workflowView(workflow),
          tasks: tasks.map((t) => taskRow(t)),
          more: more
            ? `more tasks: call task_list with {"workflow_id": ${id}, "cursor": ${tasks.at(-1)!.id}}`
            : null,
        },
        `call task_list with {"workflow_id": ${id}}`,
      );
      return {
        contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(body, null, 2) }],
      };
    },
  );
}

function idOf(raw: string | string[] | undefined, kind: string): number {
  const text = Array.isArray(raw) ? raw[0] : raw;
  const id = text === undefined ? null : parseId(text);
  if (id === null)
    throw new InvalidInputError(`${kind} id must be a positive number (got ${JSON.stringify(raw)})`);
  return id;
}
