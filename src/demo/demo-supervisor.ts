/**
 * The demo's supervisor, in the demo process, on the coordinator the server serves: it queues a
 * feature workflow at once and another every so often (at most three open at a time), reserves
 * each workflow's design task for a designer (assign), answers the agents' questions after a few
 * seconds, and retries a task that failed for good once. What it does is logged; people on the
 * dashboard can do the same first (it then finds the question answered, the task moved on).
 */
import type { Actor } from '../coordinator/api-types.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { sleep, type Pace } from './demo-pace.js';
import { buildWorkflow } from './demo-script.js';

const SUPERVISOR: Actor = { name: 'supervisor', agentId: null, role: 'supervisor' };

/** Seconds between two workflows at speed 1. */
const WORKFLOW_EVERY_MS = 45_000;
/** How long the supervisor takes to answer a question or retry a failed task, at speed 1. */
const REACTION_MS = 5_000;
const MAX_OPEN_WORKFLOWS = 3;

export interface SupervisorOptions {
  pace: Pace;
  log: (message: string) => void;
  signal: AbortSignal;
}

export class DemoSupervisor {
  private made = 0;
  private readonly open = new Map<number, { name: string; at: number }>();
  /** Question or task ids already taken care of (or scheduled). */
  private readonly answering = new Set<number>();
  private readonly retried = new Set<number>();
  private designerTurn = 0;

  constructor(
    private readonly c: Coordinator,
    private readonly o: SupervisorOptions,
  ) {}

  async run(): Promise<void> {
    let nextWorkflowAt = 0;
    while (!this.o.signal.aborted) {
      try {
        if (Date.now() >= nextWorkflowAt) {
          if (this.open.size < MAX_OPEN_WORKFLOWS) await this.queueWorkflow();
          nextWorkflowAt = Date.now() + this.o.pace.ms(WORKFLOW_EVERY_MS);
        }
        await this.tend();
      } catch (err) {
        if (this.o.signal.aborted) return;
        this.o.log(`supervisor: ${err instanceof Error ? err.message : String(err)}`);
      }
      await sleep(Math.max(100, Math.round(1_000 / this.o.pace.speed)), this.o.signal);
    }
  }

  private async queueWorkflow(): Promise<void> {
    const plan = buildWorkflow(this.made++);
    const created = await this.c.createWorkflow({ ...plan.workflow, tasks: plan.tasks }, SUPERVISOR);
    const wf = created.workflow!;
    this.open.set(wf.id, { name: wf.name, at: Date.now() });
    this.o.log(`supervisor: queued workflow #${wf.id} "${wf.name}" (${created.tasks.length} tasks)`);
    const design = created.tasks.find((t) => t.ref === plan.assignRef);
    const designers = (await this.c.listAgents()).filter(
      (a) => a.type === 'designer' && a.status !== 'offline',
    );
    const designer = designers[this.designerTurn++ % Math.max(1, designers.length)];
    if (design && designer) {
      await this.c.assign(design.id, designer.id, SUPERVISOR);
      this.o.log(`supervisor: assigned #${design.id} to ${designer.name}`);
    }
  }

  /** Answers open questions and retries failed tasks (after a while); notes finished workflows. */
  private async tend(): Promise<void> {
    for (const q of await this.c.listQuestions({ status: ['open'], order: 'oldest' })) {
      if (this.answering.has(q.id) || q.for !== 'supervisor') continue;
      this.answering.add(q.id);
      const answer = q.choices?.[Math.min(1, q.choices.length - 1)] ?? 'Yes, go ahead.';
      this.later(async () => {
        await this.c.answer(q.id, { answer, by: SUPERVISOR });
        this.o.log(`supervisor: answered question ${q.id} on #${q.taskId}: "${answer}"`);
      });
    }
    for (const t of (await this.c.listTasks({ status: ['failed'], limit: 100 })).items) {
      if (this.retried.has(t.id)) continue;
      this.retried.add(t.id);
      this.later(async () => {
        await this.c.retry(t.id, SUPERVISOR);
        this.o.log(`supervisor: retried #${t.id} (it failed: ${t.error ?? 'no reason given'})`);
      });
    }
    for (const [id, w] of this.open) {
      const wf = await this.c.getWorkflow(id);
      if (wf.status === 'completed' || wf.status === 'cancelled') {
        this.open.delete(id);
        this.o.log(
          `supervisor: workflow #${id} "${w.name}" ${wf.status} after ${Math.round((Date.now() - w.at) / 1000)} s`,
        );
      }
    }
  }

  /** Runs `action` after the supervisor's reaction time; a person may have acted first. */
  private later(action: () => Promise<void>): void {
    void sleep(this.o.pace.ms(REACTION_MS), this.o.signal).then(async () => {
      if (this.o.signal.aborted) return;
      await action().catch((err: unknown) =>
        this.o.log(`supervisor: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`),
      );
    });
  }
}
