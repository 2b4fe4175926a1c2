import { randomBytes } from 'node:crypto';

const TOKEN_BYTES = 16;
/** Random bytes are drawn a few kilobytes at a time (one CSPRNG call per 256 tokens), as randomUUID does. */
const POOL_BYTES = TOKEN_BYTES * 256;
let pool = Buffer.alloc(0);
let poolOffset = 0;

/** A fresh lease token: 128 random bits, hex. Minted for every claim (fencing). */
export function newLeaseToken(): string {
  if (poolOffset + TOKEN_BYTES > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  const token = pool.toString('hex', poolOffset, poolOffset + TOKEN_BYTES);
  poolOffset += TOKEN_BYTES;
  return token;
}

/** A fresh agent session id (one per registration): 128 random bits, hex, like a lease token. */
export function newSessionId(): string {
  return newLeaseToken();
}

/** Parses a task/workflow id as typed by a person: `42` or `#42`. */
export function parseId(input: string | number): number | null {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input > 0 ? input : null;
  const m = /^#?(\d{1,15})$/.exec(input.trim());
  return m ? Number(m[1]) : null;
}
