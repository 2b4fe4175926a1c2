/**
 * The "brain" of a demo agent, with no model behind it: take a task, play the script in its
 * metadata step by step (a progress note, a percent and a checkpoint per step), and act on what
 * cns hands over — resume from an earlier attempt's checkpoint, address review feedback, continue
 * with the answer to a question. The same loop drives an agent over MCP (`cns mcp`, demo-ports.ts)
 * and over the TypeScript API (AgentSession, in a process of its own).
 */
import type { Json } from '../core/types.js';
import { sleep, STEP_MS, type Pace } from './demo-pace.js';
import { scriptOf } from './demo-script.js';

/** An earlier attempt, as handed over with a claim. */
export interface HandoffView {
  agent: string;
  outcome: string;
  note: string | null;
  percent: number | null;
  checkpoint: Json | null;
  error: string | null;
  feedback: string | null;
}

/** A claimed task: what the worker needs of it. */
export interface ClaimView {
  id: number;
  title: string;
  metadata: Record<string, Json>;
  handoff: HandoffView[];
  questions: { question: string; answer: string | null; answeredBy: string | null }[];
}

/** A result waiting for review. */
export interface ReviewView {
  id: number;
  title: string;
  reviewRounds: number;
  metadata: Record<string, Json>;
}

/** How a worker reaches cns: over MCP or through an AgentSession. */
export interface AgentPort {
  next(waitMs: number): Promise<ClaimView | null>;
  update(taskId: number, input: { note: string; percent: number; checkpoint: Json }): Promise<void>;
  /** Returns the task's new status. */
  complete(taskId: number, result: string, data: Json): Promise<string>;
  fail(taskId: number, error: string, retryable: boolean): Promise<string>;
  ask(taskId: number, input: { text: string; choices: string[]; context: Json }): Promise<number>;
  /** Results waiting for review (for reviewers). */
  awaitingReview(): Promise<ReviewView[]>;
  review(taskId: number, approve: boolean, feedback: string): Promise<void>;
  /** Dies abruptly, holding its lease (never returns normally). */
  crash(): Promise<never>;
}

export interface WorkerOptions {
  name: string;
  type: string;
  pace: Pace;
  /** One line of the demo's log. */
  log: (message: string) => void;
  signal: AbortSignal;
}

interface Checkpoint {
  step: number;
  of: number;
  branch?: string;
  resumedFrom?: { agent: string; step: number };
}

function isCheckpoint(v: Json | null): v is Json & Checkpoint {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof v.step === 'number';
}

/** Works until the signal aborts. Errors (a lost lease, a task cancelled meanwhile) are logged and the loop goes on. */
export async function runWorker(port: AgentPort, o: WorkerOptions): Promise<void> {
  while (!o.signal.aborted) {
    try {
      if (o.type === 'reviewer' && (await reviewOne(port, o))) continue;
      const task = await port.next(o.type === 'reviewer' ? 1_000 : 5_000);
      if (task && !o.signal.aborted) await work(port, task, o);
    } catch (err) {
      if (o.signal.aborted) return;
      o.log(`${o.name}: ${errorLine(err)}`);
      await sleep(o.pace.ms(STEP_MS), o.signal);
    }
  }
}

function errorLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.slice(0, 300);
}

async function work(port: AgentPort, task: ClaimView, o: WorkerOptions): Promise<void> {
  const script = scriptOf(task.metadata);
  if (!script) {
    await port.complete(task.id, 'Nothing to do: this task has no demo script.', null);
    return;
  }
  const n = script.steps.length;
  const percentAt = (step: number) => Math.round((step / (n + 1)) * 100);
  const earlier = task.handoff;
  const lastCheckpoint = [...earlier].reverse().find((a) => isCheckpoint(a.checkpoint));
  const feedback = [...earlier].reverse().find((a) => a.feedback)?.feedback ?? null;
  const failedBefore = earlier.find((a) => a.outcome === 'failed');
  const answered = task.questions.find((q) => q.answer !== null);
  let step = 0;
  let resumedFrom: Checkpoint['resumedFrom'];
  let note: string;
  if (feedback) {
    step = Math.max(0, n - 2);
    note = `Addressing the review feedback: ${feedback}`;
  } else if (lastCheckpoint && isCheckpoint(lastCheckpoint.checkpoint)) {
    step = Math.min(lastCheckpoint.checkpoint.step, n);
    resumedFrom = { agent: lastCheckpoint.agent, step };
    note =
      lastCheckpoint.agent === o.name
        ? `Resuming from my checkpoint at step ${step} of ${n}`
        : `Resuming from the checkpoint ${lastCheckpoint.agent} left at step ${step} of ${n} (${lastCheckpoint.outcome})`;
  } else note = 'Started';
  if (answered) note += `; answer from ${answered.answeredBy ?? 'the supervisor'}: "${answered.answer}"`;
  if (failedBefore)
    note += `; the previous attempt failed (${failedBefore.error ?? 'no reason'}), trying again`;
  o.log(`${o.name}: #${task.id} ${task.title} — ${note}`);
  const checkpoint = (s: number): Json => ({
    step: s,
    of: n,
    ...(resumedFrom ? { resumedFrom } : {}),
  });
  await port.update(task.id, { note, percent: percentAt(step), checkpoint: checkpoint(step) });

  while (step < n) {
    await sleep(o.pace.ms(STEP_MS), o.signal);
    if (o.signal.aborted) return;
    step += 1;
    const percent = percentAt(step);
    await port.update(task.id, { note: script.steps[step - 1]!, percent, checkpoint: checkpoint(step) });
    if (
      script.crashAt !== undefined &&
      percent >= script.crashAt &&
      !earlier.some((a) => a.outcome === 'expired')
    ) {
      o.log(`${o.name}: crashes while holding #${task.id} (checkpoint saved at step ${step} of ${n})`);
      return port.crash();
    }
    if (script.ask && percent >= script.ask.at && task.questions.length === 0) {
      const id = await port.ask(task.id, script.ask);
      o.log(`${o.name}: asks about #${task.id} (question ${id}): ${script.ask.text}`);
      return;
    }
    if (script.fail && percent >= script.fail.at && !failedBefore) {
      const status = await port.fail(task.id, script.fail.error, script.fail.retryable);
      o.log(`${o.name}: #${task.id} failed (${status}): ${script.fail.error}`);
      return;
    }
  }
  await sleep(o.pace.ms(STEP_MS / 2), o.signal);
  if (o.signal.aborted) return;
  const result = feedback ? `${script.result} Review feedback addressed: ${feedback}` : script.result;
  const status = await port.complete(task.id, result, { steps: n, ...(resumedFrom ? { resumedFrom } : {}) });
  o.log(`${o.name}: #${task.id} ${status === 'awaiting_review' ? 'submitted for review' : status}`);
}

/** Reviews the oldest result waiting for review, if any. */
async function reviewOne(port: AgentPort, o: WorkerOptions): Promise<boolean> {
  const waiting = await port.awaitingReview();
  const t = waiting[0];
  if (!t) return false;
  o.log(`${o.name}: reviewing #${t.id} ${t.title}`);
  await sleep(o.pace.ms(STEP_MS * 1.5), o.signal);
  if (o.signal.aborted) return true;
  const changes = scriptOf(t.metadata)?.changes;
  try {
    if (changes && t.reviewRounds === 0) {
      await port.review(t.id, false, changes);
      o.log(`${o.name}: requested changes on #${t.id}: ${changes}`);
    } else {
      await port.review(t.id, true, 'Looks good: matches the design, tests cover the error cases.');
      o.log(`${o.name}: approved #${t.id}`);
    }
  } catch (err) {
    // Another reviewer (or a person on the dashboard) decided first.
    o.log(`${o.name}: review of #${t.id} not recorded: ${errorLine(err)}`);
  }
  return true;
}
