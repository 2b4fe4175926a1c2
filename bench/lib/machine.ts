/** What the numbers were measured on: CPU, cores, memory, load, Node and database versions. */
import { cpus, freemem, loadavg, totalmem, platform, release } from 'node:os';
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  freeMemoryGiB: number;
  os: string;
  node: string;
  sqlite: string;
  betterSqlite3: string;
  loadBefore: number[];
  loadAfter?: number[];
}

/**
 * The installed version of a package, found where Node resolves it from bench/: the benchmark's own
 * node_modules (the competitors, bench/package.json) first, then the repository's (cns's drivers).
 */
function packageVersion(name: string): string {
  for (const dir of ['../node_modules/', '../../node_modules/']) {
    try {
      const url = new URL(`${dir}${name}/package.json`, import.meta.url);
      return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
    } catch {
      // not installed there: try the next folder up
    }
  }
  return 'unknown';
}

export { packageVersion };

/** The version of cns in this checkout (package.json). */
export function projectVersion(): string {
  const url = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

export function machineInfo(): MachineInfo {
  const db = new Database(':memory:');
  const sqlite = db.prepare('SELECT sqlite_version() AS v').pluck().get() as string;
  db.close();
  const list = cpus();
  return {
    cpu: list[0]?.model ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()}`,
    node: process.version,
    sqlite,
    betterSqlite3: packageVersion('better-sqlite3'),
    loadBefore: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export function currentLoad(): number[] {
  return loadavg().map((l) => Math.round(l * 100) / 100);
}
