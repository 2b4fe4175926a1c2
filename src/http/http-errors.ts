/**
 * The one place where the HTTP front turns errors into responses: a status and the body
 * `{ "error": { "code", "message", "details" } }`. Domain errors map by code; `HttpError` carries
 * the front's own (unauthorized, too large, no such route, …). Anything else is a 500 whose
 * details stay in the server log.
 */
import type { ServerResponse } from 'node:http';
import { CnsError } from '../core/errors.js';

/** The domain's error codes and the HTTP statuses they become. */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  lease_lost: 409,
  too_large: 413,
  unsupported_media_type: 415,
  internal: 500,
  store_unavailable: 503,
  schema_too_new: 503,
};

/** An error of the HTTP front itself (not of the domain). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

/** Database driver error codes that mean "the store cannot be reached" (503, not 500). */
const STORE_DOWN =
  /^(SQLITE_(BUSY|CANTOPEN|IOERR|READONLY|CORRUPT|NOTADB)|ECONNREFUSED|ENOTFOUND|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|57P0[1-3]|08\w{3})/;

export function toErrorResponse(
  err: unknown,
  log: (message: string) => void = () => {},
): { status: number; body: ErrorBody } {
  if (err instanceof HttpError) {
    return {
      status: err.status,
      body: { error: { code: err.code, message: err.message, details: err.details } },
    };
  }
  if (err instanceof CnsError) {
    return {
      status: STATUS_BY_CODE[err.code] ?? 500,
      body: { error: { code: err.code, message: err.message, details: err.details } },
    };
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && STORE_DOWN.test(code)) {
    return {
      status: 503,
      body: {
        error: {
          code: 'store_unavailable',
          message: `the database is unavailable: ${(err as Error).message}`,
          details: {},
        },
      },
    };
  }
  log(`cns serve: unexpected error: ${err instanceof Error && err.stack ? err.stack : String(err)}`);
  return {
    status: 500,
    body: {
      error: {
        code: 'internal',
        message: 'cns failed unexpectedly (the details are in the server log)',
        details: {},
      },
    },
  };
}

/** Writes an error response (unless the response has started: then the connection is ended). */
export function sendError(res: ServerResponse, err: unknown, log?: (message: string) => void): void {
  const { status, body } = toErrorResponse(err, log);
  if (res.headersSent) {
    res.end();
    return;
  }
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (status === 401) headers['www-authenticate'] = 'Bearer realm="cns"';
  if (err instanceof HttpError && err.status === 405 && typeof err.details.allow === 'string')
    headers.allow = err.details.allow;
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
}
