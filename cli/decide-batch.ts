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
import { resolve } from 'node:path';
import { ensureLocalApiKey, readLocalApiKey } from '../local/api-key.ts';
import { createEmulatorS3Client } from '../local/emulators.ts';
import { readRunningEndpoints } from '../local/retrain.ts';
import { startLocalStack } from '../local/stack.ts';
import { LAKE_BUCKET, physicalName } from '../local/twin/template.ts';
import { S3BlobStore } from '../shared/adapters/s3/blob-store.ts';
import { parseCliArgs, UsageError } from './lib/args.ts';
import { type CliStreams, failWith, processStreams, runIfEntry } from './lib/command.ts';
import { type EngineApi, EngineRefusedError, EngineUnreachableError, engineApi } from './lib/engine-api.ts';
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
  api: EngineApi;
  /** The lake bucket of the engine's S3 emulator, where inputs go and outputs are. */
  blobs: S3BlobStore;
  bucket: string;
  close(): Promise<void>;
}

/** The engine `npm start` runs on the data dir; else one started here on it (stopped by `close`). */
async function openEngine(dataDir: string, apiKey: string | undefined): Promise<Engine> {
  const running = readRunningEndpoints(dataDir);
  if (running) {
    const { url, s3Endpoint, jobsBucket } = running;
    if (!url || !s3Endpoint || !jobsBucket) {
      throw new InputError(`the engine running on ${dataDir} predates decision jobs: restart npm start`);
    }
    const s3 = createEmulatorS3Client(s3Endpoint);
    return {
      api: engineApi({ url, key: apiKey ?? readLocalApiKey(dataDir) }),
      blobs: new S3BlobStore(s3, jobsBucket),
      bucket: jobsBucket,
      close: async () => s3.destroy(),
    };
  }
  const key = apiKey ?? ensureLocalApiKey(dataDir).key;
  const stack = await startLocalStack({ apiKey: key, dataDir });
  const bucket = physicalName(stack.plan, LAKE_BUCKET);
  return {
    api: engineApi({ url: stack.url, key }),
    blobs: new S3BlobStore(stack.emulators.s3, bucket),
    bucket,
    close: () => stack.stop(),
  };
}

/** The parts under an `s3://` folder of the engine's bucket, in key order, concatenated. */
async function gather(engine: Engine, url: string): Promise<string> {
  let text = '';
  for (const { key } of await engine.blobs.list(url.replace(`s3://${engine.bucket}/`, ''))) {
    text += Buffer.from((await engine.blobs.get(key)) ?? new Uint8Array()).toString('utf8');
  }
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
      await engine.blobs.put(key, readFileSync(input), 'application/x-ndjson');
      const created = (await engine.api.call('POST', `/v1/decision-points/${dp}/decision-jobs`, {
        input: `s3://${engine.bucket}/${key}`,
      }))!;
      const jobId = String(created.jobId);
      streams.stderr.write(`decide-batch: job ${jobId} started\n`);
      let job = created;
      while (job.status === 'running') {
        await new Promise((r) => setTimeout(r, 200));
        job = (await engine.api.call('GET', `/v1/decision-points/${dp}/decision-jobs/${jobId}`))!;
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
    return failWith(
      'decide-batch',
      USAGE,
      error,
      streams,
      (e) => e instanceof InputError || e instanceof EngineRefusedError || e instanceof EngineUnreachableError,
    );
  }
}

await runIfEntry(import.meta.url, runDecideBatchCli);
