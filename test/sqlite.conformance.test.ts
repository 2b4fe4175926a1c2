import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { defineStoreConformance } from './conformance/store-conformance.js';

defineStoreConformance({
  name: 'sqlite',
  async open(options) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cns-'));
    const file = path.join(dir, 'cns.db');
    const store = await openSqliteStore(file, options);
    const others: { close(): Promise<void> }[] = [];
    return {
      store,
      async openAnother(opts) {
        const other = await openSqliteStore(file, opts);
        others.push(other);
        return other;
      },
      async cleanup() {
        for (const o of others) await o.close();
        await store.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
