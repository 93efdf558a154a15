/** `npm run bench -- --help` answers at once with the sections it can run, and runs none of them (README, Benchmarks). */
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../local/twin/assembly.ts';

const run = promisify(execFile);
const bench = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { cwd: PROJECT_ROOT, timeout: 60_000 });

describe('npm run bench -- --help', () => {
  it('prints the options and every section, exits 0, and leaves BENCHMARKS.md as it was', async () => {
    const file = join(PROJECT_ROOT, 'BENCHMARKS.md');
    const before = { text: readFileSync(file, 'utf8'), mtime: statSync(file).mtimeMs };
    const { stdout, stderr } = await bench('--help');
    expect(stdout).toContain('--only NAMES');
    expect(stdout).toContain('--full');
    for (const name of ['scoring', 'updater', 'replay', 'load', 'retrain', 'obd'])
      expect(stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    expect(stderr).toBe('');
    expect({ text: readFileSync(file, 'utf8'), mtime: statSync(file).mtimeMs }).toEqual(before);
  });

  it('refuses an unknown section by name instead of running nothing for minutes', async () => {
    const err = await bench('--only', 'nope').then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain('unknown section nope');
  });
});
