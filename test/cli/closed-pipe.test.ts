/**
 * A reader that stops reading (`npm run -s evaluate -- … --json | head -c 100`) ends a tool quietly, as Unix tools
 * end: no EPIPE stack trace, no failure exit (README, Commands).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../local/twin/assembly.ts';

const dir = mkdtempSync(join(tmpdir(), 'nba-pipe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a CLI writing into a closed pipe', () => {
  it('exits 0 without a stack trace', async () => {
    const log = join(dir, 'h.jsonl');
    const line = '{"context":{"a":1},"actions":[{"id":"x"},{"id":"y"}],"chosen":"x","propensity":0.5,"reward":1}';
    writeFileSync(log, `${Array.from({ length: 500 }, () => line).join('\n')}\n`);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'cli/evaluate.ts', '--log', log, '--target', 'uniform', '--json'],
      { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // The reader goes away before the tool writes its answer.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  }, 60_000);
});
