import { randomBytes } from 'node:crypto';

/** A fresh lease token: 128 random bits, hex. Minted for every claim (fencing). */
export function newLeaseToken(): string {
  return randomBytes(16).toString('hex');
}

/** Parses a task/workflow id as typed by a person: `42` or `#42`. */
export function parseId(input: string | number): number | null {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input > 0 ? input : null;
  const m = /^#?(\d{1,15})$/.exec(input.trim());
  return m ? Number(m[1]) : null;
}
