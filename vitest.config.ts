import { defineConfig } from 'vitest/config';

/**
 * Tests by tier, named by their file names:
 * - unit (`*.test.ts`): pure code, CDK templates, CLIs on files; no emulator may start (startEmulators refuses);
 * - emu (`*.emu.test.ts`): adapters and app code against the real-protocol emulators, in-process;
 * - http (`*.http.test.ts`): through the local twin of the synthesised stack, over HTTP, under each function's role;
 * - readme (`*.readme.test.ts`): the README run as a user would, `npm start` and the README's commands as printed.
 * `npm run test:unit` runs the first; `npm test` runs all four.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: emulator-backed suites each start their own servers on free ports.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.emu.test.ts', 'test/**/*.http.test.ts', 'test/**/*.readme.test.ts'],
          env: { NBA_FORBID_EMULATORS: 'unit tier' },
        },
      },
      { extends: true, test: { name: 'emu', include: ['test/**/*.emu.test.ts'] } },
      { extends: true, test: { name: 'http', include: ['test/**/*.http.test.ts'] } },
      { extends: true, test: { name: 'readme', include: ['test/**/*.readme.test.ts'] } },
    ],
  },
});
