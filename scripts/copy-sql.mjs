// Copies the files tsc does not emit next to the compiled code, so that dist/ is self-contained:
// the SQL migrations of each backend and the dashboard's static files (served by `cns serve`).
import { cpSync, existsSync } from 'node:fs';

for (const backend of ['sqlite', 'postgres']) {
  const from = `src/store/${backend}/migrations`;
  if (existsSync(from)) cpSync(from, `dist/store/${backend}/migrations`, { recursive: true });
}

if (existsSync('src/http/dashboard'))
  cpSync('src/http/dashboard', 'dist/http/dashboard', { recursive: true });
