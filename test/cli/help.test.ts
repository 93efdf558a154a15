/**
 * Every command the README lists answers `--help` with its usage and exit 0, before doing any work (README, Tools).
 * The commands are read from package.json's scripts that run a `cli/` or `bench/` file.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../local/twin/assembly.ts';

const run = promisify(execFile);
const scripts = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
const tools = Object.entries(scripts)
  .map(([name, command]) => [name, /^tsx ((?:cli|bench)\/\S+\.ts)$/.exec(command)?.[1]] as const)
  .filter((t): t is readonly [string, string] => t[1] !== undefined);

describe('--help on every command', () => {
  it('finds the tools', () => {
    expect(tools.map(([n]) => n)).toEqual(
      expect.arrayContaining(['import', 'retrain', 'evaluate', 'bench', 'dead-letters']),
    );
  });
  it.each(tools)(
    'npm run %s -- --help prints its usage and exits 0',
    async (_name, file) => {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', file, '--help'], {
        cwd: PROJECT_ROOT,
        timeout: 30_000,
        env: { ...process.env, NBA_LOG_LEVEL: 'silent' },
      });
      expect(stdout).toMatch(/^usage: npm run /m);
    },
    40_000,
  );
});
