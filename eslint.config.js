import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'bench/.scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Only backends may import database drivers (DESIGN.md §2).
      'no-restricted-imports': ['error', { paths: ['better-sqlite3', 'pg'] }],
    },
  },
  {
    // The coordinator is the only way in: the fronts import no store module at runtime (`import
    // type` is fine: it vanishes at compile time). See docs/architecture.md.
    files: ['src/cli/**', 'src/http/**', 'src/mcp/**', 'src/worker/**', 'src/demo/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/store/**', '**/store'],
              allowTypeImports: true,
              message:
                'The fronts reach the data through the coordinator (src/coordinator/), never the store; only `import type` from src/store/ is allowed.',
            },
          ],
        },
      ],
    },
  },
  {
    // The dashboard: plain browser ES modules served as they are (no build step).
    files: ['src/http/dashboard/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'history',
          'fetch',
          'EventSource',
          'URLSearchParams',
          'Node',
          'setTimeout',
          'clearTimeout',
          'setInterval',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    files: ['src/store/sqlite/**', 'src/store/postgres/**', 'test/**', 'bench/**', 'scripts/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
