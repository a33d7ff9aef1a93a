import { defineConfig } from 'vitest/config';

// Its own config: vite.config.ts has root 'web', which would hide the tests.
export default defineConfig({
  test: {
    include: ['server/**/*.test.ts', 'web/src/**/*.test.{ts,tsx}', 'test/**/*.test.ts'],
    exclude: ['test/reliability/soak.ts', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
  },
});
