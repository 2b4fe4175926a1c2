/**
 * The live event feed: `GET /api/events/stream` as server-sent events. Each event of the log is
 * sent as `id: <event id>`, `event: cns`, `data: <CnsEvent JSON>`. A reconnecting browser sends
 * `Last-Event-ID` and resumes after it; `?after=N` does the same on first connect; without either
 * the stream starts from now. A comment line every 15 s keeps proxies from closing the connection.
 */
import type { ServerResponse } from 'node:http';
import type { Coordinator } from '../coordinator/coordinator.js';
import type { CnsEvent } from '../core/types.js';
import { requireAuth } from './auth.js';
import { idOf, queryInt, queryText } from './request-input.js';
import { HANDLED, type Router } from './router.js';

/** How often a comment line is sent on an idle stream. */
export const SSE_HEARTBEAT_MS = 15_000;

export function registerEventStream(
  router: Router,
  deps: { coordinator: Coordinator; heartbeatMs?: number; log: (m: string) => void },
): void {
  const cns = deps.coordinator;
  router.get('/api/events/stream', async ({ req, res, url, principal, signal }) => {
    requireAuth(principal);
    const taskId = optionalId(queryText(url, 'task'), 'task');
    const workflowId = optionalId(queryText(url, 'workflow'), 'workflow');
    const lastEventId = req.headers['last-event-id'];
    let after: number | undefined =
      typeof lastEventId === 'string' && /^\d+$/.test(lastEventId.trim())
        ? Number(lastEventId.trim())
        : queryInt(url, 'after', 0, Number.MAX_SAFE_INTEGER);
    if (after === undefined) after = await cns.latestEventId();

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    write(res, `retry: 3000\n: cns event stream from event ${after}\n\n`);
    const heartbeat = setInterval(
      () => write(res, `: keep-alive ${Date.now()}\n\n`),
      deps.heartbeatMs ?? SSE_HEARTBEAT_MS,
    );
    const send = (e: CnsEvent) => {
      if (taskId !== undefined && e.taskId !== taskId) return;
      if (workflowId !== undefined && e.workflowId !== workflowId) return;
      write(res, `id: ${e.id}\nevent: cns\ndata: ${JSON.stringify(e)}\n\n`);
    };
    try {
      await cns.followEvents(after, send, signal);
    } catch (err) {
      deps.log(`cns serve: event stream ended: ${String(err)}`);
    } finally {
      clearInterval(heartbeat);
      res.end();
    }
    return HANDLED;
  });
}

function write(res: ServerResponse, chunk: string): void {
  if (!res.writableEnded && !res.destroyed) res.write(chunk);
}

function optionalId(value: string | undefined, what: string): number | undefined {
  return value === undefined ? undefined : idOf(value, what);
}
