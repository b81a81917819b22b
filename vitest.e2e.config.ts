import { defineConfig } from 'vitest/config';

// Browser tests: the real server binary driven by Debian's Chromium via playwright-core.
export default defineConfig({
  test: {
    include: ['frontend/e2e/**/*.e2e.ts'],
    environment: 'node',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
