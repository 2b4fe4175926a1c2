/**
 * Isolation for PostgreSQL tests: every call gives a fresh schema with a random name on the test
 * server (global-setup.ts); the store creates and migrates it on open; `drop()` removes it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export interface FreshPostgresSchema {
  url: string;
  schema: string;
  drop(): Promise<void>;
}

export async function freshPostgresSchema(): Promise<FreshPostgresSchema> {
  const url = inject('postgresUrl');
  const schema = `cns_test_${randomBytes(6).toString('hex')}`;
  return {
    url,
    schema,
    async drop() {
      const client = new pg.Client({ connectionString: url });
      client.on('error', () => undefined);
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
