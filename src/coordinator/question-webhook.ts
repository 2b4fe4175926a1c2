/**
 * Tells people outside cns that an agent asked a question: a POST of JSON to the global webhook
 * (config questionWebhookUrl) and to the task's workflow's (`metadata.questionWebhook`), after the
 * question is committed. Delivery is retried with a backoff (1, 2, 4, 8 s: five tries) by the
 * process that recorded the question; a delivery that still fails is reported to onError, and the
 * question stays open in cns either way (the inbox, `cns questions`, task_wait): a webhook is a
 * courtesy, not the record.
 *
 * The body: `{ "event": "question.asked", "question": Question, "task": {id, title, type,
 * workflowId} }`. Headers: `X-Cns-Event: question.asked`, `X-Cns-Delivery: <question id>` (the same
 * on every retry, so a receiver can drop duplicates) and, when config webhookSecret is set,
 * `X-Cns-Signature: sha256=<hex HMAC-SHA256 of the raw body with the secret>`.
 */
import { createHmac } from 'node:crypto';
import type { CnsConfig } from '../core/config.js';
import type { Question, Task, Workflow } from '../core/types.js';

/** Delays before the second to fifth tries. */
const RETRY_DELAYS_MS = [1_000, 2_000, 4_000, 8_000];
/** How long one try may take. */
const TRY_TIMEOUT_MS = 10_000;

export class QuestionWebhook {
  constructor(
    private readonly config: Pick<CnsConfig, 'questionWebhookUrl' | 'webhookSecret'>,
    private readonly workflowOf: (id: number) => Promise<Workflow | null>,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Starts the deliveries for a question just asked (returns at once; nothing to await). */
  questionAsked(question: Question, task: Task): void {
    void this.targets(task)
      .then((urls) => {
        if (urls.length === 0) return;
        const body = JSON.stringify({
          event: 'question.asked',
          question,
          task: { id: task.id, title: task.title, type: task.type, workflowId: task.workflowId },
        });
        for (const url of urls) void this.deliver(url, body, String(question.id), 0);
      })
      .catch((err: unknown) => this.onError(err));
  }

  private async targets(task: Task): Promise<string[]> {
    const urls: string[] = [];
    if (this.config.questionWebhookUrl) urls.push(this.config.questionWebhookUrl);
    if (task.workflowId !== null) {
      const hook = (await this.workflowOf(task.workflowId))?.metadata.questionWebhook;
      if (typeof hook === 'string' && /^https?:\/\//.test(hook) && !urls.includes(hook)) urls.push(hook);
    }
    return urls;
  }

  private async deliver(url: string, body: string, delivery: string, attempt: number): Promise<void> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-cns-event': 'question.asked',
      'x-cns-delivery': delivery,
    };
    if (this.config.webhookSecret) {
      headers['x-cns-signature'] =
        `sha256=${createHmac('sha256', this.config.webhookSecret).update(body).digest('hex')}`;
    }
    let failure: string;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(TRY_TIMEOUT_MS),
      });
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) return;
      failure = `HTTP ${res.status}`;
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    }
    const delay = RETRY_DELAYS_MS[attempt];
    if (delay === undefined) {
      this.onError(
        new Error(`question webhook ${redact(url)}: ${failure} after ${attempt + 1} tries; gave up`),
      );
      return;
    }
    setTimeout(() => void this.deliver(url, body, delivery, attempt + 1), delay).unref();
  }
}

/** A URL as it may be shown: without credentials or query (which may carry a secret). */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(an unreadable URL)';
  }
}
