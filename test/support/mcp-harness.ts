/**
 * Drives `cns mcp` the way Claude Code does: a real MCP SDK client over stdio, spawning the
 * command as a separate process. Uses the built CLI (dist/) when it is at least as new as every
 * source file (as after `npm test`, which builds first), else runs the TypeScript through tsx.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

let entry: string[] | null = null;

/** The node arguments that run the cns CLI. */
export function cnsEntry(): string[] {
  if (entry) return entry;
  const dist = join(ROOT, 'dist', 'cli', 'main.js');
  const fresh = existsSync(dist) && newestMtime(join(ROOT, 'dist')) >= newestMtime(join(ROOT, 'src'));
  entry = fresh ? [dist] : ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts')];
  return entry;
}

export interface McpProcess {
  client: Client;
  transport: StdioClientTransport;
  pid: number;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Closes the client: stdin is closed first (the server should exit on its own). */
  close(): Promise<void>;
  /** Resolves with the exit code / signal when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Protocol era: legacy (2025 initialize, what Claude Code speaks; default) or modern (2026-07-28). */
  era?: 'legacy' | 'modern';
}

/** Starts `cns --db <db> mcp <args…>` and connects an MCP client to it. */
export async function startMcp(db: string, args: string[], options: StartOptions = {}): Promise<McpProcess> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...cnsEntry(), '--db', db, 'mcp', ...args],
    env: { ...getDefaultEnvironment(), ...options.env },
    stderr: 'pipe',
    cwd: ROOT,
  });
  let err = '';
  transport.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const client = new Client(
    { name: 'cns-test', version: '1.0.0' },
    options.era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
  try {
    await client.connect(transport);
  } catch (e) {
    throw new Error(`cns mcp did not start: ${String(e)}; its stderr: ${err}`);
  }
  const pid = transport.pid;
  if (pid === null) throw new Error('no pid');
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    const timer = setInterval(() => {
      try {
        process.kill(pid, 0);
      } catch {
        clearInterval(timer);
        resolve({ code: null, signal: null });
      }
    }, 25);
  });
  return { client, transport, pid, stderr: () => err, close: () => client.close(), exited };
}

/** A fresh temporary directory with a database path in it; `cleanup()` removes it. */
export function tempDb(): { dir: string; db: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'cns-mcp-'));
  return { dir, db: join(dir, 'cns.db'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Calls a tool and returns its structured content; throws with the error text if it failed. */
export async function call<T = Record<string, unknown>>(
  p: McpProcess,
  name: string,
  args: Record<string, unknown> = {},
  options: Parameters<Client['callTool']>[1] = {},
): Promise<T> {
  const res = await p.client.callTool({ name, arguments: args }, { timeout: 120_000, ...options });
  if (res.isError) throw new Error(`${name} failed: ${textOf(res)}`);
  const text = textOf(res);
  const structured = res.structuredContent as T;
  // Every answer carries the same JSON as text.
  if (JSON.stringify(JSON.parse(text)) !== JSON.stringify(structured))
    throw new Error(`${name}: text and structuredContent differ`);
  return structured;
}

export function textOf(res: { content?: unknown }): string {
  const content = (res.content ?? []) as { type: string; text?: string }[];
  return content
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join('\n');
}
