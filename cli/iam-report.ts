/**
 * Least privilege, measured: runs the end-to-end suite (every test through the local twin, each function under its
 * role from the template), collects every call each function made, and prints every grant beside the calls it
 * allowed, the grants nothing used (justified in cdk/nag.ts, or findings) and the calls denied.
 *
 *   npm run iam-report                     run the http (end-to-end) tier, then report
 *   npm run iam-report -- --usage DIR      report on the ledgers an earlier run left in DIR (NBA_IAM_USAGE_DIR)
 *   npm run iam-report -- --markdown       a Markdown table (docs/ARCHITECTURE.md holds one)
 *
 * Exit codes: 0 every grant used or justified and no call denied; 1 otherwise (or the end-to-end run failed); 2 bad arguments.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSynthesis, PROJECT_ROOT } from '../local/twin/assembly.ts';
import { buildReport, formatReport } from '../local/twin/iam-report.ts';
import { readUsage, USAGE_DIR_VARIABLE } from '../local/twin/iam-usage.ts';
import { parseCliArgs } from './lib/args.ts';
import { type CliStreams, failWith, processStreams, runIfEntry } from './lib/command.ts';

const USAGE = `usage: npm run iam-report [-- [--usage DIR] [--markdown]]

  (no option)   runs the HTTP test tier under the twin's IAM enforcement, then reports every function's grants
                beside the calls made under them; exit 1 on an unjustified grant or an unexpected denial
  --usage DIR   report on the ledgers an earlier run left in DIR (NBA_IAM_USAGE_DIR) instead of running
  --markdown    the report as the Markdown table of docs/ARCHITECTURE.md`;

export async function runIamReport(argv: readonly string[], streams: CliStreams = processStreams()): Promise<number> {
  try {
    if (argv.includes('--help') || argv.includes('-h')) {
      streams.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const v = parseCliArgs(argv, { usage: { type: 'string' }, markdown: { type: 'boolean', default: false } });
    let dir = v.usage;
    let ran: string | undefined;
    if (dir === undefined) {
      ran = mkdtempSync(join(tmpdir(), 'nba-iam-usage-'));
      dir = ran;
      streams.stderr.write('iam-report: running the http tier (npx vitest run --project http)…\n');
      const run = spawnSync('npx', ['vitest', 'run', '--project', 'http'], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, [USAGE_DIR_VARIABLE]: dir, NBA_LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      if (run.status !== 0) {
        streams.stderr.write('iam-report: the end-to-end run failed (see above); the report covers what it recorded\n');
      }
      if (run.status !== 0) process.exitCode = 1;
    }
    try {
      const report = buildReport(defaultSynthesis().plan, readUsage(dir));
      streams.stdout.write(`${formatReport(report, v.markdown)}\n`);
      return report.denied.length > 0 || report.unjustified.length > 0 || process.exitCode === 1 ? 1 : 0;
    } finally {
      if (ran) rmSync(ran, { recursive: true, force: true });
    }
  } catch (error) {
    return failWith('iam-report', USAGE, error, streams, () => false);
  }
}

await runIfEntry(import.meta.url, (argv) => runIamReport(argv));
