import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidInputError } from '../../core/errors.js';
import { parseDatabaseLocation } from '../../coordinator/database.js';
import { configFromOptions, openFromOptions, type GlobalOptions } from '../context.js';
import { print, printJson, redactDb } from '../output.js';

/** The MCP servers `cns init` adds to the project's `.mcp.json` (Claude Code expands `${VAR:-default}` in args). */
export const MCP_SERVERS = {
  'cns-supervisor': { type: 'stdio', command: 'npx', args: ['cns', 'mcp', '--role', 'supervisor'] },
  'cns-agent': {
    type: 'stdio',
    command: 'npx',
    args: ['cns', 'mcp', '--role', 'agent', '--type', '${CNS_AGENT_TYPE:-general}'],
  },
} as const;

interface InitReport {
  directory: string;
  db: string;
  dbCreated: boolean;
  mcpJson: { path: string; added: string[]; kept: string[]; created: boolean };
  gitignore: 'added' | 'present' | 'absent';
}

/** `cns init`: `.cns/` + the database (migrated) + `.mcp.json` entries + `.gitignore`. Idempotent. */
export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description(
      'set up cns in the current folder: .cns/ with the database, .mcp.json entries for Claude Code, .gitignore',
    )
    .option('--json', 'print what was done as JSON')
    .addHelpText(
      'after',
      `
What it does (safe to run again; nothing existing is overwritten):
  - creates .cns/ here and the database in it (.cns/cns.db, migrated), or migrates the database
    given by --db / CNS_DB (a SQLite path or a postgres:// URL);
  - writes .mcp.json, or merges into an existing one, two servers under "mcpServers":
      cns-supervisor   npx cns mcp --role supervisor
      cns-agent        npx cns mcp --role agent --type \${CNS_AGENT_TYPE:-general}
    Existing entries and other keys are kept as they are. A malformed .mcp.json is an error and
    is left untouched;
  - adds .cns/ to .gitignore when there is a .gitignore that lacks it.`,
    )
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const cwd = process.cwd();
      const globals = cmd.optsWithGlobals() as GlobalOptions;
      const explicitDb = globals.db !== undefined || (process.env.CNS_DB ?? '') !== '';
      const dbOption = explicitDb ? globals.db : join(cwd, '.cns', 'cns.db');

      // Read .mcp.json first: if it is malformed, stop before changing anything.
      const mcpPath = join(cwd, '.mcp.json');
      const mcp = readMcpJson(mcpPath);

      mkdirSync(join(cwd, '.cns'), { recursive: true });
      const config = configFromOptions({ ...globals, db: dbOption });
      const loc = parseDatabaseLocation(config.db);
      const dbExisted = loc.kind === 'sqlite' ? existsSync(loc.path) : true;
      const coordinator = await openFromOptions({ ...globals, db: config.db }, { create: true });
      await coordinator.close();

      const added: string[] = [];
      const kept: string[] = [];
      const servers = mcp.servers;
      for (const [name, entry] of Object.entries(MCP_SERVERS)) {
        if (name in servers) kept.push(name);
        else {
          servers[name] = entry;
          added.push(name);
        }
      }
      if (added.length > 0) writeFileSync(mcpPath, `${JSON.stringify(mcp.doc, null, 2)}\n`);

      const gitignore = updateGitignore(join(cwd, '.gitignore'));
      const report: InitReport = {
        directory: cwd,
        db: redactDb(config.db),
        dbCreated: !dbExisted,
        mcpJson: { path: mcpPath, added, kept, created: !mcp.existed },
        gitignore,
      };
      if (opts.json) return printJson(report);

      const rel = (p: string) => relative(cwd, resolve(p)) || p;
      const dbShown = loc.kind === 'sqlite' ? rel(loc.path) : redactDb(config.db);
      const lines = [`cns initialised in ${cwd}`];
      lines.push(
        `  database    ${dbShown}: ${dbExisted ? 'exists, schema up to date' : 'created (schema migrated)'}`,
      );
      lines.push(
        `  .mcp.json   ${
          added.length === 0
            ? `already has ${kept.join(', ')} (left as is)`
            : `${mcp.existed ? 'merged' : 'written'}: added ${added.join(', ')}${kept.length ? `; kept existing ${kept.join(', ')}` : ''}`
        }`,
      );
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
