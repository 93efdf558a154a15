/**
 * What one decision costs in the decisions Lambda (issue 14, item 4): the real handler (`functions/decisions/handler.ts`
 * createHandler: middy, zod, the API-key cache, Powertools, the SDK's serialisation and signing) invoked in this process
 * with an API Gateway event, its model from the snapshot the local stack published, and the stream put answered at
 * the HTTP handler (the SDK serialises and signs the PutRecords; no socket). Baseline in the same process: the core
 * DecisionService alone on the same model (scoring, sampling, exact propensities, the record), no handler around it.
 * Also: the bundled function (esbuild with the stack's options): its size, and the time to import it in a fresh Node.
 *
 * Figures: CPU µs per decision (process.cpuUsage over the calls), bytes allocated per decision (heap growth over 200
 * calls after a full GC, in a child with a 256 MB young generation so that no scavenge runs in between), p50 wall.
 * Run directly: `npx tsx bench/engine/handler-cost.bench.ts [--calls 1500]`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import type { Context } from 'aws-lambda';
import { build } from 'esbuild';
import { createHandler } from '../../functions/decisions/handler.ts';
import { createEmulatorS3Client } from '../../local/emulators.ts';
import { startLocalStack } from '../../local/stack.ts';
import { createDynamoClient } from '../../shared/adapters/aws-clients.ts';
import { DecisionService } from '../../shared/app/decide/decide.ts';
import { createRng } from '../../shared/core/random.ts';

export interface HandlerCostRow {
  actions: number;
  handlerCpuUs: number;
  handlerBytes: number;
  handlerP50Us: number;
  coreCpuUs: number;
  coreBytes: number;
  /** Per decision, through `POST /v1/decisions:batch` with 100 requests per call. */
  batchCpuUs: number;
  batchBytes: number;
}

export interface HandlerCostResult {
  calls: number;
  rows: HandlerCostRow[];
  bundleBytes: number;
  importMs: number;
}

const KEY = 'handler-cost-key';

/** A Kinesis client whose HTTP handler answers every PutRecords with success, after the SDK built and signed it. */
function stubbedKinesis(): KinesisClient {
  return new KinesisClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    endpoint: 'http://127.0.0.1:1',
    requestHandler: {
      handle: async (request: { body?: unknown }) => {
        const raw = request.body;
        const text = raw instanceof Uint8Array ? new TextDecoder().decode(raw) : String(raw ?? '{}');
        const input = JSON.parse(text) as { Records?: unknown[] };
        const body = JSON.stringify({
          FailedRecordCount: 0,
          Records: (input.Records ?? []).map((_, i) => ({
            SequenceNumber: String(i),
            ShardId: 'shardId-000000000000',
          })),
        });
        return {
          response: {
            statusCode: 200,
            headers: { 'content-type': 'application/x-amz-json-1.1' },
            body: new TextEncoder().encode(body),
          },
        };
      },
    } as never,
  });
}

/** Calls of the allocation pass: few enough that they fit the young generation (no scavenge in between). */
const ALLOCATION_CALLS = 200;

function measure(calls: number, run: () => Promise<unknown>, allocationCalls = ALLOCATION_CALLS) {
  return async () => {
    for (let i = 0; i < 200; i++) await run();
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < allocationCalls; i++) await run();
    const allocated = (process.memoryUsage().heapUsed - before) / allocationCalls;
    gc?.();
    const cpu0 = process.cpuUsage();
    const walls: number[] = [];
    for (let i = 0; i < calls; i++) {
      const t = performance.now();
      await run();
      walls.push(performance.now() - t);
    }
    const cpu = process.cpuUsage(cpu0);
    walls.sort((a, b) => a - b);
    return {
      cpuUs: (cpu.user + cpu.system) / calls,
      bytes: Math.max(0, allocated),
      p50Us: walls[Math.floor(calls / 2)]! * 1000,
    };
  };
}

export async function measureHandlerCost(opts: { calls?: number; sizes?: number[] } = {}): Promise<HandlerCostRow[]> {
  const calls = opts.calls ?? 1500;
  process.env.NBA_LOG_LEVEL ??= 'silent';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const stack = await startLocalStack({ apiKey: KEY, reportIamUsage: false });
  const rows: HandlerCostRow[] = [];
  try {
    const spec = stack.plan.functions.find((f) => f.name === 'DecisionsFunction')!;
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${stack.url}${path}`, {
        method,
        headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (r.status >= 300) throw new Error(`${method} ${path} -> ${r.status}: ${await r.text()}`);
    };
    for (const k of opts.sizes ?? [10, 100, 1000]) {
      const dp = `cost-${k}`;
      await call('PUT', `/v1/decision-points/${dp}`, { rewards: { click: 1 } });
      const items = Array.from({ length: k }, (_, i) => ({
        actionId: `offer-${i}`,
        features: { category: `c${i % 20}`, price: i % 7 },
      }));
      for (let i = 0; i < items.length; i += 1000) {
        await call('POST', `/v1/decision-points/${dp}/actions:batch`, { actions: items.slice(i, i + 1000) });
      }
      const clients = {
        dynamo: createDynamoClient({
          region: 'us-east-1',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
          dynamoEndpoint: stack.emulators.dynamoEndpoint,
        }),
        kinesis: stubbedKinesis(),
        s3: createEmulatorS3Client(stack.emulators.s3Endpoint),
        secrets: stack.secrets,
        executions: { start: async () => undefined },
      };
      // A long refresh interval: the pointer poll (once a second in AWS) is not per decision.
      const { handler, engine } = createHandler({
        environment: { ...spec.environment, MODEL_REFRESH_MS: '600000' },
        clients,
      });
      const rng = createRng(k);
      const body = () =>
        JSON.stringify({ decisionPoint: dp, userId: `u${rng.int(1_000_000)}`, context: { segment: `s${rng.int(9)}` } });
      const event = () => ({
        resource: '/v1/decisions',
        path: '/v1/decisions',
        httpMethod: 'POST',
        headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
        multiValueHeaders: {},
        queryStringParameters: null,
        multiValueQueryStringParameters: null,
        pathParameters: null,
        stageVariables: null,
        body: body(),
        isBase64Encoded: false,
        requestContext: { requestId: 'r', stage: 'prod', resourcePath: '/v1/decisions', httpMethod: 'POST' },
      });
      const context = { awsRequestId: 'r', getRemainingTimeInMillis: () => 10_000 } as unknown as Context;
      const handlerCost = await measure(calls, async () => {
        const out = await handler(event(), context);
        if (out.statusCode !== 200) throw new Error(`decision failed: ${out.statusCode} ${out.body}`);
      })();
      const batchEvent = () => {
        const requests = Array.from({ length: 100 }, () => JSON.parse(body()));
        const e = event();
        return {
          ...e,
          resource: '/v1/decisions:batch',
          path: '/v1/decisions:batch',
          body: JSON.stringify({ requests }),
          requestContext: { ...e.requestContext, resourcePath: '/v1/decisions:batch' },
        };
      };
      // Two calls of 100 for the allocations: as many decisions as the single calls' pass, within the young generation.
      const batchCost = await measure(
        Math.max(20, Math.round(calls / 100)),
        async () => {
          const out = await handler(batchEvent(), context);
          if (out.statusCode !== 200) throw new Error(`batch failed: ${out.statusCode} ${out.body}`);
        },
        2,
      )();
      const model = await engine.models.get(dp);
      const core = new DecisionService({
        models: { get: async () => model },
        stream: { put: async () => [] },
        rng: createRng(1),
      });
      const coreCost = await measure(calls, () =>
        core.decide({ decisionPoint: dp, userId: `u${rng.int(1_000_000)}`, context: { segment: 's1' }, slots: 1 }),
      )();
      rows.push({
        actions: k,
        handlerCpuUs: handlerCost.cpuUs,
        handlerBytes: handlerCost.bytes,
        handlerP50Us: handlerCost.p50Us,
        coreCpuUs: coreCost.cpuUs,
        coreBytes: coreCost.bytes,
        batchCpuUs: batchCost.cpuUs / 100,
        batchBytes: batchCost.bytes / 100,
      });
      clients.dynamo.destroy();
      clients.s3.destroy();
    }
  } finally {
    await stack.stop();
  }
  return rows;
}

/** The decisions function bundled as the stack bundles it: its size and the time a fresh Node takes to import it. */
export async function measureBundle(): Promise<{ bytes: number; importMs: number }> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'nba-bundle-'));
  try {
    const outfile = join(dir, 'index.mjs');
    await build({
      entryPoints: [join(root, 'functions/decisions/handler.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      minify: true,
      mainFields: ['module', 'main'],
      outfile,
      banner: {
        js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
      },
      logLevel: 'silent',
    });
    const bytes = statSync(outfile).size;
    const script = `const t=performance.now();await import(${JSON.stringify(outfile)});console.log(performance.now()-t)`;
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      times.push(Number(out.stdout.trim()));
    }
    times.sort((a, b) => a - b);
    return { bytes, importMs: times[3]! };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the measurement in a child with a 256 MB young generation and gc exposed (see the module comment). */
export async function runHandlerCostBench(opts: { calls?: number } = {}): Promise<HandlerCostResult> {
  const calls = opts.calls ?? 1500;
  const self = fileURLToPath(import.meta.url);
  const out = execFileSync(
    process.execPath,
    ['--max-semi-space-size=256', '--expose-gc', '--import', 'tsx', self, '--child', '--calls', String(calls)],
    { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const rows = JSON.parse(out.trim().split('\n').at(-1)!) as HandlerCostRow[];
  const bundle = await measureBundle();
  return { calls, rows, bundleBytes: bundle.bytes, importMs: bundle.importMs };
}

export function formatHandlerCostBench(r: HandlerCostResult): string {
  const f = (v: number, d = 0) => v.toFixed(d);
  return [
    `The decisions handler invoked in process with an API Gateway event, ${r.calls} calls per row after 200 warm-up calls; its model from the local stack's snapshot, the stream's PutRecords answered at the SDK's HTTP handler (serialised and signed, no socket). Core: DecisionService.decide on the same model, no handler, no SDK.`,
    '',
    '| actions K | handler CPU µs/decision | handler bytes allocated/decision | handler p50 µs | :batch of 100, CPU µs/decision | :batch bytes/decision | core CPU µs | core bytes | handler / core CPU |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.rows.map(
      (x) =>
        `| ${x.actions.toLocaleString('en-US')} | ${f(x.handlerCpuUs)} | ${f(x.handlerBytes / 1024, 1)} KB | ${f(x.handlerP50Us)} | ${f(x.batchCpuUs)} | ${f(x.batchBytes / 1024, 1)} KB | ${f(x.coreCpuUs)} | ${f(x.coreBytes / 1024, 1)} KB | ${f(x.handlerCpuUs / x.coreCpuUs, 1)}× |`,
    ),
    '',
    `Bundle (esbuild with the stack's options, AWS SDK included): ${f(r.bundleBytes / 1024)} KB; importing it in a fresh Node (the init phase's module load, before the first request builds the engine): ${f(r.importMs)} ms, median of 7.`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--help')) {
    console.log(
      'usage: npx tsx bench/engine/handler-cost.bench.ts [--calls N]   (also: npm run bench -- --only handler)',
    );
    process.exit(0);
  }
  const i = process.argv.indexOf('--calls');
  const calls = i > 0 ? Number(process.argv[i + 1]) : 1500;
  if (process.argv.includes('--child')) {
    console.log(JSON.stringify(await measureHandlerCost({ calls })));
    process.exit(0);
  }
  console.log(formatHandlerCostBench(await runHandlerCostBench({ calls })));
}
