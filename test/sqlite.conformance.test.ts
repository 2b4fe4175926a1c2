import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { defineStoreConformance } from './conformance/store-conformance.js';

defineStoreConformance({
  name: 'sqlite',
  async open(options) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cns-'));
    const store = await openSqliteStore(path.join(dir, 'cns.db'), options);
    return {
      store,
      async cleanup() {
        await store.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
