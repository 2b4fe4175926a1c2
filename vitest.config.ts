import { defineConfig } from 'vitest/config';

/**
 * `CNS_TEST_CANARY=1` runs only the deliberately failing canary (test/canary/), with the same global
 * set-up; scripts/check-canary.sh requires that run to fail.
 */
const canary = process.env.CNS_TEST_CANARY === '1';

export default defineConfig({
  test: {
    include: canary ? ['test/canary/**/*.canary.ts'] : ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    globalSetup: ['test/support/global-setup.ts'],
  },
});
