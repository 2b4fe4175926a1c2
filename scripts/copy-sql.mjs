// Copies the SQL migration files next to the compiled backends, so that dist/ is self-contained.
import { cpSync, existsSync } from 'node:fs';

for (const backend of ['sqlite', 'postgres']) {
  const from = `src/store/${backend}/migrations`;
  if (existsSync(from)) cpSync(from, `dist/store/${backend}/migrations`, { recursive: true });
}
