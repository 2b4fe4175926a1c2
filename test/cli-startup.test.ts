/**
 * The CLI loads only what a command uses (docs/architecture.md): command modules register their
 * options with light imports only and load their implementation inside the action. Checked by
 * recording every module the ES module loader resolves while `cns` runs (a `module.register` hook).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cns-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

writeFileSync(
  join(dir, 'hooks.mjs'),
  `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.CNS_LOADED_LOG, r.url + '\\n');
  return r;
}`,
);
writeFileSync(
  join(dir, 'register.mjs'),
  `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});`,
);

let runs = 0;
/** Runs cns with `args`; returns its exit code and the modules it loaded. */
function loaded(args: string[]): { status: number | null; modules: string[]; stderr: string } {
  const log = join(dir, `loaded-${++runs}.txt`);
  writeFileSync(log, '');
  const r = spawnSync(process.execPath, ['--import', join(dir, 'register.mjs'), CLI, ...args], {
    env: { ...process.env, CNS_LOADED_LOG: log, CNS_DB: join(dir, 'cns.db') },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return {
    status: r.status,
    modules: readFileSync(log, 'utf8').split('\n').filter(Boolean),
    stderr: r.stderr,
  };
}

/** The modules of `modules` whose URL contains any of `parts`. */
const matching = (modules: string[], parts: string[]) =>
  modules.filter((m) => parts.some((p) => m.includes(p)));

const HEAVY = [
  '/dist/coordinator/coordinator.js',
  '/dist/store/sqlite/',
  '/dist/store/postgres/',
  '/dist/mcp/',
  '/dist/http/http-server.js',
  '/node_modules/yaml/',
  '/node_modules/better-sqlite3/',
  '/node_modules/pg/',
  '/node_modules/@modelcontextprotocol/',
  '/node_modules/zod/',
];

describe('cns start-up', () => {
  it('--version and --help load no coordinator, store, driver, MCP SDK or YAML parser', () => {
    for (const args of [['--version'], ['--help'], ['task', '--help']]) {
      const r = loaded(args);
      expect(r.status, `cns ${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.modules.some((m) => m.endsWith('/dist/cli/main.js'))).toBe(true);
      expect(matching(r.modules, HEAVY), `cns ${args.join(' ')}`).toEqual([]);
    }
  });

  it('a SQLite command loads the SQLite store, not PostgreSQL, the MCP SDK, the HTTP server or YAML', () => {
    const init = loaded(['migrate']);
    expect(init.status, init.stderr).toBe(0);
    const r = loaded(['task', 'list']);
    expect(r.status, r.stderr).toBe(0);
    expect(matching(r.modules, ['/dist/store/sqlite/sqlite-store.js']).length).toBe(1);
    expect(
      matching(r.modules, [
        '/dist/store/postgres/',
        '/node_modules/pg/',
        '/node_modules/@modelcontextprotocol/',
        '/dist/mcp/',
        '/dist/http/http-server.js',
        '/node_modules/yaml/',
      ]),
    ).toEqual([]);
  });
});
