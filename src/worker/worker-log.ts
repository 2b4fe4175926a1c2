/**
 * The worker's events in words: one line each (the CLI prints them with the time; `--json` prints
 * the events themselves).
 */
import type { WorkerEvent } from './exec-worker.js';

function duration(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${Math.round((ms % 60_000) / 1_000)}s`;
}

export function describeEvent(e: WorkerEvent): string {
  switch (e.event) {
    case 'registered':
      return `agent ${e.agent} registered (type ${e.type}${e.capabilities.length ? `; ${e.capabilities.join(', ')}` : ''})`;
    case 'claimed':
      return `claimed #${e.taskId} ${JSON.stringify(e.title)} (attempt ${e.attempt} of ${e.maxAttempts})`;
    case 'completed':
      return (
        `completed #${e.taskId} in ${duration(e.durationMs)}` +
        (e.status === 'awaiting_review' ? ' (awaiting review)' : '') +
        (e.omitted > 0 ? ` (the result was cut: ${e.omitted} characters of output left out)` : '')
      );
    case 'failed':
      return (
        `failed #${e.taskId} in ${duration(e.durationMs)}: ${e.reason}; ` +
        (e.status === 'pending' && e.retryAt !== null
          ? `retry after ${new Date(e.retryAt).toISOString()}`
          : 'failed for good')
      );
    case 'released':
      return `released #${e.taskId} after ${duration(e.durationMs)}`;
    case 'lost':
      return `lost #${e.taskId}: ${e.reason}`;
    case 'error':
      return e.taskId === null ? `error: ${e.message}` : `error (#${e.taskId}): ${e.message}`;
  }
}
