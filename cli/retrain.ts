/**
 * Runs the retraining state machine locally, through the definition CDK synthesises (see local/retrain.ts), against
 * the local data: the lake under `<data-dir>/lake/` and the state in the DynamoDB emulator. If `npm start` is running
 * on the same data dir, the run talks to its emulator (the serving model picks a promotion up within its refresh);
 * otherwise it opens the data dir itself.
 *
 *   npm run retrain -- --decision-point X [--data-dir .local-data] [--as-of ISO] [--weighting uniform|none]
 *                      [--clip 20] [--holdout-days 1 | --holdout-fraction F] [--tolerance 0] [--force] [--json]
 *
 * Exit codes: 0 the run completed (promoted or rejected), 1 the run failed, 2 bad arguments.
 */
import { join, resolve } from 'node:path';
import { openLocalState, runLocalRetrain } from '../local/retrain.ts';
import { FsBlobStore } from '../shared/adapters/lake/fs-blob-store.ts';
import type { RunInput } from '../shared/app/retrain/run-context.ts';
import { DEFAULT_CLIP } from '../shared/core/importance.ts';
import { parseCliArgs, parseNumberFlag, UsageError } from './lib/args.ts';
import { type CliStreams, processStreams, runIfEntry } from './lib/command.ts';
import { localDataDir } from './lib/local.ts';

const USAGE = `usage: npm run retrain -- --decision-point X [options]

  --decision-point X   the decision point to retrain
  --data-dir DIR       local data (lake/ and the emulators' files), default NBA_DATA_DIR or .local-data
  --as-of ISO          train as of this instant (default now)
  --weighting W        uniform (importance-weighted, default) or none
  --clip C             largest importance weight (default ${DEFAULT_CLIP})
  --holdout-days N     most recent days held out for the evaluation (default 1)
  --holdout-fraction F hold out this share of the decisions instead (0 < F < 1), for a history of few days
  --tolerance T        promote if the lower bound >= current estimate - T (default 0)
  --force              promote despite the statistical gate (never with incomplete data)
  --json               print the run's final context as JSON`;

export async function runRetrainCli(argv: readonly string[], streams: CliStreams = processStreams()): Promise<number> {
  let input: RunInput;
  let dataDir: string;
  let json: boolean;
  try {
    const v = parseCliArgs(argv, {
      'decision-point': { type: 'string' },
      'data-dir': { type: 'string' },
      'as-of': { type: 'string' },
      weighting: { type: 'string' },
      clip: { type: 'string' },
      'holdout-days': { type: 'string' },
      'holdout-fraction': { type: 'string' },
      tolerance: { type: 'string' },
      force: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    });
    if (v.help) {
      streams.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (v['decision-point'] === undefined) throw new UsageError('--decision-point is required');
    if (v.weighting !== undefined && v.weighting !== 'uniform' && v.weighting !== 'none') {
      throw new UsageError(`--weighting expects uniform or none, got "${v.weighting}"`);
    }
    if (v['holdout-days'] !== undefined && v['holdout-fraction'] !== undefined) {
      throw new UsageError('--holdout-days and --holdout-fraction exclude each other: hold out days or a share');
    }
    const asOf = v['as-of'];
    if (asOf !== undefined && !Number.isFinite(Date.parse(asOf)))
      throw new UsageError(`--as-of expects an ISO-8601 time`);
    input = {
      decisionPoint: v['decision-point'],
      ...(asOf !== undefined && { asOf: new Date(Date.parse(asOf)).toISOString() }),
      ...(v.weighting !== undefined && { weighting: v.weighting }),
      ...(v.clip !== undefined && { clip: parseNumberFlag('clip', v.clip, { above: 0.999 }) }),
      ...(v['holdout-days'] !== undefined && {
        holdoutDays: parseNumberFlag('holdout-days', v['holdout-days'], { integer: true, above: 0, below: 91 }),
      }),
      ...(v['holdout-fraction'] !== undefined && {
        holdoutFraction: parseNumberFlag('holdout-fraction', v['holdout-fraction'], { above: 0, below: 1 }),
      }),
      ...(v.tolerance !== undefined && { tolerance: parseNumberFlag('tolerance', v.tolerance, { above: -1e-12 }) }),
      force: v.force,
    };
    dataDir = resolve(v['data-dir'] ?? localDataDir());
    json = v.json;
  } catch (error) {
    if (error instanceof UsageError) {
      streams.stderr.write(`retrain: ${error.message}\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }

  process.env.NBA_LOG_LEVEL ??= 'silent';
  const { state, erasures, audit, close } = await openLocalState(dataDir);
  try {
    // Progress on stderr (stdout stays the result, pure JSON with --json): each step once, as the run reaches it.
    const started = Date.now();
    const seen = new Set<string>();
    const onState = (name: string) => {
      if (seen.has(name)) return;
      seen.add(name);
      streams.stderr.write(`retrain: ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    };
    const result = await runLocalRetrain(
      input,
      { blobs: new FsBlobStore(dataDir), state, erasures, audit },
      { onState },
    );
    if (json) {
      streams.stdout.write(`${JSON.stringify({ status: result.status, error: result.error, ...result.output })}\n`);
      return result.status === 'SUCCEEDED' ? 0 : 1;
    }
    if (result.status === 'FAILED') {
      streams.stderr.write(`retrain: the run failed: ${result.error}\n`);
      streams.stderr.write(`states: ${result.states.join(' → ')}\n`);
      return 1;
    }
    const ctx = result.output!;
    const e = ctx.evaluation;
    const day = (b: number) => new Date(b * 86_400_000).toISOString().slice(0, 10);
    const fmt = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x.toPrecision(4));
    const outcome = ctx.report?.outcome ?? 'unknown';
    const forced = e?.forced === true && ctx.promotion?.promoted === true;
    const lines = [
      `retraining ${ctx.run.decisionPoint}: ${outcome}${forced ? ' BY --force, past a gate it did not pass' : ''} (model ${ctx.run.version})`,
      `trained on decisions before ${day(ctx.run.cutoffBucket)}: ${ctx.fit?.trainDecisions ?? 0} + ` +
        `${ctx.fit?.holdoutDecisions ?? 0} held out (${ctx.plan?.items ?? 0} map items)`,
    ];
    if (e) {
      const policies = [e.candidate, e.current, e.logging];
      const width = Math.max(...policies.map((p) => p.name.length));
      for (const p of policies) {
        lines.push(
          `  ${p.name.padEnd(width)}  ${p.estimator.padEnd(5)} ${fmt(p.estimate?.value)} ` +
            `[${fmt(p.estimate?.lower)}, ${fmt(p.estimate?.upper)}]  lower bound ${fmt(p.lowerBound)}`,
        );
      }
      if (e.exploration) lines.push(`  serving settings: ${e.exploration.why}`);
      for (const r of e.reasons) lines.push(`  ${forced ? 'bypassed' : 'why'}: ${r}`);
      for (const w of e.warnings) if (!w.startsWith('promotion forced despite')) lines.push(`  warning: ${w}`);
    }
    if (ctx.promotion?.reason) lines.push(`  why: ${ctx.promotion.reason}`);
    if (ctx.report) lines.push(`report: ${join(dataDir, ctx.report.htmlKey)}`);
    streams.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await close();
  }
}

await runIfEntry(import.meta.url, (argv) => runRetrainCli(argv));
