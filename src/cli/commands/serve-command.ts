import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { maskDatabaseUrl } from '../../coordinator/database.js';
import { issueToken } from '../../http/tokens.js';
import { collect, intOption, openFromOptions, type GlobalOptions } from '../context.js';
import { print, printErr } from '../output.js';
import { selfCommandLine, shellWord } from '../self.js';

/** The defaults of http-server.ts (DEFAULT_PORT, DEFAULT_HOST), repeated so that the server code loads only for this command. */
const DEFAULT_PORT = 4747;
const DEFAULT_HOST = '127.0.0.1';

interface ServeOptions {
  port: number;
  host: string;
  allowedHost?: string[];
}

/** `cns serve`: the HTTP API, the event stream, MCP over HTTP and the dashboard, in one process. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .summary('serve the HTTP API, MCP over HTTP and the live dashboard')
    .description(
      [
        'Serve one database over HTTP: a JSON API (everything the CLI can do), a live event stream (server-sent events), MCP over Streamable HTTP at /mcp (the same tools as "cns mcp"), and the web dashboard at /. It runs the lease reaper.',
        'Every request needs a token (Authorization: Bearer, or the dashboard sign-in): create them with "cns token create". On the first start with no tokens at all, an admin token is created and its secret printed once.',
        'It binds 127.0.0.1 unless told otherwise; requests must name an allowed host (DNS-rebinding protection): the bound address, localhost, 127.0.0.1, [::1], and every --allowed-host.',
      ].join('\n\n'),
    )
    .addOption(
      new Option('--port <port>', `TCP port (0 picks a free one)`)
        .default(DEFAULT_PORT)
        .argParser(intOption('--port', 0, 65535)),
    )
    .addOption(
      new Option('--host <address>', 'address to bind (0.0.0.0: every interface)').default(DEFAULT_HOST),
    )
    .option(
      '--allowed-host <name>',
      'another host name clients may use (e.g. the machine\'s DNS name behind a proxy): "name" or "name:port"; repeatable',
      collect,
    )
    .addHelpText(
      'after',
      `
Examples:
  cns serve                                  dashboard at http://127.0.0.1:4747/
  cns --db postgres://cns@db/cns serve --host 0.0.0.0 --allowed-host cns.internal

Agents on other machines (no database credentials there):
  cns token create --role agent --type backend --name backend-1
  claude mcp add cns-agent -e CNS_TOKEN=cns_… -- cns mcp --server http://cns.internal:4747

A taken port is an error that names it: choose another with --port (0 picks a free one).

See docs/http-api.md for the routes, roles and errors.`,
    )
    .action(async (opts: ServeOptions, cmd: Command) => {
      const global = cmd.optsWithGlobals() as GlobalOptions;
      const { startServer } = await import('../../http/http-server.js');
      const coordinator = await openFromOptions(global, { reaper: true, create: true, poolSize: 10 });
      let firstSecret: string | null = null;
      let running;
      try {
        running = await startServer({
          coordinator,
          host: opts.host,
          port: opts.port,
          allowedHosts: opts.allowedHost ?? [],
          log: (m) => printErr(m),
        });
        // Only once listening: a start that fails (a taken port) must not use up the first token.
        if ((await coordinator.listTokens()).length === 0) {
          firstSecret = (await issueToken(coordinator, { role: 'admin', name: 'admin' })).secret;
        }
      } catch (err) {
        await running?.close().catch(() => {});
        await coordinator.close().catch(() => {});
        throw err;
      }
      const url = running.url;
      const mcpUrl = new URL('mcp', url).href;
      const db = maskDatabaseUrl(coordinator.config.db);
      print(`cns serve: listening on ${url} (database ${db}, ${coordinator.backend})`);
      print('');
      print(`Dashboard: open ${url} and sign in with a supervisor or admin token.`);
      if (firstSecret) {
        print('');
        print('First start: no tokens existed, so an admin token was created. Its secret is shown only now:');
        print('');
        print(`    ${firstSecret}`);
        print('');
        print('Use it to sign in, and to create more tokens ("cns token create", or POST /api/tokens).');
      } else {
        print(
          '  A token: cns token create --role supervisor --name <you>   (cns token list shows the existing ones)',
        );
      }
      // Claude Code's `-e` and `-H` take several values: the server's name comes before them.
      const sameDb =
        coordinator.backend === 'sqlite' ? shellWord(resolve(coordinator.config.db)) : '<the PostgreSQL URL>';
      print('');
      print('Connect agents (Claude Code; see docs/mcp.md for other clients):');
      print('  this machine, same database (runs this cns):');
      print(
        `      claude mcp add cns-agent -e CNS_DB=${sameDb} -- ${selfCommandLine(['mcp', '--role', 'agent', '--type'])} <type>`,
      );
      print('  another machine, through this server (cns installed there; no database credentials):');
      print('      cns token create --role agent --type <type> --name <agent>     (here)');
      print(`      claude mcp add cns-agent -e CNS_TOKEN=<secret> -- cns mcp --server ${url}`);
      print('  MCP over HTTP (no local process):');
      print(`      claude mcp add -t http cns ${mcpUrl} -H "Authorization: Bearer <secret>"`);
      if (opts.host !== DEFAULT_HOST && opts.host !== 'localhost')
        print(`\nListening on ${opts.host}: clients must use an allowed host name (--allowed-host).`);
      print('\nStop with Ctrl-C (or SIGTERM).');

      await new Promise<void>((resolve) => {
        const stop = (why: string) => {
          printErr(`cns serve: stopping (${why})`);
          void running
            .close()
            .then(() => coordinator.close())
            .catch((err: unknown) => printErr(`cns serve: ${String(err)}`))
            .finally(resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      setTimeout(() => process.exit(), 200).unref();
    });
}
