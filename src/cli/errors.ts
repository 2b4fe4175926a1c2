import { CommanderError } from 'commander';
import { CnsError } from '../core/errors.js';
import { sanitize } from './output.js';

/**
 * The one place where the CLI turns an error into a one-line message on stderr (`cns: <message>`)
 * and an exit code. A stack trace is printed only when CNS_DEBUG=1.
 */
export const EXIT = {
  ok: 0,
  /** Anything unexpected. */
  error: 1,
  /** Bad input: an unknown command or option, a malformed value, an invalid task. */
  usage: 2,
  /** The task, workflow or agent does not exist. */
  notFound: 3,
  /** Not legal in the current state (e.g. completing a pending task), or not allowed (reviewing one's own work). */
  conflict: 4,
  /** The lease token is stale: the task was reclaimed, released, cancelled or finished. Nothing changed. */
  leaseLost: 5,
  /** The database cannot be opened or is newer than this cns. */
  storeUnavailable: 6,
  /** `cns task claim`, `cns worker --once`: nothing was claimable; `cns wait`: no work came in time. */
  noTask: 10,
  /** `cns worker` refused to start inside a worker's command beyond the allowed depth (CNS_WORKER_MAX_DEPTH). */
  nested: 11,
  /** Interrupted (SIGINT). */
  interrupted: 130,
} as const;

/** The exit-code table, for --help texts. */
export const EXIT_CODES_HELP = `Exit codes:
  0   success
  1   unexpected error (set CNS_DEBUG=1 for a stack trace)
  2   bad input: unknown command or option, malformed value, invalid task or workflow
  3   not found: no such task, workflow or agent
  4   conflict: not legal in the task's current state, or forbidden (e.g. reviewing one's own work)
  5   lease lost: the lease token is no longer current; nothing was changed
  6   database unavailable (cannot open, not initialised, or its schema is newer than this cns)
  10  cns task claim, cns worker --once: no task was claimable; cns wait: no work came in time
  11  cns worker: refused to start inside a worker's command (CNS_WORKER_DEPTH reached CNS_WORKER_MAX_DEPTH)`;

const STORE_ERROR_CODES = new Set([
  'SQLITE_CANTOPEN',
  'SQLITE_NOTADB',
  'SQLITE_BUSY',
  'SQLITE_CORRUPT',
  'SQLITE_READONLY',
  'SQLITE_IOERR',
  'ECONNREFUSED',
  'ENOTFOUND',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  '28000', // PostgreSQL: unknown role, or the login refused (pg_hba.conf)
  '28P01', // PostgreSQL: invalid password
  '3D000', // PostgreSQL: database does not exist
]);

export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
    // `cns help task` (exit code 0) vs `cns task` with no subcommand (help on stderr, exit code 1).
    if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return EXIT.usage;
  }
  if (err instanceof CnsError) {
    switch (err.code) {
      case 'invalid_input':
        return EXIT.usage;
      case 'not_found':
        return EXIT.notFound;
      case 'conflict':
      case 'forbidden':
        return EXIT.conflict;
      case 'lease_lost':
        return EXIT.leaseLost;
      case 'store_unavailable':
      case 'schema_too_new':
        return EXIT.storeUnavailable;
    }
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && STORE_ERROR_CODES.has(code)) return EXIT.storeUnavailable;
  return EXIT.error;
}

export function messageFor(err: unknown): string {
  let message: string;
  if (err instanceof CommanderError) message = err.message.replace(/^error: /, '');
  else if (err instanceof Error) {
    message = err.message || err.name;
    const code = (err as { code?: unknown }).code;
    if (!(err instanceof CnsError) && typeof code === 'string' && STORE_ERROR_CODES.has(code)) {
      message = `database unavailable: ${message}`;
    }
  } else message = String(err);
  return sanitize(message)
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}

/** Writes `cns: <message>` (and the stack with CNS_DEBUG=1) to stderr; returns the exit code. */
export function reportError(err: unknown): number {
  const code = exitCodeFor(err);
  if (code === EXIT.ok) return code; // --help / --version: commander already printed it
  if (err instanceof CommanderError && err.code === 'commander.help') return code; // help was shown
  process.stderr.write(`cns: ${messageFor(err)}\n`);
  if (process.env.CNS_DEBUG === '1' && err instanceof Error && err.stack)
    process.stderr.write(`${err.stack}\n`);
  return code;
}
