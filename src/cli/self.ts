/**
 * The command that runs this cns, for what cns writes or prints for MCP clients (`cns init`'s
 * `.mcp.json`, `cns serve`'s banner): the absolute paths of the node running now and of this
 * cns's entry point. No PATH lookup and no `npx` (which, outside a clone of cns, would download
 * whatever registry package is named "cns"); and the node it was installed with, as cns's SQLite
 * driver is a native module built for that node.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SelfCommand {
  command: string;
  /** The arguments before cns's own (its entry point, and loader flags when run from sources). */
  args: string[];
}

export function selfCommand(): SelfCommand {
  const here = fileURLToPath(import.meta.url);
  // Run from the TypeScript sources (a development run through tsx): main.ts, the same loader flags.
  const sources = here.endsWith('.ts');
  const main = join(dirname(here), sources ? 'main.ts' : 'main.js');
  return { command: process.execPath, args: [...(sources ? process.execArgv : []), main] };
}

/** A word for a POSIX shell: as it is when safe, else single-quoted. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The self command and `args` as one shell command line. */
export function selfCommandLine(args: string[]): string {
  const self = selfCommand();
  return [self.command, ...self.args, ...args].map(shellWord).join(' ');
}
