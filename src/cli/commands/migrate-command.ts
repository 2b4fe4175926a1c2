import type { Command } from 'commander';
import { migrateDatabase } from '../../coordinator/database.js';
import { configFromOptions, explicitDatabase, prepareDatabase, type GlobalOptions } from '../context.js';

/** `cns migrate`: apply the database migrations explicitly. */
export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .summary('apply database migrations (SQLite file or PostgreSQL)')
    .description(
      'Bring the database named by --db (or CNS_DB) up to the schema this version of cns needs, and say which migrations were applied. ' +
        'Every cns process also migrates when it opens the database; run this explicitly before starting a fleet on PostgreSQL, or to check a database. ' +
        'Safe to run from several machines at once (PostgreSQL: an advisory lock; SQLite: the write lock). ' +
        'A database newer than this cns is refused (exit 6): upgrade cns.',
    )
    .option('--json', 'print {"applied": [...]} as JSON')
    .addHelpText(
      'after',
      `
PostgreSQL objects live in the schema named by CNS_PG_SCHEMA (default "cns").

Examples:
  cns migrate --db postgres://cns:secret@db.internal:5432/cns
  CNS_DB=.cns/cns.db cns migrate --json`,
    )
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals() as GlobalOptions;
      const config = configFromOptions(globals);
      // As every command: the default .cns/cns.db must exist ("cns init"), a path's folder too.
      prepareDatabase(config.db, explicitDatabase(globals));
      const { applied } = await migrateDatabase(config.db, { schema: config.schema });
      if (opts.json) {
        process.stdout.write(JSON.stringify({ applied }) + '\n');
      } else if (applied.length === 0) {
        process.stdout.write('the database is up to date\n');
      } else {
        process.stdout.write(`applied ${applied.length} migration(s): ${applied.join(', ')}\n`);
      }
    });
}
