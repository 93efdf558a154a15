/**
 * Off-policy evaluation of a target policy on a logged bandit dataset.
 *
 *   npm run evaluate -- --log FILE [--format jsonl|obd] --target uniform|logging|model:VERSION [--json]
 *                       [--delta 0.05] [--seed N] [--reward-min A --reward-max B]
 *
 * Exit codes: 0 done, 2 bad arguments or malformed input, 1 anything unexpected.
 */
import { createReadStream } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createDynamoClient } from '../shared/adapters/aws-clients.ts';
import { DynamoStateStore } from '../shared/adapters/dynamodb/state-store.ts';
import { FsBlobStore } from '../shared/adapters/lake/fs-blob-store.ts';
import { sourceIdOf } from '../shared/app/retrain/import-history.ts';
import { loadModelPolicy } from '../shared/app/retrain/model-policy.ts';
import {
  type Estimate,
  EvaluationError,
  type EvaluationReport,
  evaluatePolicy,
  evaluateSlates,
  inferFormat,
  type LogFormat,
  type LoggedData,
  parseTargetSpec,
  type ReadProgress,
  type RewardRange,
  readJsonlLog,
  readObdLog,
  resolveTarget,
  type SlateReport,
  type TargetPolicy,
} from '../shared/core/evaluation/index.ts';
import { parseCliArgs, parseNumberFlag, UsageError } from './lib/args.ts';
import { type CliStreams, failWith, processStreams, runIfEntry } from './lib/command.ts';
import { localDataDir } from './lib/local.ts';
import { createProgressLine } from './lib/progress.ts';

const USAGE = `usage: npm run evaluate -- --log FILE --target uniform|logging|model:VERSION [options]

  --log FILE           logged rounds: JSONL history (simulator --history; a line with \`slots\` is a slate,
                       evaluated on its whole-page reward too) or an OBD campaign CSV
  --format jsonl|obd   default: obd for .csv, jsonl otherwise (OBD reads item_context.csv beside the log)
  --target SPEC        uniform | logging | model:VERSION (a stored offline model; model:active is the serving one)
  --decision-point DP  the decision point whose model a model target names
  --data-dir DIR       local data holding the engine state (default NBA_DATA_DIR or .local-data), or
  --table NAME         the engine's state table in AWS (default credentials)
  --json               print one JSON object instead of a table
  --by-position        also evaluate each logged position (slot) on its own rounds (OBD: positions 1–3)
  --delta D            error probability of the high-confidence lower bound (default 0.05)
  --seed N             seeds the cross-fitting folds and the lower bound's split (default 0)
  --reward-min A, --reward-max B
                       known reward bounds (default: declared by the format, else observed)`;

interface Parsed {
  log: string;
  format: LogFormat;
  target: string;
  json: boolean;
  byPosition: boolean;
  delta: number;
  seed: number;
  rewardRange: RewardRange | undefined;
  decisionPoint: string | undefined;
  dataDir: string;
  table: string | undefined;
}

function parse(argv: readonly string[]): Parsed | 'help' {
  const v = parseCliArgs(argv, {
    log: { type: 'string' },
    format: { type: 'string' },
    target: { type: 'string' },
    json: { type: 'boolean', default: false },
    'by-position': { type: 'boolean', default: false },
    delta: { type: 'string' },
    seed: { type: 'string' },
    'reward-min': { type: 'string' },
    'reward-max': { type: 'string' },
    'decision-point': { type: 'string' },
    'data-dir': { type: 'string' },
    table: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (v.help) return 'help';
  if (v.log === undefined) throw new UsageError('--log FILE is required');
  if (v.target === undefined) throw new UsageError('--target is required (uniform, logging or model:VERSION)');
  if (v.format !== undefined && v.format !== 'jsonl' && v.format !== 'obd') {
    throw new UsageError(`--format expects jsonl or obd, got "${v.format}"`);
  }
  const rMin = v['reward-min'];
  const rMax = v['reward-max'];
  if ((rMin === undefined) !== (rMax === undefined)) throw new UsageError('--reward-min and --reward-max go together');
  let rewardRange: RewardRange | undefined;
  if (rMin !== undefined && rMax !== undefined) {
    rewardRange = { min: parseNumberFlag('reward-min', rMin), max: parseNumberFlag('reward-max', rMax) };
    if (!(rewardRange.max > rewardRange.min)) throw new UsageError('--reward-max must exceed --reward-min');
  }
  return {
    log: v.log,
    format: (v.format as LogFormat | undefined) ?? inferFormat(v.log),
    target: v.target,
    json: v.json,
    byPosition: v['by-position'],
    delta: v.delta === undefined ? 0.05 : parseNumberFlag('delta', v.delta, { above: 0, below: 1 }),
    seed: v.seed === undefined ? 0 : parseNumberFlag('seed', v.seed, { integer: true, above: -1, below: 2 ** 32 }),
    rewardRange,
    decisionPoint: v['decision-point'],
    dataDir: v['data-dir'] ?? localDataDir(),
    table: v.table,
  };
}

async function readable(path: string, what: string): Promise<void> {
  try {
    await access(path);
  } catch {
    throw new UsageError(`cannot read ${what} ${path}`);
  }
}

/**
 * Whether this very log was imported into the local lake (`npm run import` names its objects after the file's bytes):
 * a model retrained on that lake learned from these decisions, so its estimate on them is in-sample. The warning says
 * so; undefined when the log is not in the lake.
 */
async function importedHere(args: Parsed): Promise<string | undefined> {
  const source = sourceIdOf(await readFile(resolve(args.log)));
  const lake = new FsBlobStore(resolve(args.dataDir));
  const objects = await lake.list('lake/kind=decision/');
  if (!objects.some((o) => o.key.includes(`import-${source}-`))) return undefined;
  return (
    `this log was imported into the lake of ${args.dataDir} (objects import-${source}-…): a model retrained since ` +
    'learned from these very decisions, so its estimate here is in-sample (optimistic); evaluate it on decisions it ' +
    "did not see (another log, or the retraining report's hold-out)"
  );
}

/** The stored model `version` of `--decision-point`, read from the local data dir or from the AWS state table. */
async function loadModelTarget(version: string, args: Parsed): Promise<TargetPolicy> {
  if (args.decisionPoint === undefined) throw new UsageError('a model target needs --decision-point');
  if (args.table !== undefined) {
    return loadModelPolicy(new DynamoStateStore(createDynamoClient(), args.table), args.decisionPoint, version);
  }
  // Loaded only for model targets: it brings the local emulators along.
  const { openLocalState } = await import('../local/retrain.ts');
  const { state, close } = await openLocalState(resolve(args.dataDir));
  try {
    return await loadModelPolicy(state, args.decisionPoint, version);
  } finally {
    await close();
  }
}

async function readLog(args: Parsed, streams: CliStreams): Promise<LoggedData> {
  const path = resolve(args.log);
  await readable(path, 'log');
  const size = (await stat(path)).size;
  const name = basename(path);
  const progress = createProgressLine(streams.stderr);
  const onProgress = (p: ReadProgress): void =>
    progress.update(
      `reading ${name}: ${p.lines.toLocaleString('en-US')} lines` +
        (size > 0 ? ` (${Math.min(100, (100 * p.bytes) / size).toFixed(0)}%)` : ''),
    );
  try {
    if (args.format === 'jsonl') return await readJsonlLog(createReadStream(path), { source: name, onProgress });
    const itemContext = join(dirname(path), 'item_context.csv');
    await readable(itemContext, 'OBD item context (expected beside the log)');
    return await readObdLog({
      log: createReadStream(path),
      itemContext: createReadStream(itemContext),
      logName: name,
      itemContextName: 'item_context.csv',
      onProgress,
    });
  } finally {
    progress.done();
  }
}

const ORDER = ['dr', 'snips', 'dros', 'ips', 'dm'] as const;
const LABEL: Record<(typeof ORDER)[number], string> = {
  dr: 'DR (cross-fitted)',
  snips: 'SNIPS',
  dros: 'DRos (shrinkage)',
  ips: 'IPS',
  dm: 'DM',
};

/** The machine-readable report: recommended estimator first among the estimates. */
export function reportJson(report: EvaluationReport): Record<string, unknown> {
  const estimates: Record<string, unknown> = {};
  const order = [report.recommended, ...ORDER.filter((k) => k !== report.recommended)];
  for (const k of order) estimates[k] = report.estimates[k];
  const lambda = report.details.drosLambda;
  return {
    target: report.target,
    n: report.n,
    nWithPropensity: report.nWithPropensity,
    ess: report.ess,
    maxWeight: report.maxWeight,
    meanWeight: report.meanWeight,
    supportMissing: report.supportMissing,
    recommended: report.recommended,
    estimates,
    lowerBound: report.lowerBound,
    hoeffdingLowerBound: report.hoeffdingLowerBound,
    warnings: report.warnings,
    details: {
      ...report.details,
      // null: no shrinkage was chosen (plain DR) or DRos was unavailable.
      drosLambda: lambda !== null && Number.isFinite(lambda) ? lambda : null,
    },
  };
}

const num = (x: number | null): string => (x === null ? '-' : x === 0 ? '0' : x.toPrecision(4));
const int = (x: number): string => Math.round(x).toLocaleString('en-US');

/** The human-readable report. */
export function reportTable(report: EvaluationReport, logName: string, format: LogFormat): string {
  const lines: string[] = [];
  const conf = `${(100 * report.details.confidence).toFixed(0)}%`;
  lines.push(`Off-policy evaluation of target "${report.target}" on ${logName} (${format})`);
  const m = report.nWithPropensity;
  lines.push(
    `rounds ${int(report.n)} (${int(m)} with a propensity)` +
      (report.ess === null
        ? ''
        : `   ESS ${int(report.ess)} (${((100 * report.ess) / m).toFixed(1)}%)   max weight ${num(report.maxWeight)}` +
          `   mean weight ${num(report.meanWeight)}`) +
      `   support missing ${(100 * report.supportMissing).toFixed(1)}%`,
  );
  lines.push('');
  lines.push(`${'estimator'.padEnd(22)}${'value'.padEnd(12)}${conf} interval`);
  const order = [report.recommended, ...ORDER.filter((k) => k !== report.recommended)];
  for (const k of order) {
    const e = report.estimates[k];
    const label = `${LABEL[k]}${k === report.recommended ? ' *' : ''}`.padEnd(22);
    if (e === null) lines.push(`${label}unavailable`);
    else if (e.lower === null)
      lines.push(`${label}${num(e.value).padEnd(12)}no interval (model bias is not measurable)`);
    else lines.push(`${label}${num(e.value).padEnd(12)}[${num(e.lower)}, ${num(e.upper)}]`);
  }
  lines.push('* recommended');
  const hc = report.details.hcope;
  if (hc !== null) {
    lines.push('');
    lines.push(
      `lower bound at ${(100 * (1 - hc.delta)).toFixed(0)}% (HCOPE, empirical Bernstein): ${num(report.lowerBound)}` +
        `   [clip ${num(hc.clip)} chosen on ${int(hc.selectionRounds)} rounds, bound on ${int(hc.boundRounds)}]`,
    );
    lines.push(`lower bound, Hoeffding on the same clipped returns: ${num(report.hoeffdingLowerBound)}`);
  }
  if (report.warnings.length > 0) {
    lines.push('');
    lines.push('warnings:');
    for (const w of report.warnings) lines.push(`  - ${w}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Runs the CLI; returns the exit code instead of exiting, so tests can drive it in-process. */
export async function runEvaluate(argv: readonly string[], streams: CliStreams = processStreams()): Promise<number> {
  try {
    const args = parse(argv);
    if (args === 'help') {
      streams.stdout.write(`${USAGE}\n`);
      return 0;
    }
    // Resolve the target before reading: a target this build cannot serve should fail before a long read.
    const spec = parseTargetSpec(args.target);
    const target = spec.kind === 'model' ? await loadModelTarget(spec.version, args) : resolveTarget(spec);
    const data = await readLog(args, streams);
    const options = {
      delta: args.delta,
      seed: args.seed,
      ...(args.rewardRange !== undefined && { rewardRange: args.rewardRange }),
    };
    const evaluated = evaluatePolicy(data, target, options);
    const inSample = spec.kind === 'model' && args.table === undefined ? await importedHere(args) : undefined;
    const report = inSample ? { ...evaluated, warnings: [...evaluated.warnings, inSample] } : evaluated;
    const positions = args.byPosition ? byPosition(data, target, options) : undefined;
    const slates = data.slates === undefined ? undefined : evaluateSlates(data.slates, target);
    streams.stdout.write(
      args.json
        ? `${JSON.stringify({
            ...reportJson(report),
            ...(positions && { positions: positions.map(positionJson) }),
            ...(slates && { slates }),
          })}\n`
        : reportTable(report, basename(args.log), args.format) +
            (positions ? positionTable(positions) : '') +
            (slates ? slateTable(slates) : ''),
    );
    return 0;
  } catch (error) {
    return failWith('evaluate', USAGE, error, streams, (e) => e instanceof EvaluationError);
  }
}

/**
 * Each logged position evaluated on its own rounds, with the same estimators and options (issue 16, item 3: what a
 * policy earns in each slot). A round's propensity is the logger's for that slot, so the weights, the ESS and the
 * intervals are those of that position's rounds alone.
 */
function byPosition(
  data: Awaited<ReturnType<typeof readLog>>,
  target: Parameters<typeof evaluatePolicy>[1],
  options: Parameters<typeof evaluatePolicy>[2],
): { position: number; report: EvaluationReport }[] {
  const positions = [...new Set(data.rounds.map((r) => r.position))];
  if (positions.some((p) => p === undefined)) {
    throw new UsageError('--by-position needs a position on every round of the log (OBD logs have them)');
  }
  return (positions as number[])
    .sort((a, b) => a - b)
    .map((position) => ({
      position,
      report: evaluatePolicy({ ...data, rounds: data.rounds.filter((r) => r.position === position) }, target, options),
    }));
}

function positionJson({ position, report }: { position: number; report: EvaluationReport }) {
  return {
    position,
    n: report.n,
    ess: report.ess,
    recommended: report.recommended,
    estimate: report.estimates[report.recommended],
    snips: report.estimates.snips,
    lowerBound: report.lowerBound,
  };
}

function positionTable(rows: { position: number; report: EvaluationReport }[]): string {
  const lines = ['', 'By position (each on its own rounds):', ''];
  lines.push('position  rounds      ESS  estimate (estimator)              lower bound');
  for (const { position, report: r } of rows) {
    const e = r.estimates[r.recommended];
    const interval = e === null || e.lower === null ? '' : ` [${num(e.lower)}, ${num(e.upper)}]`;
    const estimate = `${e === null ? '-' : num(e.value)}${interval} (${r.recommended})`;
    const ess = r.ess === null ? '-' : r.ess.toFixed(0);
    lines.push(
      `${String(position).padEnd(8)}  ${String(r.n).padStart(6)}  ${ess.padStart(7)}  ${estimate.padEnd(32)}  ${num(r.lowerBound)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Whole-page estimates of a slate log (shared/core/evaluation/slate.ts); RIPS is the one to read. */
function slateTable(r: SlateReport): string {
  const lines = ['', `Slates (${int(r.n)} logged, up to ${r.slots} slots; whole-page reward = Σ slot rewards):`, ''];
  const rows: [string, Estimate | null][] = [
    ['RIPS*', r.estimates.rips],
    ['SNRIPS', r.estimates.snrips],
    ['slate IPS', r.estimates.slateIps],
  ];
  for (const [label, e] of rows)
    lines.push(
      `${label.padEnd(10)}${e === null ? '-' : `${num(e.value).padEnd(12)}[${num(e.lower)}, ${num(e.upper)}]`}`,
    );
  lines.push(
    "* recommended: unbiased when a slot's reward depends on the slots down to it (a user reads from the top)",
  );
  lines.push('');
  lines.push('slot  RIPS share      ESS');
  for (const s of r.perSlot)
    lines.push(`${String(s.slot).padEnd(4)}  ${num(s.value).padEnd(12)}  ${s.ess.toFixed(0).padStart(7)}`);
  return `${lines.join('\n')}\n`;
}

await runIfEntry(import.meta.url, (argv) => runEvaluate(argv));
