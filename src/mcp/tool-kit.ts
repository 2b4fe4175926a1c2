import type { CallToolResult, McpServer, ServerContext } from '@modelcontextprotocol/server';
import type * as z from 'zod';
import type { AgentSession } from '../coordinator/agent-session.js';
import type { Actor } from '../coordinator/api-types.js';
import type { CnsApi } from '../coordinator/cns-api.js';
import { fitAnswer } from './limits.js';
import { toolError } from './tool-errors.js';

export type McpRole = 'agent' | 'supervisor' | 'both';

/** What every tool of one `cns mcp` process shares. */
export interface McpContext {
  coordinator: CnsApi;
  role: McpRole;
  /** The live agent (roles agent and both): its identity, heartbeat and lease tokens. */
  session: AgentSession | null;
  /**
   * Who acts for the supervisor tools (creating, reviewing, cancelling, retrying), resolved once
   * when the context is made: the session's agent (roles agent and both), else the supervisor
   * (--name, default "supervisor"; no agent). Over HTTP the server decides it from the token.
   */
  actor: Actor;
  /** What became of tasks this process claimed, by id (to tell "lost" from "never yours"). */
  claimed: Map<number, 'held' | 'completed' | 'failed' | 'released'>;
  /** Aborted when the process shuts down: ends every wait at once. (Over HTTP: also this request's cancel.) */
  shutdown: AbortSignal;
  /** Waits under way; shutdown lets them settle before releasing held tasks. */
  inflight: Set<Promise<unknown>>;
  log(message: string): void;
}

export interface ToolHints {
  readOnly: boolean;
  destructive: boolean;
  idempotent: boolean;
}

/**
 * Registers one tool: zod input and output schemas, annotations (never open-world: cns only
 * touches its own database), and a handler whose value becomes `structuredContent` plus the same
 * JSON as text. Thrown errors go through `toolError`, the front's one error translation.
 */
export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(
  server: McpServer,
  ctx: McpContext,
  name: string,
  def: { title: string; description: string; input: I; output: O; hints: ToolHints },
  run: (args: z.infer<I>, req: ServerContext) => Promise<z.infer<O>>,
): void {
  server.registerTool(
    name,
    {
      title: def.title,
      description: def.description,
      inputSchema: def.input,
      outputSchema: def.output,
      annotations: {
        readOnlyHint: def.hints.readOnly,
        destructiveHint: def.hints.destructive,
        idempotentHint: def.hints.idempotent,
        openWorldHint: false,
      },
    },
    (async (args: z.infer<I>, req: ServerContext): Promise<CallToolResult> => {
      try {
        return answer(await run(args, req));
      } catch (err) {
        return toolError(err, ctx.log);
      }
    }) as never,
  );
}

/** A successful answer: the value as structured content and as JSON text, size-capped. */
export function answer(value: Record<string, unknown>): CallToolResult {
  const fitted = fitAnswer(value, 'call task_get for the full text');
  return { structuredContent: fitted, content: [{ type: 'text', text: JSON.stringify(fitted) }] };
}

/** Sends a progress notification for this request if the client asked for them (a progress token). */
export function progressNotifier(
  req: ServerContext,
): ((progress: number, total: number, message: string) => void) | undefined {
  const token = req.mcpReq._meta?.progressToken;
  if (token === undefined) return undefined;
  return (progress, total, message) => {
    req.mcpReq
      .notify({
        method: 'notifications/progress',
        params: { progressToken: token, progress, total, message },
      })
      .catch(() => {});
  };
}

/** Waits tracked so shutdown can let them settle before releasing held tasks. */
export async function tracked<T>(ctx: McpContext, work: Promise<T>): Promise<T> {
  ctx.inflight.add(work);
  try {
    return await work;
  } finally {
    ctx.inflight.delete(work);
  }
}

/**
 * A signal that aborts when any of `signals` does (like AbortSignal.any, which needs Node ≥ 20.3),
 * and `dispose()` to unhook it: the process-wide shutdown signal outlives thousands of calls.
 */
export function linkedSignal(...signals: AbortSignal[]): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const abort = () => controller.abort();
  for (const s of signals) {
    if (s.aborted) controller.abort();
    else s.addEventListener('abort', abort, { once: true });
  }
  return {
    signal: controller.signal,
    dispose: () => signals.forEach((s) => s.removeEventListener('abort', abort)),
  };
}

export function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}
