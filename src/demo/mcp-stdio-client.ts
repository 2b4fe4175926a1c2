/**
 * The smallest MCP client that can drive `cns mcp` over stdio, as an MCP host (Claude Code, …)
 * does: newline-delimited JSON-RPC on the child's stdin and stdout, an `initialize` handshake, then
 * `tools/call`. Written for the demo so that it needs no MCP client library at run time; it speaks
 * only what the demo uses (tool calls; server requests other than ping are refused).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** The protocol version offered in `initialize` (the one MCP hosts commonly speak). */
const PROTOCOL_VERSION = '2025-06-18';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/** A tool call that the server answered with `isError: true`: its text says why. */
export class ToolCallError extends Error {}

export class McpStdioClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exitError: Error | null = null;
  /** Resolves when the process has exited, with its code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitError = new Error(`the MCP server exited (${signal ?? `code ${code}`})`);
        for (const p of this.pending.values()) p.reject(this.exitError);
        this.pending.clear();
        resolve({ code, signal });
      });
    });
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
    // A write after the child died: the exit handler reports it.
    child.stdin!.on('error', () => {});
    child.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  /** Starts the command and completes the handshake. */
  static async start(
    command: string,
    args: string[],
    options: { env: NodeJS.ProcessEnv; onStderr?: (line: string) => void; clientName: string },
  ): Promise<McpStdioClient> {
    const child = spawn(command, args, { env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const onStderr = options.onStderr;
    if (onStderr) createInterface({ input: child.stderr! }).on('line', (l) => onStderr(l));
    else child.stderr!.resume();
    const client = new McpStdioClient(child);
    try {
      await client.request('initialize', {
        protocolVersion: PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: options.clientName, version: '1.0.0' },
      });
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    client.notify('notifications/initialized', {});
    return client;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Calls a tool; returns its structured content. A tool error becomes a ToolCallError. */
  async callTool<T = Record<string, unknown>>(name: string, args: Record<string, unknown>): Promise<T> {
    const result = (await this.request('tools/call', { name, arguments: args })) as {
      isError?: boolean;
      content?: { type: string; text?: string }[];
      structuredContent?: T;
    };
    const text = (result.content ?? [])
      .filter((c) => c.type === 'text')
      .map((c) => c.text ?? '')
      .join('\n');
    if (result.isError) throw new ToolCallError(`${name}: ${text}`);
    return result.structuredContent ?? (JSON.parse(text) as T);
  }

  /** Closes stdin: `cns mcp` then releases what it holds, deregisters and exits. */
  close(): void {
    this.child.stdin!.end();
  }

  private request(method: string, params: unknown): Promise<unknown> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.write({ jsonrpc: '2.0', id, method, params });
    });
  }

  private notify(method: string, params: unknown): void {
    this.write({ jsonrpc: '2.0', method, params });
  }

  private write(message: unknown): void {
    if (this.child.stdin!.writable) this.child.stdin!.write(`${JSON.stringify(message)}\n`);
  }

  private onLine(line: string): void {
    if (line.trim() === '') return;
    let msg: {
      id?: number | string;
      method?: string;
      result?: unknown;
      error?: { code: number; message: string };
    };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return; // not protocol: ignore
    }
    if (msg.method !== undefined) {
      // A request from the server (ping, …) or a notification (progress, list changes).
      if (msg.id !== undefined) {
        this.write(
          msg.method === 'ping'
            ? { jsonrpc: '2.0', id: msg.id, result: {} }
            : {
                jsonrpc: '2.0',
                id: msg.id,
                error: { code: -32601, message: `${msg.method} is not supported` },
              },
        );
      }
      return;
    }
    if (typeof msg.id !== 'number') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.error) p.reject(new Error(`MCP error ${msg.error.code}: ${msg.error.message}`));
    else p.resolve(msg.result);
  }
}
