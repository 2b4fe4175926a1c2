import type { Command } from 'commander';
import { InvalidInputError } from '../../core/errors.js';
import { parseId } from '../../core/ids.js';
import { QUESTION_STATUSES, type Question, type QuestionStatus } from '../../core/types.js';
import {
  AS_HELP,
  collect,
  intOption,
  parseTaskId,
  parseWorkflowId,
  readTextFile,
  resolveActor,
  withCoordinator,
} from '../context.js';
import { indent, oneLine, print, printJson, toJson, when } from '../output.js';

/** `cns questions` (the inbox) and `cns answer ID …`: people in the loop, from a shell. */
export function registerQuestionCommands(program: Command): void {
  program
    .command('questions')
    .description('the questions agents asked, newest first (open ones unless --status or --all)')
    .option('--status <list>', `comma-separated: ${QUESTION_STATUSES.join(', ')} (default open)`, collect)
    .option('--all', 'every question, whatever its status')
    .option('--for <who>', 'only those for this person or role (e.g. supervisor)')
    .option('--task <id>', 'only those about this task')
    .option('--workflow <id>', 'only those about tasks of this workflow')
    .option('--limit <n>', 'at most this many (default 50, at most 500)', intOption('--limit', 1, 500))
    .option('--json', 'print the questions as JSON')
    .addHelpText(
      'after',
      `
Each question shows its id, the task it is about, who asked and whom it is for, the choices and the
context. Answer with: cns answer <question-id> <text…>`,
    )
    .action(
      async (
        opts: {
          status?: string[];
          all?: boolean;
          for?: string;
          task?: string;
          workflow?: string;
          limit?: number;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        if (opts.all && opts.status) throw new InvalidInputError('give --status or --all, not both');
        const status = opts.all ? undefined : (opts.status ?? ['open']).map(parseQuestionStatus);
        const [questions, now] = await withCoordinator(cmd, async (c) =>
          Promise.all([
            c.listQuestions({
              ...(status ? { status } : {}),
              ...(opts.for !== undefined ? { for: opts.for } : {}),
              ...(opts.task !== undefined ? { taskId: parseTaskId(opts.task) } : {}),
              ...(opts.workflow !== undefined ? { workflowId: parseWorkflowId(opts.workflow) } : {}),
              ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
            }),
            c.now(),
          ]),
        );
        if (opts.json) return printJson(questions);
        if (questions.length === 0) {
          print(status?.length === 1 && status[0] === 'open' ? 'no open questions' : 'no questions');
          return;
        }
        print(questions.map((q) => formatQuestion(q, now)).join('\n\n'));
      },
    );

  program
    .command('answer')
    .description(
      "answer an agent's open question: the task goes back to the queue (to the agent that asked first)",
    )
    .argument('<question-id>', 'the question id (see cns questions)')
    .argument('[answer...]', 'the answer (the words are joined with spaces); or --file')
    .option('--file <file>', 'read the answer from a file ("-" for stdin)')
    .option('--as <name>', AS_HELP)
    .option('--json', 'print {task, question} as JSON')
    .addHelpText(
      'after',
      `
Examples:
  cns answer 7 keep the legacy column
  cns answer 7 --file decision.md --as alice`,
    )
    .action(
      async (
        id: string,
        words: string[],
        opts: { file?: string; as?: string; json?: boolean },
        cmd: Command,
      ) => {
        const questionId = parseId(id);
        if (questionId === null)
          throw new InvalidInputError(`question id must be a number like 7 (got ${JSON.stringify(id)})`);
        if (opts.file !== undefined && words.length > 0)
          throw new InvalidInputError('give the answer as words or with --file, not both');
        const answer = opts.file !== undefined ? readTextFile(opts.file, 'answer file') : words.join(' ');
        if (answer.trim() === '')
          throw new InvalidInputError('give the answer: cns answer ID TEXT… (or --file FILE)');
        const res = await withCoordinator(cmd, async (c) =>
          c.answer(questionId, { answer, by: await resolveActor(c, opts.as) }),
        );
        if (opts.json) return printJson(res);
        print(
          `question ${questionId} answered; task ${res.task.id} is ${res.task.status} again, ` +
            `kept for ${res.question.askedBy.name} for a while, then for any agent of its type`,
        );
      },
    );
}

function parseQuestionStatus(value: string): QuestionStatus {
  if (!(QUESTION_STATUSES as readonly string[]).includes(value))
    throw new InvalidInputError(
      `unknown question status "${value}" (one of ${QUESTION_STATUSES.join(', ')})`,
    );
  return value as QuestionStatus;
}

/** A question as a few lines: header, text, choices, context, and its answer when it has one. */
export function formatQuestion(q: Question, now: number): string {
  const lines = [
    `Question ${q.id} on task ${q.taskId} (${q.status}): asked by ${q.askedBy.name} for ${q.for}, ${when(q.askedAt, now)}`,
    indent(q.text.trimEnd()),
  ];
  if (q.choices) lines.push(`  choices: ${q.choices.map((c) => JSON.stringify(oneLine(c))).join(' | ')}`);
  if (q.context !== null) lines.push(`  context: ${oneLine(toJson(q.context), 400)}`);
  if (q.status === 'answered')
    lines.push(
      `  answer (${q.answeredBy?.name ?? '?'}, ${when(q.answeredAt ?? now, now)}): ${oneLine(q.answer ?? '')}`,
    );
  if (q.status === 'closed') lines.push(`  closed: ${q.closedReason ?? 'unanswered'}`);
  return lines.join('\n');
}
