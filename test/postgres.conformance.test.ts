import { defineStoreConformance } from './conformance/store-conformance.js';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import { freshPostgresSchema } from './support/postgres.js';
defineStoreConformance({
  name: 'postgres',
  async open(options) {
    const s = await freshPostgresSchema();
    const store = await openPostgresStore(s.url, { ...options, schema: s.schema });
    return {
      store,
      async cleanup() {
        await store.close();
        await s.drop();
      },
    };
  },
});
