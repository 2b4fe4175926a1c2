import { defineStoreConformance } from './conformance/store-conformance.js';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import { freshPostgresSchema } from './support/postgres.js';
defineStoreConformance({
  name: 'postgres',
  async open(options) {
    const s = await freshPostgresSchema();
    const store = await openPostgresStore(s.url, { ...options, schema: s.schema });
    const others: { close(): Promise<void> }[] = [];
    return {
      store,
      async openAnother(opts) {
        const other = await openPostgresStore(s.url, { ...opts, schema: s.schema });
        others.push(other);
        return other;
      },
      async cleanup() {
        for (const o of others) await o.close();
        await store.close();
        await s.drop();
      },
    };
  },
});
