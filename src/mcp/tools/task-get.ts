import type { McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import { attemptSchema, dependencySchema, json, questionSchema, taskId } from '../schemas.js';
import { jsonBytes, TEXT_CHUNK_CHARS } from '../limits.js';
import { defineTool, type McpContext } from '../tool-kit.js';
import { detailView } from '../views.js';

const chunkSchema = z.object({
  part: z.enum(['spec', 'result']),
  offset: z.number(),
  nextOffset: z.number().nullable().describe('null at the end'),
  totalChars: z.number(),
  text: z.string(),
});

/** task_get: one task in detail with its history, or a long text of it read in chunks. Both roles. */
export function registerTaskGet(server: McpServer, ctx: McpContext): void {
  defineTool(
    server,
    ctx,
    'task_get',
    {
      title: 'Read a task in detail',
      description:
        'Read one task in detail: status, spec, result, its dependencies with their results, dependents, every attempt ' +
        '(agent, outcome, notes, errors, review feedback), questions and answers, recent events, and why it is or is not moving. ' +
        'Long texts are clipped in answers; read a whole spec or result with part "spec" or "result" and offset (chunks of ' +
        `${TEXT_CHUNK_CHARS} characters, nextOffset says where to continue).`,
      input: z.object({
        task_id: taskId,
        part: z.enum(['detail', 'spec', 'result']).optional().describe('default detail'),
        offset: z.number().int().min(0).optional().describe('start of the chunk (with part spec/result)'),
        events: z
          .number()
          .int()
          .min(0)
          .max(100)
          .optional()
          .describe('how many recent events to include (default 20)'),
      }),
      output: z.object({
        task: z.looseObject({ id: z.number(), status: z.string() }).optional(),
        dependencies: z.array(dependencySchema).optional(),
        dependents: z.array(z.number()).optional(),
        attempts: z.array(attemptSchema).optional(),
        questions: z.array(questionSchema).optional(),
        events: z.array(json).optional(),
        explanation: z.looseObject({ summary: z.string() }).optional(),
        chunk: chunkSchema.optional().describe('with part spec/result'),
      }),
      hints: { readOnly: true, destructive: false, idempotent: true },
    },
    async ({ task_id, part, offset, events }) => {
      if (part === 'spec' || part === 'result') {
        const task = await ctx.coordinator.getTask(task_id);
        const full = (part === 'spec' ? task.spec : task.result) ?? '';
        const start = Math.min(offset ?? 0, full.length);
        let end = Math.min(full.length, start + TEXT_CHUNK_CHARS);
        // Keep the chunk's JSON well inside one answer even for multi-byte or escape-heavy text.
        while (end > start + 1 && jsonBytes(full.slice(start, end)) > TEXT_CHUNK_CHARS + 6_000) {
          end = start + Math.floor((end - start) * 0.75);
        }
        return {
          chunk: {
            part,
            offset: start,
            nextOffset: end < full.length ? end : null,
            totalChars: full.length,
            text: full.slice(start, end),
          },
        };
      }
      const limit = events ?? 20;
      const detail = await ctx.coordinator.getTaskDetail(task_id, { eventLimit: 1_000 });
      return detailView(detail, limit);
    },
  );
}
