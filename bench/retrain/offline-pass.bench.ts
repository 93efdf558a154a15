/**
 * One full offline retraining pass (map + reduce + fit) over a generated log lake of 1,000,000 decisions (default),
 * in memory and on one core, plus the cost model of running the same pass as a Step Functions Distributed Map.
 *
 *   npx tsx bench/retrain/offline-pass.bench.ts [--decisions N]
 *
 * The lake is the synthetic confounded world of `synthetic-log.ts` at production-like width: d = 16, m = 8, 20
 * candidates per decision, about 27% of decisions with a click event, 14 days, gzipped JSON lines per hour, exactly
 * the objects Firehose writes. The pass is the code the Lambdas run (`splitPartition`, `joinBucket`, `reduce`, `fitModel`) on an
 * in-memory object store, so it measures CPU (gunzip, JSON, validation, join, rank-one updates), not S3 latency.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_MAP_CONCURRENCY, TOLERATED_FAILURE_PERCENTAGE } from '../../cdk/constructs/retraining.ts';
import { parseCliArgs, parseNumberFlag } from '../../cli/lib/args.ts';
import { MemoryBlobStore } from '../../shared/adapters/lake/memory-blob-store.ts';
import { decodeAggregate, type HoldoutRound } from '../../shared/app/retrain/aggregate.ts';
import { evaluateCandidate } from '../../shared/app/retrain/evaluate.ts';
import { encodeModel, fitModel, type OfflineModel } from '../../shared/app/retrain/fit.ts';
import { joinBucket } from '../../shared/app/retrain/join-bucket.ts';
import { catalogsKey, erasuresKey, manifestKey, modelKey } from '../../shared/app/retrain/keys.ts';
import { LAKE_PREFIX, writeLakeBatch } from '../../shared/app/retrain/lake.ts';
import { JOIN_BUCKET_BYTES, joinBuckets, planItems } from '../../shared/app/retrain/plan.ts';
import { reduce } from '../../shared/app/retrain/reduce.ts';
import { type RunContext, type RunParams, runInputSchema } from '../../shared/app/retrain/run-context.ts';
import { splitPartition } from '../../shared/app/retrain/split.ts';
import { type ActionStats, addObservation, emptyStats } from '../../shared/core/bandit/stats.ts';
import { BUCKET_MS, DEFAULT_OBJECTIVE } from '../../shared/core/domain.ts';
import { createRng } from '../../shared/core/random.ts';
import { machine } from '../lib/stats.ts';
import { syntheticLog } from './synthetic-log.ts';

const DAYS = 14;
const CONTEXT_DIM = 16;
const ACTION_DIM = 8;
const CANDIDATES = 20;
/** Memory of the map worker Lambda (one full vCPU), as in cdk/constructs/retraining.ts. */
const WORKER_MEMORY_GB = 1769 / 1024;
const STEPS_MEMORY_GB = 2048 / 1024;

/** us-east-1 list prices this model assumes (arm64 Lambda, Step Functions, S3 Standard): check the current price list. */
export const PRICES = {
  lambdaGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  expressRequest: 1 / 1e6,
  expressGbSecond: 0.00001667,
  standardTransition: 0.025 / 1000,
  s3Get: 0.0004 / 1000,
  s3Put: 0.005 / 1000,
} as const;

export interface RetrainBenchResult {
  decisions: number;
  events: number;
  lakeObjects: number;
  lakeMiB: number;
  generateSeconds: number;
  items: number;
  mapSeconds: number;
  reduceSeconds: number;
  fitSeconds: number;
  passSeconds: number;
  decisionsPerSecond: number;
  /** The evaluate step on the held-out rounds: seconds and grid points, by what the settings leave out. */
  evaluate: EvaluateTiming[];
  /** The same on a catalog of 1,000 candidates per decision (synthetic statistics, WIDE_ROUNDS held-out decisions). */
  wideCatalog: EvaluateTiming[];
  heldOut: number;
  /** The held-out slice's cap (`maxEvalRounds`, the run input's default): the most decisions one evaluation sees. */
  maxEvalRounds: number;
  /** Slowest single item (a map worker's whole job). */
  maxItemSeconds: number;
  objectsRead: number;
  /**
   * The process's largest resident set, sampled after every map item and step (the whole lake and every shuffle
   * object are in this process's memory too, so it bounds what one worker needs from above).
   */
  peakRssMiB: number;
  costModel: string;
}

export async function runRetrainBench(opts: { decisions?: number } = {}): Promise<RetrainBenchResult> {
  const decisions = opts.decisions ?? 1_000_000;
  const blobs = new MemoryBlobStore();
  const start = Date.UTC(2026, 0, 1);
  let t = performance.now();
  let lines = 0;
  for (const hour of syntheticLog({
    decisionPoint: 'bench',
    startMs: start,
    days: DAYS,
    perDay: Math.ceil(decisions / DAYS),
    contextDim: CONTEXT_DIM,
    actionDim: ACTION_DIM,
    candidates: CANDIDATES,
    skew: 0.8,
    seed: 42,
  })) {
    lines += hour.lines.length;
    await writeLakeBatch(blobs, hour.lines, `firehose-${hour.hourStart}`);
  }
  const generateSeconds = (performance.now() - t) / 1000;
  const lake = await blobs.list(LAKE_PREFIX);
  const lakeBytes = lake.reduce((s, e) => s + e.size, 0);

  const input = runInputSchema.parse({ decisionPoint: 'bench' });
  const cutoffBucket = start / BUCKET_MS + DAYS;
  const run: RunParams = {
    decisionPoint: 'bench',
    runId: 'bench',
    version: 'mbench',
    startedAt: Date.now(),
    asOf: Date.now(),
    cutoffBucket,
    holdoutFromBucket: cutoffBucket - input.holdoutDays,
    weighting: { kind: 'uniform', clip: input.clip },
    contextDim: CONTEXT_DIM,
    actionDim: ACTION_DIM,
    priors: {},
    exploration: { scale: 1 },
    compoundEvents: ['default'],
    objectives: [],
    combine: { mode: 'weighted', minOutcomes: 30 },
    windowSeconds: 3600,
    buckets: joinBuckets(lakeBytes),
    lakeDelaySeconds: input.lakeDelaySeconds,
    maxEvalRounds: input.maxEvalRounds,
    minEvalRounds: input.minEvalRounds,
    tolerance: 0,
    delta: input.delta,
    coverageTolerance: input.coverageTolerance,
    force: false,
    prefix: 'retrain/bench/bench/',
  };

  let peakRss = process.memoryUsage().rss;
  const sampleRss = () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  // The pass: plan → split (every item) → join (every bucket), one after the other on this one core → reduce → fit.
  const passStart = performance.now();
  const items = planItems(lake, { untilMs: Number.MAX_SAFE_INTEGER, targetBytes: input.targetItemBytes });
  await blobs.put(manifestKey(run), JSON.stringify(items));
  await blobs.put(erasuresKey(run), '{}');
  // The synthetic log names its candidates in every decision: no catalog versions to resolve.
  await blobs.put(catalogsKey(run), '{}');
  t = performance.now();
  let maxItemSeconds = 0;
  let used = 0;
  for (const item of items) {
    const t0 = performance.now();
    await splitPartition({ run, item }, { blobs });
    maxItemSeconds = Math.max(maxItemSeconds, (performance.now() - t0) / 1000);
    sampleRss();
  }
  const buckets = Array.from({ length: run.buckets }, (_, b) => b);
  for (const bucket of buckets) {
    const t0 = performance.now();
    used += (await joinBucket({ run, bucket }, { blobs })).decisions;
    maxItemSeconds = Math.max(maxItemSeconds, (performance.now() - t0) / 1000);
    sampleRss();
  }
  const mapSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const ctx: RunContext = {
    run,
    plan: {
      manifestKey: manifestKey(run),
      items: items.length,
      buckets,
      decisionObjects: 0,
      decisionBytes: 0,
      erasures: 0,
      firstHour: null,
      lastHour: null,
    },
  };
  const reduced = await reduce(ctx, { blobs });
  const reduceSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const aggregate = decodeAggregate((await blobs.get(reduced.reduce!.key))!, CONTEXT_DIM, 'reduced');
  const { model } = fitModel(run, aggregate, []);
  await blobs.put(modelKey(run), encodeModel(model));
  const fitSeconds = (performance.now() - t) / 1000;
  sampleRss();
  const passSeconds = (performance.now() - passStart) / 1000;
  if (used !== decisions && used !== Math.ceil(decisions / DAYS) * DAYS) {
    throw new Error(`the pass used ${used} decisions of ${decisions}`);
  }
  const objectsRead = items.reduce((n, i) => n + i.keys.length, 0);
  // The evaluate step (not part of the pass above): the gate's off-policy evaluation of the candidate on the held-out
  // rounds, against online-only serving, for each way the settings can leave the serving settings to the search.
  const evaluate = timeSearches(ctx, model, aggregate.holdout);
  const result = {
    evaluate,
    wideCatalog: evaluateWideCatalog(run),
    heldOut: aggregate.holdout.length,
    maxEvalRounds: run.maxEvalRounds,
    decisions: used,
    events: lines - used,
    lakeObjects: lake.length,
    lakeMiB: lakeBytes / 2 ** 20,
    generateSeconds,
    items: items.length + buckets.length,
    mapSeconds,
    reduceSeconds,
    fitSeconds,
    passSeconds,
    decisionsPerSecond: used / passSeconds,
    maxItemSeconds,
    objectsRead,
    peakRssMiB: peakRss / 2 ** 20,
    costModel: '',
  };
  result.costModel = costModel(result, input.targetItemBytes);
  return result;
}

/** A whole number with thousands separators. */
const n = (v: number) => Math.round(v).toLocaleString('en-US');

interface EvaluateTiming {
  label: string;
  points: number;
  seconds: number;
  chosen: string;
}

/** The ways a decision point's settings can leave the serving settings to the search, as run overrides. */
const SEARCHES = [
  {
    label: 'scale and λs given (no search)',
    over: { priors: { lambdaShared: 1, lambdaAction: 1 }, exploration: { scale: 0.02 } },
  },
  { label: 'λs given, scale searched', over: { priors: { lambdaShared: 1, lambdaAction: 1 }, exploration: {} } },
  { label: 'everything left out (the defaults)', over: { priors: {}, exploration: {} } },
] as const;

/** The evaluate step for each of {@link SEARCHES}: seconds, grid points and the point chosen. */
function timeSearches(ctx: RunContext, model: OfflineModel, rounds: readonly HoldoutRound[]): EvaluateTiming[] {
  const noCurrent = { catalog: [], online: [], active: undefined };
  return SEARCHES.map(({ label, over }) => {
    const t0 = performance.now();
    const e = evaluateCandidate({ ...ctx, run: { ...ctx.run, ...over } }, model, rounds, noCurrent);
    const seconds = (performance.now() - t0) / 1000;
    const { scale, priorScale } = e.exploration;
    const chosen = `scale ${scale}, λs × ${priorScale?.shared ?? 1}, λa × ${priorScale?.action ?? 1}`;
    return { label, points: Math.max(1, e.exploration.grid.length), seconds, chosen };
  });
}

const WIDE_CANDIDATES = 1000;
const WIDE_ROUNDS = 2000;

/**
 * The evaluate step where it costs most: every held-out decision with 1,000 candidates (each action with 30 random
 * observations at d = 16, click rate 0.2, logged uniformly). Its cost is linear in the held-out decisions, so the
 * report scales it to the slice's cap (`maxEvalRounds`).
 */
function evaluateWideCatalog(base: RunParams): EvaluateTiming[] {
  const rng = createRng(1);
  const ids = Array.from({ length: WIDE_CANDIDATES }, (_, i) => `a${i}`);
  const context = () => Array.from({ length: CONTEXT_DIM }, (_, j) => (j === 0 ? 1 : rng.normal()));
  const stats = new Map<string, ActionStats>();
  for (const id of ids) {
    const s = emptyStats(CONTEXT_DIM);
    for (let i = 0; i < 30; i++) addObservation(s, Float64Array.from(context()), rng.next() < 0.2 ? 1 : 0);
    stats.set(id, s);
  }
  const model: OfflineModel = {
    version: 'mwide',
    decisionPoint: 'wide',
    cutoffBucket: 0,
    holdoutFromBucket: 0,
    d: CONTEXT_DIM,
    objectives: new Map([[DEFAULT_OBJECTIVE, { final: stats, evaluation: stats }]]),
    features: new Map(),
    diagnostics: {},
    carriedOverBuckets: [],
    extensions: {},
  };
  const rounds: HoldoutRound[] = Array.from({ length: WIDE_ROUNDS }, (_, i) => ({
    id: `r${i}`,
    rank: i,
    x: context(),
    candidates: ids,
    chosenIndex: rng.int(WIDE_CANDIDATES),
    propensity: 1 / WIDE_CANDIDATES,
    reward: rng.next() < 0.2 ? 1 : 0,
  }));
  return timeSearches({ run: { ...base, decisionPoint: 'wide', compoundEvents: [] } }, model, rounds);
}

/**
 * What the measured pass costs as a Distributed Map in AWS, assuming a 1,769 MB arm64 worker runs at the speed of
 * one core here (Graviton cores are within about ±30% of it for this integer/float mix: treat the figures as order
 * of magnitude, not a quote).
 */
export function costModel(
  r: Pick<
    RetrainBenchResult,
    | 'decisions'
    | 'items'
    | 'mapSeconds'
    | 'reduceSeconds'
    | 'fitSeconds'
    | 'maxItemSeconds'
    | 'objectsRead'
    | 'lakeMiB'
    | 'maxEvalRounds'
  >,
  targetItemBytes: number,
): string {
  const rows: string[] = [];
  const perDecision = r.mapSeconds / r.decisions;
  const bytesPerDecision = (r.lakeMiB * 2 ** 20) / r.decisions;
  const line = (label: string, decisions: number) => {
    // Two maps one after the other: split partitions, then one join per user bucket (plan.ts).
    const bytes = decisions * bytesPerDecision;
    const splits = Math.max(1, Math.ceil(bytes / targetItemBytes));
    const joins = joinBuckets(bytes);
    const items = splits + joins;
    const perItem = (perDecision * decisions) / items;
    const concurrency = Math.min(Math.max(splits, joins), DEFAULT_MAP_CONCURRENCY);
    const waves = Math.ceil(splits / DEFAULT_MAP_CONCURRENCY) + Math.ceil(joins / DEFAULT_MAP_CONCURRENCY);
    const stepsSeconds = (r.reduceSeconds * items) / r.items + r.fitSeconds; // reduce grows with items, fit does not
    const lambdaSeconds = perDecision * decisions + stepsSeconds;
    const gbSeconds = perDecision * decisions * WORKER_MEMORY_GB + stepsSeconds * STEPS_MEMORY_GB;
    const objects = Math.ceil((r.objectsRead / r.items) * items);
    const lambda = gbSeconds * PRICES.lambdaGbSecond + (items + 6) * PRICES.lambdaRequest;
    // Express children: one request each, billed for their duration at the 64 MB minimum.
    const express = items * (PRICES.expressRequest + perItem * 0.064 * PRICES.expressGbSecond);
    // Parent (Standard): about 10 transitions per run, plus one per child started (counted conservatively).
    const standard = (10 + items) * PRICES.standardTransition;
    const s3 = objects * PRICES.s3Get + (items * 2 + 6) * PRICES.s3Put;
    const total = lambda + express + standard + s3;
    const wall = waves * perItem + stepsSeconds;
    rows.push(
      `| ${label} | ${items.toLocaleString('en-US')} | ${concurrency} | ${perItem.toFixed(1)} s | ` +
        `${lambdaSeconds.toFixed(0)} | ${gbSeconds.toFixed(0)} | ${wall.toFixed(0)} s | $${lambda.toFixed(4)} | ` +
        `$${(express + standard).toFixed(4)} | $${s3.toFixed(4)} | **$${total.toFixed(4)}** |`,
    );
  };
  line(`${(r.decisions / 1e6).toFixed(1)} M decisions (measured)`, r.decisions);
  line('10 M decisions', 10_000_000);
  line('100 M decisions', 100_000_000);
  return [
    `Distributed Map cost model (items = split partitions of ≤ ${(targetItemBytes / 2 ** 20).toFixed(0)} MiB gzip plus ` +
      `join buckets of about ${(JOIN_BUCKET_BYTES / 2 ** 20).toFixed(0)} MiB, the per-item time their average, ` +
      `${bytesPerDecision.toFixed(0)} B/decision measured; worker 1,769 MB arm64 at ${(1e6 * perDecision).toFixed(1)} µs ` +
      `per decision measured here; MaxConcurrency ${DEFAULT_MAP_CONCURRENCY}, ToleratedFailurePercentage ` +
      `${TOLERATED_FAILURE_PERCENTAGE}; express child executions; prices us-east-1 list):`,
    '',
    '| lake | items | concurrency | s per item | Lambda-s | GB-s | wall clock | Lambda $ | Step Functions $ | S3 $ | total per run |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    'Not included: Firehose ingestion into the lake ($0.029/GB + $0.020/GB dynamic partitioning), S3 storage, and the ' +
      `evaluate step (bounded by maxEvalRounds = ${n(r.maxEvalRounds)} held-out decisions, independent of the lake size: measured above). ` +
      'Wall clock excludes Lambda cold starts and Step Functions scheduling (a few seconds per wave of children).',
  ].join('\n');
}

export function formatRetrainBench(r: RetrainBenchResult): string {
  return [
    `${n(r.decisions)} decisions + ${n(r.events)} events in ${n(r.lakeObjects)} lake objects (${r.lakeMiB.toFixed(1)} MiB gzip), ` +
      `d = ${CONTEXT_DIM}, m = ${ACTION_DIM}, ${CANDIDATES} candidates, ${DAYS} days; generated in ${r.generateSeconds.toFixed(1)} s (not counted).`,
    `One offline pass on one core: map ${r.mapSeconds.toFixed(2)} s over ${r.items} items (slowest item ${r.maxItemSeconds.toFixed(2)} s), ` +
      `reduce ${r.reduceSeconds.toFixed(2)} s, fit ${r.fitSeconds.toFixed(2)} s; total **${r.passSeconds.toFixed(2)} s = ` +
      `${n(r.decisionsPerSecond)} decisions/s**; peak resident memory ${r.peakRssMiB.toFixed(0)} MiB (the whole lake and the shuffle in it too; a map worker has 1,769 MB).`,
    '',
    `The evaluate step on ${n(r.heldOut)} held-out decisions (one core; the gate's off-policy evaluation at every point ` +
      'of the serving settings grid, shared/app/retrain/evaluate.ts):',
    '',
    "| the decision point's settings | grid points | seconds | × no search | point chosen |",
    '|---|---:|---:|---:|---|',
    ...r.evaluate.map(
      (e) =>
        `| ${e.label} | ${e.points} | ${e.seconds.toFixed(2)} | ${(e.seconds / r.evaluate[0]!.seconds).toFixed(1)} | ${e.chosen} |`,
    ),
    '',
    `With ${n(WIDE_CANDIDATES)} candidates per decision (synthetic statistics, ${n(WIDE_ROUNDS)} held-out decisions; ` +
      `the cost is linear in them, so the last column scales it to the slice’s cap of ${n(r.maxEvalRounds)}; the steps Lambda has 15 minutes):`,
    '',
    `| the decision point's settings | grid points | seconds | × no search | at ${n(r.maxEvalRounds)} decisions |`,
    '|---|---:|---:|---:|---:|',
    ...r.wideCatalog.map(
      (e) =>
        `| ${e.label} | ${e.points} | ${e.seconds.toFixed(2)} | ${(e.seconds / r.wideCatalog[0]!.seconds).toFixed(1)} | ${((e.seconds * r.maxEvalRounds) / WIDE_ROUNDS / 60).toFixed(1)} min |`,
    ),
    '',
    r.costModel,
  ].join('\n');
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  const args = parseCliArgs(process.argv.slice(2), { decisions: { type: 'string' } });
  const decisions =
    args.decisions === undefined
      ? undefined
      : parseNumberFlag('decisions', args.decisions, { integer: true, above: 0 });
  const r = await runRetrainBench(decisions === undefined ? {} : { decisions });
  console.log(`offline retraining pass on ${machine()}\n\n${formatRetrainBench(r)}`);
}
