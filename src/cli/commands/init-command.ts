import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidInputError } from '../../core/errors.js';
import { maskDatabaseUrl, parseDatabaseLocation } from '../../coordinator/database.js';
import { configFromOptions, explicitDatabase, openFromOptions, type GlobalOptions } from '../context.js';
import { print, printJson } from '../output.js';
import { selfCommand, selfCommandLine } from '../self.js';

/**
 * The MCP servers `cns init` adds to the project's `.mcp.json` (Claude Code expands
 * `${VAR:-default}` in args). They run this cns, the one that wrote them (self.ts: absolute paths
 * of its node and entry point, never `npx`). Run `cns init` again after moving or reinstalling
 * cns: it updates the entries it wrote.
 */
export function mcpServers(): Record<'cns-supervisor' | 'cns-agent', McpServerEntry> {
  const self = selfCommand();
  const run = [...self.args, 'mcp'];
  return {
    'cns-supervisor': { type: 'stdio', command: self.command, args: [...run, '--role', 'supervisor'] },
    'cns-agent': {
      type: 'stdio',
      command: self.command,
      args: [...run, '--role', 'agent', '--type', '${CNS_AGENT_TYPE:-general}'],
    },
  };
}

interface McpServerEntry {
  type: 'stdio';
  command: string;
  args: string[];
}

/** An entry a `cns init` wrote (this version's, or an earlier one's `npx cns mcp …`): it may be updated. */
function writtenByInit(entry: unknown): boolean {
  if (entry === null || typeof entry !== 'object') return false;
  const { command, args } = entry as { command?: unknown; args?: unknown };
  if (typeof command !== 'string' || !Array.isArray(args)) return false;
  const a = args.map(String);
  if (command === 'npx' && a[0] === 'cns' && a[1] === 'mcp') return true;
  const main = a.findIndex((x) => /(^|[\\/])(dist|src)[\\/]cli[\\/]main\.[jt]s$/.test(x));
  return main >= 0 && a[main + 1] === 'mcp';
}

interface InitReport {
  directory: string;
  db: string;
  dbCreated: boolean;
  mcpJson: { path: string; added: string[]; updated: string[]; kept: string[]; created: boolean };
  gitignore: 'added' | 'present' | 'absent';
  claudeHook: { path: string; mode: HookMode; action: 'added' | 'replaced' } | null;
}

/** `cns init`: `.cns/` + the database (migrated) + `.mcp.json` entries + `.gitignore`. Idempotent. */
export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description(
      'set up cns in the current folder: .cns/ with the database, .mcp.json entries for Claude Code, .gitignore',
    )
    .option('--json', 'print what was done as JSON')
    .option(
      '--claude-hook [mode]',
      'also install the Claude Code hook (.claude/settings.json) that makes an idle worker session wait for work outside the model: "rewake" (an async Stop hook with asyncRewake), "stop" (a blocking Stop hook, for older Claude Code) or "auto" (the default: rewake unless the claude on PATH is older than 2.1.197)',
    )
    .addHelpText(
      'after',
      `
What it does (safe to run again; nothing else is overwritten):
  - creates .cns/ here and the database in it (.cns/cns.db, migrated), or creates or migrates the
    database given by --db / CNS_DB (a SQLite path, its folder created if needed, or a
    postgres:// URL);
  - writes .mcp.json, or merges into an existing one, two servers under "mcpServers" that run
    this cns (the absolute paths of its node and its dist/cli/main.js; never npx):
      cns-supervisor   <node> <cns>/dist/cli/main.js mcp --role supervisor
      cns-agent        <node> <cns>/dist/cli/main.js mcp --role agent --type \${CNS_AGENT_TYPE:-general}
    Entries that an earlier "cns init" wrote (also "npx cns mcp …") are updated to run this cns;
    other entries and keys are kept as they are. A malformed .mcp.json is an error and is left
    untouched;
  - adds .cns/ to .gitignore when there is a .gitignore that lacks it;
  - with --claude-hook: merges into .claude/settings.json (created if missing) a Stop hook that runs
    "cns wait --hook …" for the agent of that session: when the model stops with nothing to do, the
    session waits without spending tokens and is woken (or kept going) when a task it can claim
    arrives; without work it just rests. Other settings and hooks are kept; an earlier cns hook is
    replaced. See docs/claude-code.md.`,
    )
    .action(async (opts: { json?: boolean; claudeHook?: string | boolean }, cmd: Command) => {
      const cwd = process.cwd();
      const hookMode = opts.claudeHook === undefined ? null : chooseHookMode(opts.claudeHook);
      // Read .claude/settings.json first too: if it is malformed, stop before changing anything.
      const settingsPath = join(cwd, '.claude', 'settings.json');
      const settings = hookMode ? readSettings(settingsPath) : null;
      const globals = cmd.optsWithGlobals() as GlobalOptions;
      const explicitDb = explicitDatabase(globals);
      const dbOption = explicitDb ? globals.db : join(cwd, '.cns', 'cns.db');

      // Read .mcp.json first: if it is malformed, stop before changing anything.
      const mcpPath = join(cwd, '.mcp.json');
      const mcp = readMcpJson(mcpPath);

      const config = configFromOptions({ ...globals, db: dbOption });
      const loc = parseDatabaseLocation(config.db); // an unknown URL scheme: refused before any change
      mkdirSync(join(cwd, '.cns'), { recursive: true });
      const dbExisted = loc.kind === 'sqlite' ? existsSync(loc.path) : true;
      const coordinator = await openFromOptions(
        { ...globals, db: config.db },
        { create: true, createFolder: true },
      );
      await coordinator.close();

      const added: string[] = [];
      const kept: string[] = [];
      const updated: string[] = [];
      const servers = mcp.servers;
      for (const [name, entry] of Object.entries(mcpServers())) {
        if (!(name in servers)) {
          servers[name] = entry;
          added.push(name);
        } else if (writtenByInit(servers[name]) && JSON.stringify(servers[name]) !== JSON.stringify(entry)) {
          servers[name] = entry;
          updated.push(name);
        } else kept.push(name);
      }
      if (added.length + updated.length > 0) writeFileSync(mcpPath, `${JSON.stringify(mcp.doc, null, 2)}\n`);

      const gitignore = updateGitignore(join(cwd, '.gitignore'));
      let hook: InitReport['claudeHook'] = null;
      if (hookMode && settings) {
        const action = installStopHook(settings, hookMode);
        mkdirSync(join(cwd, '.claude'), { recursive: true });
        writeFileSync(settingsPath, `${JSON.stringify(settings, null, 2)}\n`);
        hook = { path: settingsPath, mode: hookMode, action };
      }
      const report: InitReport = {
        directory: cwd,
        db: maskDatabaseUrl(config.db),
        dbCreated: !dbExisted,
        mcpJson: { path: mcpPath, added, updated, kept, created: !mcp.existed },
        gitignore,
        claudeHook: hook,
      };
      if (opts.json) return printJson(report);

      const rel = (p: string) => relative(cwd, resolve(p)) || p;
      const dbShown = loc.kind === 'sqlite' ? rel(loc.path) : maskDatabaseUrl(config.db);
      const lines = [`cns initialised in ${cwd}`];
      lines.push(
        `  database    ${dbShown}: ${dbExisted ? 'exists, schema up to date' : 'created (schema migrated)'}`,
      );
      const changes = [
        added.length ? `added ${added.join(', ')}` : '',
        updated.length ? `updated ${updated.join(', ')} (to run this cns)` : '',
        kept.length ? `kept existing ${kept.join(', ')}` : '',
      ].filter((x) => x !== '');
      lines.push(
        `  .mcp.json   ${
          added.length + updated.length === 0
            ? `already has ${kept.join(', ')} (left as is)`
            : `${mcp.existed ? 'merged' : 'written'}: ${changes.join('; ')}`
        }`,
      );
      lines.push(`              (they run: ${selfCommandLine(['mcp'])} …)`);
      if (hook) {
        lines.push(
          `  .claude/settings.json  ${hook.action} the Stop hook (${hook.mode === 'rewake' ? 'async, asyncRewake: an idle session is woken when work arrives' : 'blocking: the session waits in the hook until work arrives'})`,
        );
      }
      if (gitignore === 'added') lines.push('  .gitignore  added .cns/');
      else if (gitignore === 'present') lines.push('  .gitignore  already ignores .cns/');
      if (explicitDb) {
        lines.push(
          '',
          `Note: the MCP servers find the database through CNS_DB or .cns/cns.db; set CNS_DB=${dbShown} in the environment Claude Code runs in.`,
        );
      }
      lines.push(
        '',
        'Next steps:',
        '  cns task add --type general --title "…" --spec "…"      queue a task (or: cns workflow add plan.yaml)',
        '  claude                                                  in this folder: approve the cns-agent server; it takes tasks',
        '  CNS_AGENT_TYPE=backend claude                           an agent of type "backend"',
        '  cns status                                              the fleet, task counts, stuck tasks',
      );
      print(lines.join('\n'));
    });
}

function readMcpJson(path: string): {
  doc: Record<string, unknown>;
  servers: Record<string, unknown>;
  existed: boolean;
} {
  if (!existsSync(path)) {
    const servers: Record<string, unknown> = {};
    return { doc: { mcpServers: servers }, servers, existed: false };
  }
  const text = readFileSync(path, 'utf8');
  let doc: unknown;
  try {
    doc = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(
      `.mcp.json is not valid JSON (${(err as Error).message}); fix or remove it — nothing was changed`,
    );
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new InvalidInputError('.mcp.json must hold a JSON object; fix or remove it — nothing was changed');
  }
  const obj = doc as Record<string, unknown>;
  obj.mcpServers ??= {};
  const servers = obj.mcpServers;
  if (servers === null || typeof servers !== 'object' || Array.isArray(servers)) {
    throw new InvalidInputError('.mcp.json: "mcpServers" must be an object; fix it — nothing was changed');
  }
  return { doc: obj, servers: servers as Record<string, unknown>, existed: true };
}

function updateGitignore(path: string): 'added' | 'present' | 'absent' {
  if (!existsSync(path)) return 'absent';
  const text = readFileSync(path, 'utf8');
  const ignored = text.split(/\r?\n/).some((l) => /^\/?\.cns\/?(\*\*?)?\s*$/.test(l.trim()));
  if (ignored) return 'present';
  writeFileSync(path, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}.cns/\n`);
  return 'added';
}

// ── the Claude Code hook ────────────────────────────────────────────────────────────────────────

type HookMode = 'rewake' | 'stop';

/** The oldest Claude Code known to run `asyncRewake` hooks (checked against its settings schema). */
const REWAKE_SINCE = [2, 1, 197];

function chooseHookMode(value: string | boolean): HookMode {
  const mode = value === true ? 'auto' : String(value);
  if (mode === 'rewake' || mode === 'stop') return mode;
  if (mode !== 'auto')
    throw new InvalidInputError(`--claude-hook must be rewake, stop or auto (got ${JSON.stringify(mode)})`);
  const found = spawnSync('claude', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const version = /(\d+)\.(\d+)\.(\d+)/.exec(found.stdout ?? '');
  if (!version) return 'rewake'; // not installed here (yet): the current behaviour
  const [a, b, c] = version.slice(1).map(Number) as [number, number, number];
  const [x, y, z] = REWAKE_SINCE as [number, number, number];
  const older = a !== x ? a < x : b !== y ? b < y : c < z;
  return older ? 'stop' : 'rewake';
}

/**
 * The hook entry: `cns wait --hook MODE` for this session's agent. `cns wait` finds it itself: the
 * session's `cns mcp` agent, else CNS_AGENT_TYPE, else "general" — or, with CNS_SERVER and
 * CNS_TOKEN in the session's environment, the agent token's.
 */
export function stopHookEntry(mode: HookMode): Record<string, unknown> {
  // The wait ends a little before the hook's own timeout, so Claude Code never kills it.
  const command = selfCommandLine(['wait', '--hook', mode, '--timeout', mode === 'rewake' ? '23h' : '55m']);
  return mode === 'rewake'
    ? { type: 'command', command, async: true, asyncRewake: true, timeout: 86_400 }
    : { type: 'command', command, timeout: 3_600, statusMessage: 'waiting for a cns task' };
}

/** Whether a hook entry is one cns wrote (any mode, any path to cns). */
function isCnsHook(entry: unknown): boolean {
  const command = (entry as { command?: unknown } | null)?.command;
  return (
    typeof command === 'string' &&
    / wait --hook (rewake|stop)\b/.test(command) &&
    /cli[\\/]main\.[jt]s/.test(command)
  );
}

/** Adds (or replaces an earlier cns's) Stop hook; every other hook and setting is kept. */
function installStopHook(settings: Record<string, unknown>, mode: HookMode): 'added' | 'replaced' {
  // Shapes checked by readSettings, before anything was written.
  const hooks = (settings.hooks ??= {}) as Record<string, unknown>;
  const stop = (hooks.Stop ??= []) as unknown[];
  let replaced = false;
  for (let i = stop.length - 1; i >= 0; i--) {
    const group = stop[i] as { hooks?: unknown } | null;
    if (!group || !Array.isArray(group.hooks)) continue;
    const kept = group.hooks.filter((h) => !isCnsHook(h));
    if (kept.length === group.hooks.length) continue;
    replaced = true;
    if (kept.length === 0) stop.splice(i, 1);
    else group.hooks = kept;
  }
  stop.push({ hooks: [stopHookEntry(mode)] });
  return replaced ? 'replaced' : 'added';
}

function readSettings(path: string): Record<string, unknown> {
  if (!existsSync(path)) return {};
  const text = readFileSync(path, 'utf8');
  let doc: unknown;
  try {
    doc = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(
      `.claude/settings.json is not valid JSON (${(err as Error).message}); fix or remove it — nothing was changed`,
    );
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new InvalidInputError(
      '.claude/settings.json must hold a JSON object; fix it — nothing was changed',
    );
  const hooks = (doc as { hooks?: unknown }).hooks;
  if (hooks !== undefined && (hooks === null || typeof hooks !== 'object' || Array.isArray(hooks)))
    throw new InvalidInputError(
      '.claude/settings.json: "hooks" must be an object; fix it — nothing was changed',
    );
  const stop = (hooks as { Stop?: unknown } | undefined)?.Stop;
  if (stop !== undefined && !Array.isArray(stop))
    throw new InvalidInputError(
      '.claude/settings.json: "hooks.Stop" must be an array; fix it — nothing was changed',
    );
  return doc as Record<string, unknown>;
}
