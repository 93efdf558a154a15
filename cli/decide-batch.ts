/**
 * Runs a decision job locally, through the engine's own API and state machine (README, "Decisions in bulk"): the
 * input file goes to the local lake bucket, `POST …/decision-jobs` starts the job, the twin's Step Functions run the
 * definition CDK synthesises, and the output and error parts are gathered into two files. If `npm start` runs on the
 * data dir, the job runs there (its model, its learning); otherwise a local engine is started on the data dir for the
 * job and stopped after it.
 *
 *   npm run decide-batch -- --decision-point X --in users.jsonl --out decisions.jsonl [--errors F] [--data-dir DIR]
 *
 * Exit codes: 0 the job succeeded (bad lines are in the errors file), 1 the job failed, 2 bad arguments or input.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ensureLocalApiKey } from '../local/api-key.ts';
import { LOCAL_REGION, S3_EMULATOR_CREDENTIALS } from '../local/emulators.ts';
import { endpointsSchema, LOCAL_ENDPOINTS_FILE, running } from '../local/retrain.ts';
import { startLocalStack } from '../local/stack.ts';
import { createS3Client } from '../shared/adapters/aws-clients.ts';
import { parseCliArgs, UsageError } from './lib/args.ts';
import { type CliStreams, failWith, processStreams, runIfEntry } from './lib/command.ts';
import { localDataDir } from './lib/local.ts';

const USAGE = `usage: npm run decide-batch -- --decision-point X --in FILE --out FILE [options]

  --decision-point X   the decision point that decides
  --in FILE            JSON lines, one user each: {"userId", "context"?, "candidates"?, "exclude"?, "slots"?}
  --out FILE           one JSON line per decided line: {"line", "userId", "decisionId", "chosen", "propensity", ...}
  --errors FILE        one JSON line per refused line: {"line", "code", "error"} (default: OUT.errors.jsonl)
  --data-dir DIR       local data, default NBA_DATA_DIR or .local-data (the engine npm start runs there is used)
  --api-key KEY        the API key (default NBA_API_KEY, or the key npm start stored in the data dir)`;

class InputError extends Error {}

interface Engine {
  url: string;
  apiKey: string;
  s3: S3Client;
  bucket: string;
  close(): Promise<void>;
}

async function openEngine(dataDir: string, apiKey: string | undefined): Promise<Engine> {
  const file = join(dataDir, LOCAL_ENDPOINTS_FILE);
  const e = existsSync(file) ? endpointsSchema.safeParse(JSON.parse(readFileSync(file, 'utf8'))) : undefined;
  if (e?.success && running(e.data.pid)) {
    const { url, s3Endpoint, jobsBucket } = e.data;
    if (!url || !s3Endpoint || !jobsBucket) {
      throw new InputError(`the engine running on ${dataDir} predates decision jobs: restart npm start`);
    }
    const s3 = createS3Client({ region: LOCAL_REGION, credentials: S3_EMULATOR_CREDENTIALS, s3Endpoint });
    const key = apiKey ?? ensureLocalApiKey(dataDir).key;
    return { url, apiKey: key, s3, bucket: jobsBucket, close: async () => s3.destroy() };
  }
  const key = apiKey ?? ensureLocalApiKey(dataDir).key;
  const stack = await startLocalStack({ apiKey: key, dataDir });
  const bucket = stack.plan.buckets.find((b) => b.logicalId.includes('LakeBucket'))!.name;
  return { url: stack.url, apiKey: key, s3: stack.emulators.s3, bucket, close: () => stack.stop() };
}

async function call(engine: Engine, method: string, path: string, body?: unknown) {
  const res = await fetch(`${engine.url}${path}`, {
    method,
    headers: { 'x-api-key': engine.apiKey, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as Record<string, unknown> & { error?: { message: string } };
  if (res.status >= 400) throw new InputError(json.error?.message ?? `HTTP ${res.status}`);
  return json;
}

/** The parts under an s3:// folder, in key order, concatenated. */
async function gather(engine: Engine, url: string): Promise<string> {
  const prefix = url.replace(`s3://${engine.bucket}/`, '');
  let text = '';
  let token: string | undefined;
  do {
    const page = await engine.s3.send(
      new ListObjectsV2Command({ Bucket: engine.bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) {
      const got = await engine.s3.send(new GetObjectCommand({ Bucket: engine.bucket, Key: o.Key! }));
      text += await got.Body!.transformToString();
    }
    token = page.NextContinuationToken;
  } while (token);
  return text;
}

export async function runDecideBatchCli(
  argv: readonly string[],
  streams: CliStreams = processStreams(),
): Promise<number> {
  try {
    const v = parseCliArgs(argv, {
      'decision-point': { type: 'string' },
      in: { type: 'string' },
      out: { type: 'string' },
      errors: { type: 'string' },
      'data-dir': { type: 'string' },
      'api-key': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    });
    if (v.help) {
      streams.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const dp = v['decision-point'];
    if (dp === undefined) throw new UsageError('--decision-point is required');
    if (v.in === undefined) throw new UsageError('--in is required');
    if (v.out === undefined) throw new UsageError('--out is required');
    const input = resolve(v.in);
    if (!existsSync(input)) throw new InputError(`--in ${v.in}: no such file`);
    if (statSync(input).size === 0) throw new InputError(`--in ${v.in} is empty: give one JSON line per user`);
    const out = resolve(v.out);
    const errorsFile = resolve(v.errors ?? `${out.replace(/\.jsonl?$/, '')}.errors.jsonl`);
    process.env.NBA_LOG_LEVEL ??= 'silent';

    const engine = await openEngine(resolve(v['data-dir'] ?? localDataDir()), v['api-key'] ?? process.env.NBA_API_KEY);
    try {
      const started = Date.now();
      const key = `decision-jobs/inputs/${randomUUID()}.jsonl`;
      await engine.s3.send(new PutObjectCommand({ Bucket: engine.bucket, Key: key, Body: readFileSync(input) }));
      const created = await call(engine, 'POST', `/v1/decision-points/${dp}/decision-jobs`, {
        input: `s3://${engine.bucket}/${key}`,
      });
      const jobId = String(created.jobId);
      streams.stderr.write(`decide-batch: job ${jobId} started\n`);
      let job = created;
      while (job.status === 'running') {
        await new Promise((r) => setTimeout(r, 200));
        job = await call(engine, 'GET', `/v1/decision-points/${dp}/decision-jobs/${jobId}`);
      }
      if (job.status !== 'succeeded') {
        streams.stderr.write(`decide-batch: job ${jobId} failed: ${String(job.error)}\n`);
        return 1;
      }
      writeFileSync(out, await gather(engine, String(job.output)));
      writeFileSync(errorsFile, await gather(engine, String(job.errors)));
      const seconds = (Date.now() - started) / 1000;
      const decided = Number(job.decided);
      streams.stdout.write(
        `job ${jobId}: ${job.lines} lines in ${job.chunks} chunks, ${decided} decided (model ${job.modelVersion}), ${job.rejected} refused, ${seconds.toFixed(1)} s (${Math.round(decided / seconds)} decisions/s)\n` +
          `  decisions → ${out}\n  errors    → ${errorsFile}\n`,
      );
      return 0;
    } finally {
      await engine.close();
    }
  } catch (error) {
    return failWith('decide-batch', USAGE, error, streams, (e) => e instanceof InputError);
  }
}

await runIfEntry(import.meta.url, runDecideBatchCli);
