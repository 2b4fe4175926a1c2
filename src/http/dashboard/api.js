// @ts-check
// The HTTP API of `cns serve`, as the page calls it (the session cookie carries the token).

export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status (0: the server could not be reached)
   * @param {string} code
   * @param {string} message
   * @param {unknown} [details]
   */
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** @type {() => void} */
let onSignedOut = () => undefined;

/**
 * What to do when the server says the session ended (401).
 * @param {() => void} handler
 */
export function whenSignedOut(handler) {
  onSignedOut = handler;
}

/**
 * Calls the API; the answer is parsed JSON, typed by the caller.
 * @param {string} path
 * @param {{ method?: string, body?: unknown }} [options]
 * @returns {Promise<any>}
 */
export async function api(path, { method = 'GET', body } = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  /** @type {RequestInit} */
  const init = { method, credentials: 'same-origin', headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'unreachable', 'the cns server cannot be reached');
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const e = data?.error ?? {};
    const err = new ApiError(
      res.status,
      e.code ?? String(res.status),
      e.message ?? res.statusText,
      e.details,
    );
    if (res.status === 401 && path !== '/api/session') onSignedOut();
    throw err;
  }
  return data;
}

/**
 * The status of an error thrown by `api` (undefined for anything else).
 * @param {unknown} err
 */
export function statusOf(err) {
  return err instanceof ApiError ? err.status : undefined;
}
