/**
 * cns as another project uses it: `npm pack` (of the built tree), the tarball installed into an
 * empty folder, `cns init` there, then a real MCP client starts the `cns mcp` command that the
 * written `.mcp.json` names and lists its tools, as Claude Code would.
 *
 * The install is offline-first (`--prefer-offline`: the dependencies come from the npm cache, else
 * the registry) and runs no install scripts; better-sqlite3's native module, which its install
 * script would compile (about a minute on two cores), is copied from this checkout's own
 * node_modules when the versions match. CNS_PACK_TEST_BUILD=1 runs the install scripts instead.
 */
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './support/mcp-harness.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'cns-pack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('CNS_') && !k.startsWith('npm_')) env[k] = v;
  return env;
}

function version(packageDir: string): string {
  return (JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string }).version;
}

interface McpEntry {
  type: string;
  command: string;
  args: string[];
}

describe('npm pack → install in an empty folder → cns init → cns mcp', () => {
  it('installs, initialises a project and serves MCP from the command .mcp.json names', async () => {
    const started = Date.now();
    expect(existsSync(join(ROOT, 'dist', 'cli', 'main.js')), 'build first (npm run build)').toBe(true);

    // The tarball: built files only (`prepare` would rebuild; the tests run on a fresh build).
    const packed = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
      cwd: ROOT,
      env: cleanEnv(),
      maxBuffer: 64 * 1024 * 1024,
    });
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    const files = info!.files.map((f) => f.path);
    for (const needed of [
      'package.json',
      'README.md',
      'dist/cli/main.js',
      'dist/index.js',
      'dist/store/sqlite/migrations/0001_initial.sql',
      'dist/store/postgres/migrations/0001_initial.sql',
      'dist/http/dashboard/index.html',
    ])
      expect(files, needed).toContain(needed);
    expect(files.filter((f) => /^(src|test|bench|scripts)\//.test(f))).toEqual([]);
    const tarball = join(dir, info!.filename);

    // An empty project folder with the tarball installed.
    const project = join(dir, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'some-project', private: true }));
    const full = process.env.CNS_PACK_TEST_BUILD === '1';
    await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        ...(full ? [] : ['--ignore-scripts']),
        tarball,
      ],
      { cwd: project, env: cleanEnv(), maxBuffer: 64 * 1024 * 1024 },
    );
    const installed = join(project, 'node_modules', 'cns');
    const sqlite = join(project, 'node_modules', 'better-sqlite3');
    const addon = join('build', 'Release', 'better_sqlite3.node');
    if (!full) {
      const ours = join(ROOT, 'node_modules', 'better-sqlite3');
      if (version(ours) === version(sqlite) && existsSync(join(ours, addon))) {
        mkdirSync(join(sqlite, 'build', 'Release'), { recursive: true });
        copyFileSync(join(ours, addon), join(sqlite, addon));
      } else {
        await run('npm', ['rebuild', 'better-sqlite3'], {
          cwd: project,
          env: cleanEnv(),
          maxBuffer: 64 * 1024 * 1024,
        });
      }
    }
    const installedAt = Date.now();

    // `cns` as npm installed it (node_modules/.bin/cns), run in the project.
    const bin = join(project, 'node_modules', '.bin', 'cns');
    expect((await run(bin, ['--version'], { cwd: project, env: cleanEnv() })).stdout.trim()).toBe(
      version(ROOT),
    );
    const init = await run(bin, ['init'], { cwd: project, env: cleanEnv() });
    expect(init.stdout).toContain('cns initialised in');
    expect(existsSync(join(project, '.cns', 'cns.db'))).toBe(true);
    const added = await run(bin, ['task', 'add', '--type', 'general', '--title', 'from the packed cns'], {
      cwd: project,
      env: cleanEnv(),
    });
    expect(added.stdout.trim()).toBe('1');

    // .mcp.json runs this installed cns: its node, its dist/cli/main.js; never npx.
    const mcpJson = JSON.parse(readFileSync(join(project, '.mcp.json'), 'utf8')) as {
      mcpServers: Record<string, McpEntry>;
    };
    const agent = mcpJson.mcpServers['cns-agent']!;
    expect(agent.command).toBe(process.execPath);
    expect(agent.args[0]).toBe(realpathSync(join(installed, 'dist', 'cli', 'main.js')));
    expect(JSON.stringify(mcpJson)).not.toContain('npx');

    // A real MCP client starts each server as Claude Code would (its ${VAR:-default} expanded).
    for (const [name, entry] of Object.entries(mcpJson.mcpServers)) {
      const transport = new StdioClientTransport({
        command: entry.command,
        args: entry.args.map((a) => a.replace(/\$\{CNS_AGENT_TYPE:-([^}]*)\}/, '$1')),
        env: getDefaultEnvironment(),
        cwd: project,
        stderr: 'pipe',
      });
      let stderr = '';
      transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const client = new Client({ name: 'cns-pack-test', version: '1.0.0' });
      try {
        await client.connect(transport);
      } catch (err) {
        throw new Error(`${name} did not start: ${String(err)}; stderr: ${stderr}`);
      }
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools, name).toContain(name === 'cns-agent' ? 'task_next' : 'task_create');
      if (name === 'cns-supervisor') {
        const listed = await client.callTool({ name: 'task_list', arguments: {} });
        expect(JSON.stringify(listed.structuredContent)).toContain('from the packed cns');
      }
      await client.close();
    }
    console.log(
      `pack test: packed and installed in ${((installedAt - started) / 1000).toFixed(1)} s, init and MCP in ${((Date.now() - installedAt) / 1000).toFixed(1)} s`,
    );
  }, 300_000);
});
