/**
 * The dashboard's static files, served at `/` from `dashboard/` next to this module (dist/http/
 * dashboard after a build, src/http/dashboard when running from source). Only files inside that
 * folder (subfolders included: the page is split into ES modules), with their content type; every
 * response carries the strict Content-Security-Policy. One module is made here rather than read:
 * `lifecycle.js`, the task lifecycle of src/core/status.ts, so the page keeps no copy of it.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FINAL_STATUSES, OPEN_STATUSES, TASK_STATUSES, TRANSITIONS } from '../core/status.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Scripts and styles only from this origin (no inline script), no framing, no plugins. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The path of the generated lifecycle module (typed for the page by dashboard/lifecycle.d.ts). */
export const LIFECYCLE_MODULE = '/lifecycle.js';

/** The lifecycle as an ES module for the browser: the server's own definitions, serialised. */
export function lifecycleModule(): string {
  const constant = (name: string, value: unknown) =>
    `export const ${name} = Object.freeze(${JSON.stringify(value)});\n`;
  return (
    '// Made by the cns server from its task lifecycle (src/core/status.ts). Do not edit.\n' +
    constant('TASK_STATUSES', TASK_STATUSES) +
    constant('FINAL_STATUSES', FINAL_STATUSES) +
    constant('OPEN_STATUSES', OPEN_STATUSES) +
    constant('TRANSITIONS', TRANSITIONS)
  );
}

/** The dashboard folder: the given one, else next to this module, else src/http/dashboard. */
export function findDashboardDir(given?: string | null): string | null {
  if (given === null) return null;
  if (given) return resolve(given);
  const here = fileURLToPath(new URL('./dashboard/', import.meta.url));
  const candidates = [here, fileURLToPath(new URL('../../src/http/dashboard/', import.meta.url))];
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? null;
}

/** Serves `pathname` from `dir`; false when there is no such file (the caller answers 404). */
export async function serveDashboardFile(
  dir: string,
  pathname: string,
  res: ServerResponse,
  head: boolean,
): Promise<boolean> {
  let rel: string;
  try {
    rel = decodeURIComponent(pathname);
  } catch {
    return false;
  }
  if (rel.endsWith('/')) rel += 'index.html';
  if (rel.includes('\0')) return false;
  if (rel === LIFECYCLE_MODULE) {
    const body = Buffer.from(lifecycleModule());
    res.writeHead(200, {
      'content-type': TYPES['.js']!,
      'content-length': String(body.length),
      'cache-control': 'no-cache',
    });
    res.end(head ? undefined : body);
    return true;
  }
  const file = normalize(join(dir, rel));
  if (!file.startsWith(dir.endsWith(sep) ? dir : dir + sep)) return false;
  const type = TYPES[extname(file).toLowerCase()];
  if (!type) return false;
  try {
    if (!statSync(file).isFile()) return false;
  } catch {
    return false;
  }
  const body = await readFile(file);
  res.writeHead(200, {
    'content-type': type,
    'content-length': String(body.length),
    'cache-control': 'no-cache',
  });
  res.end(head ? undefined : body);
  return true;
}
