import type { Command } from 'commander';
import type { TokenRecord, TokenRole } from '../../core/types.js';
import { issueToken } from '../../http/tokens.js';
import { collect, withCoordinator } from '../context.js';
import { iso, print, printJson, table } from '../output.js';
import { InvalidInputError } from '../../core/errors.js';

/** `cns token create|list|revoke`: the API tokens of `cns serve`. */
export function registerTokenCommands(program: Command): void {
  const token = program
    .command('token')
    .description('API tokens for "cns serve": create, list, revoke (only a hash of each secret is stored)');

  token
    .command('create')
    .description('create a token and print its secret (shown only this once)')
    .requiredOption('--role <role>', 'agent, supervisor or admin')
    .option(
      '--name <name>',
      'a label; for an agent token also the agent name it acts as (default <type>-<random>)',
    )
    .option('--agent-name <name>', 'agent tokens: the agent identity, when it should differ from --name')
    .option('--type <type>', 'agent tokens (required): the agent type, i.e. which tasks it takes')
    .option(
      '--capability <name>',
      'agent tokens: a capability it may register with (repeatable or comma-separated; none = any)',
      collect,
    )
    .option('--json', 'print the token record and the secret as JSON')
    .addHelpText(
      'after',
      `
Roles:
  agent       acts as one agent (its name and type come from the token): register, heartbeat, claim,
              and report on the tasks it holds; read tasks and status.
  supervisor  everything a supervisor does (create, review, cancel, retry, assign, read) but cannot
              act as an agent (no claims, no reports on tasks) and cannot manage tokens.
  admin       everything a supervisor does, plus managing tokens.

Examples:
  cns token create --role supervisor --name alice
  cns token create --role agent --type backend --name backend-1 --capability node,postgres
  cns mcp --server http://127.0.0.1:4747 --token cns_…   (on the agent's machine)`,
    )
    .action(
      async (
        opts: {
          role: string;
          name?: string;
          agentName?: string;
          type?: string;
          capability?: string[];
          json?: boolean;
        },
        cmd: Command,
      ) => {
        if (!['agent', 'supervisor', 'admin'].includes(opts.role))
          throw new InvalidInputError(
            `--role must be agent, supervisor or admin (got ${JSON.stringify(opts.role)})`,
          );
        await withCoordinator(cmd, async (c) => {
          const { token: record, secret } = await issueToken(c, {
            role: opts.role as TokenRole,
            name: opts.name,
            agentName: opts.agentName,
            type: opts.type,
            capabilities: opts.capability,
          });
          if (opts.json) return printJson({ token: record, secret });
          print(
            `token ${record.id} (${record.role}, ${describe(record)}) created. Its secret, shown only now:`,
          );
          print('');
          print(`  ${secret}`);
          print('');
          print(
            'Keep it somewhere safe: only its hash is stored. Revoke it with "cns token revoke ' +
              record.id +
              '".',
          );
        });
      },
    );

  token
    .command('list')
    .description('list tokens (never their secrets)')
    .option('--json', 'print the tokens as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withCoordinator(cmd, async (c) => {
        const tokens = await c.listTokens();
        if (opts.json) return printJson(tokens);
        if (tokens.length === 0)
          return print('no tokens yet (cns token create --role admin, or start "cns serve")');
        print(
          table(tokens, [
            { header: 'ID', get: (t) => t.id, align: 'right' },
            { header: 'NAME', get: (t) => t.name, max: 32 },
            { header: 'ROLE', get: (t) => t.role },
            { header: 'AGENT', get: (t) => (t.role === 'agent' ? describe(t) : '-'), max: 40 },
            { header: 'CREATED', get: (t) => iso(t.createdAt) },
            { header: 'LAST USED', get: (t) => iso(t.lastUsedAt) },
            { header: 'REVOKED', get: (t) => iso(t.revokedAt) },
          ]),
        );
      });
    });

  token
    .command('revoke')
    .description('revoke a token: requests with it are refused from now on')
    .argument('<id>', 'the token id (cns token list)')
    .option('--json', 'print the revoked token as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const n = Number(id.replace(/^#/, ''));
      if (!Number.isSafeInteger(n) || n <= 0)
        throw new InvalidInputError(`token id must be a number like 3 (got ${JSON.stringify(id)})`);
      await withCoordinator(cmd, async (c) => {
        const record = await c.revokeToken(n);
        if (opts.json) return printJson(record);
        print(`token ${record.id} (${record.name}, ${record.role}) revoked at ${iso(record.revokedAt)}`);
      });
    });
}

function describe(t: TokenRecord): string {
  if (t.role !== 'agent') return t.name;
  const caps = t.capabilities.length > 0 ? `; ${t.capabilities.join(',')}` : '';
  return `agent ${t.agentName} type ${t.agentType}${caps}`;
}
