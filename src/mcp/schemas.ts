import * as z from 'zod';
import { TASK_STATUSES } from '../core/status.js';

/**
 * Zod schemas shared by the MCP tools. Output schemas are kept lean (the agent role's whole
 * tools/list must stay under 12 KB): top-level fields are exact, nested records are loose objects
 * naming their main fields.
 */

export const json = z.unknown();
export const status = z.enum(TASK_STATUSES);
const nint = z.number().nullable();
const nstr = z.string().nullable();

export const taskId = z
  .number()
  .int()
  .positive()
  .describe('task id (as returned by task_next / task_create)');

/** What to do now, in one or two sentences. */
export const next = z.string().describe('what to do next');

export const taskRowSchema = z.object({
  id: z.number(),
  title: z.string(),
  type: z.string(),
  status,
  workflowId: nint,
  ref: nstr,
  priority: z.number(),
  attempts: z.number(),
  maxAttempts: z.number(),
  review: z.boolean(),
  holder: nstr,
  note: nstr,
  percent: nint,
  outcome: nstr.describe('start of the result or error'),
  dependsOn: z.array(z.number()),
  updatedAt: z.number(),
});

/** The task as an agent's report answers show it (id, title, status, attempts, maxAttempts, percent, leaseExpiresAt, runAfter). */
export const taskBriefSchema = z.looseObject({ id: z.number(), status });

/** A loose object naming its main fields (others may be present). */
const loose = (shape: Record<string, z.ZodType>) => z.looseObject(shape);

export const dependencySchema = loose({
  taskId: z.number(),
  title: z.string(),
  result: nstr,
  resultData: json,
});
export const attemptSchema = loose({
  seq: z.number(),
  agent: z.string(),
  outcome: z.string(),
  note: nstr,
  feedback: nstr,
});

export const questionSchema = loose({
  id: z.number(),
  taskId: z.number(),
  for: z.string(),
  askedBy: z.string(),
  question: z.string(),
  choices: z.array(z.string()).nullable(),
  status: z.string(),
  answer: nstr,
  answeredBy: nstr,
});

export const claimedSchema = loose({
  id: z.number(),
  title: z.string(),
  spec: z.string(),
  input: json,
  dependencies: z.array(dependencySchema).describe('results of the tasks this one depends on'),
  handoff: z.array(attemptSchema).describe('earlier attempts: notes, checkpoints, errors, review feedback'),
  questions: z.array(questionSchema).describe('questions asked about this task so far, with their answers'),
});

export const workflowSchema = loose({ id: z.number(), name: z.string(), status: z.string(), counts: json });
