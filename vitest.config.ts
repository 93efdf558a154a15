import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: emulator-backed suites each start their own servers on free ports.
    maxWorkers: 2,
  },
});
