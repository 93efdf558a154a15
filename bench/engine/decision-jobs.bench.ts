/**
 * Decisions in bulk (issue 18): what a decision costs through a decision job, against the in-process core.
 *
 * 1. Per core, in this process, on the same model (K actions, learned statistics): the core (`DecisionService.decide`,
 *    no stream) and the job's worker (`decideChunk` on a chunk of 10,000 lines: JSON parsing, the decisions, the
 *    chunk's lake object gzipped, its impressions written to an in-memory state store, the output and errors parts).
 *    CPU µs per decision (process.cpuUsage), the median of 7 rounds that alternate the two; the issue's target is
 *    the worker within 1.5× of the core.
 * 2. A whole job through the local stack: the input uploaded to the lake bucket (s3rver), `POST …/decision-jobs`, the
 *    state machine CDK synthesises run by the twin's Step Functions, every chunk by the job function under its role
 *    against dynalite and s3rver; then the output is counted line by line.
 *
 * Run directly: `npx tsx bench/engine/decision-jobs.bench.ts [--users 1000000] [--actions 100]`.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { startLocalStack } from '../../local/stack.ts';
import { LAKE_BUCKET, physicalName } from '../../local/twin/template.ts';
import { MemoryBlobStore } from '../../shared/adapters/lake/memory-blob-store.ts';
import { MemoryStateStore } from '../../shared/adapters/memory/state-store.ts';
import { CatalogService } from '../../shared/app/catalog/catalog.ts';
import { DecisionService } from '../../shared/app/decide/decide.ts';
import { ModelCache } from '../../shared/app/decide/model-cache.ts';
import { decideChunk } from '../../shared/app/decision-jobs/decide-chunk.ts';
import { jobLakeKey, newJobId, planChunks } from '../../shared/app/decision-jobs/job.ts';
import { addObservation, emptyStats } from '../../shared/core/bandit/stats.ts';
import { costPerMillionByPath, MEASURED, PRICES } from '../../shared/core/capacity.ts';
import { bucketOf, DEFAULT_OBJECTIVE } from '../../shared/core/domain.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { createRng } from '../../shared/core/random.ts';

export interface DecisionJobsBenchResult {
  actions: number;
  coreCpuUs: number;
  workerCpuUs: number;
  chunkLines: number;
  /** Bytes of the chunk's gzipped lake object, per decision. */
  lakeBytesPerDecision: number;
  job: {
    users: number;
    seconds: number;
    chunks: number;
    decided: number;
    outputLines: number;
    decisionsPerSecond: number;
  };
}

/** A user of the campaign: categorical features and a number that differs per user (as real contexts do). */
export const userLine = (i: number) =>
  JSON.stringify({
    userId: `user-${i}`,
    context: {
      segment: `s${i % 9}`,
      device: `d${i % 3}`,
      visits: i % 20,
      score: ((i * 2_654_435_761) % 1_000_003) / 1_000_003,
    },
  });

export async function inProcessModel(actions: number) {
  const now = Date.now();
  const state = new MemoryStateStore();
  const cache = new ModelCache(state, { refreshMs: Number.POSITIVE_INFINITY });
  const catalog = new CatalogService(state, cache, () => now);
  await catalog.putDecisionPoint('bulk', { rewards: { click: 1 } });
  for (let i = 0; i < actions; i++) {
    await catalog.putAction('bulk', `offer-${i}`, { features: { category: `c${i % 20}`, price: i % 7 } });
  }
  const { contextDim: d } = (await state.getDecisionPoint('bulk'))!.settings;
  const rng = createRng(1);
  for (let a = 0; a < actions; a++) {
    const s = emptyStats(d);
    for (let n = 0; n < 30; n++) {
      const i = rng.int(1000);
      const x = encodeFeatures({ segment: `s${i % 9}`, device: `d${i % 3}`, visits: i % 20 }, d);
      addObservation(s, x, rng.next() < 0.05 + (a % 5) * 0.02 ? 1 : 0);
    }
    await state.putStats(
      {
        decisionPoint: 'bulk',
        objective: DEFAULT_OBJECTIVE,
        actionId: `offer-${a}`,
        bucket: bucketOf(now),
        partition: 0,
        slot: 1,
        stats: s,
        counters: { rewardEvents: 0, lateEvents: 0 },
        highWaterMarks: {},
        version: 1,
        updatedAt: now,
        lastLearnedAt: now,
      },
      undefined,
    );
  }
  return { state, model: await cache.get('bulk') };
}

const cpuUs = (from: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(from);
  return c.user + c.system;
};

/** Part 1: CPU per decision of the core and of the job worker, in this process. */
export async function measurePerCore(opts: { actions: number; coreCalls: number; chunkLines: number }) {
  const { actions, coreCalls, chunkLines } = opts;
  const { state, model } = await inProcessModel(actions);
  const core = new DecisionService({
    models: { get: async () => model },
    stream: { put: async () => [] },
    rng: createRng(2),
  });
  for (let i = 0; i < 2000; i++) await core.decide({ decisionPoint: 'bulk', slots: 1, ...JSON.parse(userLine(i)) });
  const requests = Array.from({ length: coreCalls }, (_, i) => ({
    decisionPoint: 'bulk',
    slots: 1,
    ...JSON.parse(userLine(i)),
  }));
  const text = `${Array.from({ length: chunkLines }, (_, i) => userLine(i)).join('\n')}\n`;
  const bytes = Buffer.from(text);
  const [chunk] = planChunks(bytes, chunkLines).chunks;
  const deps = { blobs: new MemoryBlobStore(), state, pseudonymise: (u: string) => `p-${u}`, statsPartitions: 4 };
  const warm = newJobId(Date.now());
  await decideChunk({ jobId: warm, decisionPoint: 'bulk' }, chunk!, text, model, deps);
  const lakeBytesPerDecision = (await deps.blobs.get(jobLakeKey(warm, 0)))!.length / chunkLines;
  // Rounds alternate the two paths, so a slow spell of the machine (or the collector) weighs on both alike; each
  // figure is the median over rounds.
  const rounds = 7;
  const coreUs: number[] = [];
  const workerUs: number[] = [];
  const perRound = Math.ceil(coreCalls / rounds);
  for (let round = 0; round < rounds; round++) {
    let from = process.cpuUsage();
    for (let i = 0; i < perRound; i++) await core.decide(requests[(round * perRound + i) % requests.length]!);
    coreUs.push(cpuUs(from) / perRound);
    from = process.cpuUsage();
    await decideChunk({ jobId: newJobId(Date.now()), decisionPoint: 'bulk' }, chunk!, text, model, {
      ...deps,
      blobs: new MemoryBlobStore(),
    });
    workerUs.push(cpuUs(from) / chunkLines);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const coreCpuUs = median(coreUs);
  const workerCpuUs = median(workerUs);

  return { coreCpuUs, workerCpuUs, lakeBytesPerDecision };
}

function perCoreInChildProcess(opts: { actions: number; coreCalls: number; chunkLines: number }) {
  const out = spawnSync(
    process.execPath,
    // Through tsx's command, as `npm run bench` runs: under `node --import tsx` both paths measured ≈ 40% slower.
    [
      createRequire(import.meta.url).resolve('tsx/cli'),
      fileURLToPath(import.meta.url),
      '--per-core',
      JSON.stringify(opts),
    ],
    { encoding: 'utf8', env: { ...process.env, NBA_LOG_LEVEL: 'silent', POWERTOOLS_METRICS_DISABLED: 'true' } },
  );
  if (out.status !== 0) throw new Error(`the per-core measurement failed: ${out.stderr}`);
  return JSON.parse(out.stdout.trim().split('\n').at(-1)!) as Awaited<ReturnType<typeof measurePerCore>>;
}

export async function runDecisionJobsBench(
  opts: { users?: number; actions?: number; coreCalls?: number; chunkLines?: number } = {},
): Promise<DecisionJobsBenchResult> {
  const users = opts.users ?? 1_000_000;
  const actions = opts.actions ?? 100;
  const coreCalls = opts.coreCalls ?? 20_000;
  const chunkLines = opts.chunkLines ?? 10_000;
  process.env.NBA_LOG_LEVEL ??= 'silent';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

  // 1. Per core, in a fresh process (as a worker runs in its own Lambda container): a heap grown by benchmarks run
  // before it in this process slows the allocating worker more than the core.
  const perCore = perCoreInChildProcess({ actions, coreCalls, chunkLines });
  const { coreCpuUs, workerCpuUs, lakeBytesPerDecision } = perCore;

  // 2. A whole job through the local stack.
  const stack = await startLocalStack({ apiKey: 'bench-jobs', reportIamUsage: false });
  try {
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${stack.url}${path}`, {
        method,
        headers: { 'x-api-key': 'bench-jobs', 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const json = (await r.json()) as Record<string, unknown>;
      if (r.status >= 300) throw new Error(`${method} ${path} -> ${r.status}: ${JSON.stringify(json)}`);
      return json;
    };
    await call('PUT', '/v1/decision-points/bulk', { rewards: { click: 1 } });
    const items = Array.from({ length: actions }, (_, i) => ({
      actionId: `offer-${i}`,
      features: { category: `c${i % 20}`, price: i % 7 },
    }));
    for (let i = 0; i < items.length; i += 1000) {
      await call('POST', '/v1/decision-points/bulk/actions:batch', { actions: items.slice(i, i + 1000) });
    }
    const bucket = physicalName(stack.plan, LAKE_BUCKET);
    const lines: string[] = [];
    for (let i = 0; i < users; i++) lines.push(userLine(i));
    await stack.emulators.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'decision-jobs/inputs/bench.jsonl', Body: `${lines.join('\n')}\n` }),
    );
    lines.length = 0;
    const started = performance.now();
    const created = await call('POST', '/v1/decision-points/bulk/decision-jobs', {
      input: `s3://${bucket}/decision-jobs/inputs/bench.jsonl`,
    });
    const result = await stack.executions.find((e) => e.name === created.jobId)!.done;
    const seconds = (performance.now() - started) / 1000;
    if (result.status !== 'SUCCEEDED') throw new Error(`the job failed: ${result.error}`);
    const job = await call('GET', `/v1/decision-points/bulk/decision-jobs/${created.jobId}`);
    // One output line per decided input line: counted from the parts themselves.
    let outputLines = 0;
    let token: string | undefined;
    const prefix = String(job.output).replace(`s3://${bucket}/`, '');
    do {
      const page = await stack.emulators.s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        const got = await stack.emulators.s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }));
        const body = await got.Body!.transformToByteArray();
        for (const b of body) if (b === 10) outputLines++;
      }
      token = page.NextContinuationToken;
    } while (token);
    return {
      actions,
      coreCpuUs,
      workerCpuUs,
      chunkLines,
      lakeBytesPerDecision,
      job: {
        users,
        seconds,
        chunks: Number(job.chunks),
        decided: Number(job.decided),
        outputLines,
        decisionsPerSecond: Number(job.decided) / seconds,
      },
    };
  } finally {
    await stack.stop();
  }
}

export function formatDecisionJobsBench(r: DecisionJobsBenchResult): string {
  const f = (v: number, d = 0) => v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  return [
    `Per core, in process, K = ${r.actions} actions, the same learned model: the core (DecisionService.decide, no stream) against the job worker (decideChunk on a chunk of ${f(r.chunkLines)} lines: parsing, decisions, the chunk's gzipped lake object, its impressions written to an in-memory state store, output and errors parts).`,
    '',
    '| path | CPU µs/decision | decisions/s per core | worker / core |',
    '|---|---:|---:|---:|',
    `| core | ${f(r.coreCpuUs, 1)} | ${f(1e6 / r.coreCpuUs)} | |`,
    `| decision job worker | ${f(r.workerCpuUs, 1)} | ${f(1e6 / r.workerCpuUs)} | ${f(r.workerCpuUs / r.coreCpuUs, 2)}× |`,
    '',
    `The chunk's lake object (its decision records, gzipped): ${f(r.lakeBytesPerDecision)} bytes per decision.`,
    '',
    `A job of ${f(r.job.users)} users through the local stack (input in s3rver, the synthesised state machine run by the twin's Step Functions, the job function under its role against dynalite and s3rver, as many chunks at once as the machine has cores): ${f(r.job.chunks)} chunks, ${f(r.job.decided)} decided, ${f(r.job.outputLines)} output lines, ${f(r.job.seconds, 1)} s end to end (${f(r.job.decisionsPerSecond)} decisions/s, emulators included).`,
  ].join('\n');
}

/**
 * What a million decisions cost by each path (shared/core/capacity.ts `costPerMillionByPath`), at K = 10, 100, 1,000,
 * from the CPU times and sizes measured above and in "One decision in the decisions Lambda", and AWS's prices.
 */
export function formatPathCosts(): string {
  const usd = (v: number) => `$${v < 1 ? v.toFixed(3) : v.toFixed(2)}`;
  const rows = [10, 100, 1000].flatMap((k) =>
    costPerMillionByPath(k).map(
      (p) =>
        `| ${k.toLocaleString('en-US')} | ${p.path} | ${usd(p.perMillion)} | ${Object.entries(p.parts)
          .map(([n, v]) => `${n} ${v < 0.01 ? v.toFixed(4) : v.toFixed(3)}`)
          .join(', ')} |`,
    ),
  );
  return [
    "A million more decisions, marginal cost (shard hours, snapshots and feedback are the same whichever path decided), from `npm run capacity`'s model: measured inputs are the per-request handler's CPU, the :batch CPU per decision (" +
      `${MEASURED.batchItemCpuUs} µs at K = 100), the job worker's (${MEASURED.jobWorkerCpuUs} µs) and its lake bytes per decision (${MEASURED.jobLakeBytesPerDecision}); assumed: a PutRecords round trip (${MEASURED.streamPutMs} ms) and a chunk's I/O wait (${MEASURED.jobChunkIoMs} ms). Prices (us-east-1): API Gateway REST $${PRICES.apiGatewayTiers[0][1]}/M requests (first tier), Lambda $${PRICES.lambdaPerMillionRequests}/M requests and $${PRICES.lambdaPerGbSecond}/GB-s (arm64), Kinesis $${PRICES.kinesisPerMillionPutUnits}/M put units, DynamoDB on demand $${PRICES.dynamoPerMillionWrites}/M writes and $${PRICES.dynamoPerMillionReads}/M reads, Firehose $${PRICES.firehosePerGb.toFixed(3)}/GB, Step Functions $${PRICES.sfnPerThousandTransitions}/1,000 transitions and $${PRICES.sfnExpressPerMillionRequests}/M express requests, S3 $${PRICES.s3PerThousandGets}/1,000 GET, $${PRICES.s3PerThousandPuts}/1,000 PUT, $${PRICES.s3PerGbMonth}/GB-month.`,
    '',
    '| actions K | path | per million decisions | parts (USD) |',
    '|---:|---|---:|---|',
    ...rows,
    '',
    "One request per decision pays API Gateway's request fee and the join's writes (decision item, user item: ≈ 4 WCU); :batch removes the request fee, not the join; a decision job writes no item per decision (its impressions are one write per statistics item and chunk, its decisions one lake object per chunk).",
  ].join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const perCore = process.argv.indexOf('--per-core');
  if (perCore > 0) {
    console.log(JSON.stringify(await measurePerCore(JSON.parse(process.argv[perCore + 1]!))));
  } else if (process.argv.includes('--help')) {
    console.log('usage: npx tsx bench/engine/decision-jobs.bench.ts [--users N] [--actions K]');
  } else {
    const r = await runDecisionJobsBench({
      ...(arg('users') ? { users: arg('users')! } : {}),
      ...(arg('actions') ? { actions: arg('actions')! } : {}),
    });
    console.log(formatDecisionJobsBench(r));
  }
}
