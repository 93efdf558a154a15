/**
 * Where a decision job's steps live: the API's two routes (create, status) and the state machine's steps (plan, one
 * chunk, finish, fail), each a method over ports. The state machine (cdk/constructs/decision-jobs.ts) runs
 * plan → Distributed Map of chunk → finish, and fail when anything before finish failed after its retries.
 *
 * - create: refuses at once what can be known at once (no such decision point, an input that is missing, empty, or in
 *   a bucket the engine may not read), records the job as `running` and starts its execution (named by the job id,
 *   so a retried start starts nothing twice).
 * - plan: reads the input once, cuts it into chunks of whole lines (an input with no line is a failed job with the
 *   reason), pins the model the API serves now (`model.snap` with its checksum) and records the counts.
 * - chunk: decide-chunk.ts, with the pinned model (decoded once per container and job).
 * - finish / fail: the job's final status, counts summed from the chunks' results, or the error.
 * The status is one small S3 object per job, written by one step at a time.
 */

import { jobChunkLines } from '../../core/capacity.ts';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import type { DecisionStore, ExecutionStarter, StateStore } from '../../core/ports.ts';
import type { ModelSource, ServingModel } from '../decide/model-cache.ts';
import { decodeSnapshot, encodeSnapshot, sha256Hex } from '../decide/snapshot.ts';
import type { BlobStore } from '../retrain/ports.ts';
import { type ChunkResult, decideChunk } from './decide-chunk.ts';
import { type Chunk, type DecisionJob, isJobId, jobKeys, MAX_CHUNKS, newJobId, planChunks } from './job.ts';

export interface JobInputs {
  /** Bytes of the input, or of [start, end) of it. */
  read(url: string, range?: { start: number; end: number }): Promise<Uint8Array>;
  /** The input's size, or undefined when it does not exist. */
  size(url: string): Promise<number | undefined>;
}

export interface DecisionJobDeps {
  /** The jobs bucket (the lake bucket) and its name, for the URLs a job reports. */
  blobs: BlobStore;
  bucket: string;
  inputs: JobInputs;
  models: ModelSource;
  state: StateStore;
  users?: Pick<DecisionStore, 'getUserStage'>;
  pseudonymise: () => Promise<(userId: string) => string>;
  statsPartitions: number;
  /** Where executions start (the API side only). */
  executions?: { starter: ExecutionStarter; stateMachineArn: string };
  now?: () => number;
}

/** What the state machine hands from step to step. */
export interface JobRef {
  decisionPoint: string;
  jobId: string;
  input: string;
}
export interface PlannedJob {
  job: JobRef & { modelSha256: string };
  chunks: Chunk[];
}

/** The job's input has no line to decide: the job fails with this reason (not retried). */
export class JobInputError extends Error {
  override readonly name = 'JobInputError';
}

export class DecisionJobs {
  private pinned: { jobId: string; model: ServingModel } | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: DecisionJobDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** POST /v1/decision-points/{dp}/decision-jobs. */
  async create(decisionPoint: string, input: string): Promise<DecisionJob> {
    if (!(await this.deps.state.getDecisionPoint(decisionPoint))) {
      throw new NotFoundError(`decision point ${decisionPoint} does not exist`);
    }
    const size = await this.deps.inputs.size(input);
    if (size === undefined) throw new ValidationError(`input: ${input} does not exist`);
    if (size === 0) throw new ValidationError(`input: ${input} is empty: give one JSON line per user`);
    const executions = this.deps.executions;
    if (!executions) throw new Error('this function cannot start decision jobs (no state machine configured)');
    const at = this.now();
    const jobId = newJobId(at);
    const keys = jobKeys(decisionPoint, jobId);
    const job: DecisionJob = {
      jobId,
      decisionPoint,
      status: 'running',
      input,
      output: `s3://${this.deps.bucket}/${keys.output}`,
      errors: `s3://${this.deps.bucket}/${keys.errors}`,
      createdAt: at,
      updatedAt: at,
    };
    await this.write(job);
    try {
      await executions.starter.start(executions.stateMachineArn, jobId, {
        decisionPoint,
        jobId,
        input,
      } satisfies JobRef);
    } catch (err) {
      // No execution will ever finish this job: its status says so, and the caller's error says to retry.
      await this.write({ ...job, status: 'failed', error: 'the job could not be started', updatedAt: this.now() });
      throw err;
    }
    return job;
  }

  /** GET /v1/decision-points/{dp}/decision-jobs/{jobId}. */
  async get(decisionPoint: string, jobId: string): Promise<DecisionJob> {
    const bytes = isJobId(jobId) ? await this.deps.blobs.get(jobKeys(decisionPoint, jobId).status) : undefined;
    if (!bytes) throw new NotFoundError(`decision point ${decisionPoint} has no decision job ${jobId}`);
    return JSON.parse(Buffer.from(bytes).toString()) as DecisionJob;
  }

  async plan(ref: JobRef): Promise<PlannedJob> {
    const input = await this.deps.inputs.read(ref.input);
    // The model the API serves now, pinned for every chunk and every retry of the job.
    const model = await this.deps.models.get(ref.decisionPoint);
    // Chunk size: docs/ARCHITECTURE.md §9 (statistics writes per decision, and the chunk's records in memory).
    const perChunk = jobChunkLines(model.live.length);
    const { chunks, lines } = planChunks(input, perChunk);
    if (lines === 0) throw new JobInputError(`input ${ref.input} has no line to decide`);
    if (chunks.length > MAX_CHUNKS) {
      throw new JobInputError(
        `input ${ref.input} has ${lines} lines: a job decides at most ${MAX_CHUNKS * perChunk} at ${model.live.length} actions (${MAX_CHUNKS} chunks of ${perChunk}); split it into several jobs`,
      );
    }
    const snapshot = encodeSnapshot(model);
    const keys = jobKeys(ref.decisionPoint, ref.jobId);
    await this.deps.blobs.put(keys.model, snapshot, 'application/octet-stream');
    const job = await this.get(ref.decisionPoint, ref.jobId);
    await this.write({ ...job, lines, chunks: chunks.length, modelVersion: model.version, updatedAt: this.now() });
    return { job: { ...ref, modelSha256: sha256Hex(snapshot) }, chunks };
  }

  async chunk(job: PlannedJob['job'], chunk: Chunk): Promise<ChunkResult> {
    if (this.pinned?.jobId !== job.jobId) {
      const bytes = await this.deps.blobs.get(jobKeys(job.decisionPoint, job.jobId).model);
      if (!bytes) throw new Error(`decision job ${job.jobId} has no pinned model`);
      this.pinned = { jobId: job.jobId, model: decodeSnapshot(bytes, job.modelSha256) };
    }
    const text = Buffer.from(await this.deps.inputs.read(job.input, chunk)).toString('utf8');
    return decideChunk(job, chunk, text, this.pinned.model, {
      blobs: this.deps.blobs,
      state: this.deps.state,
      ...(this.deps.users ? { users: this.deps.users } : {}),
      pseudonymise: await this.deps.pseudonymise(),
      statsPartitions: this.deps.statsPartitions,
      now: this.now,
    });
  }

  async finish(job: JobRef, results: readonly ChunkResult[]): Promise<DecisionJob> {
    const current = await this.get(job.decisionPoint, job.jobId);
    const done: DecisionJob = {
      ...current,
      status: 'succeeded',
      decided: results.reduce((n, r) => n + r.decided, 0),
      rejected: results.reduce((n, r) => n + r.rejected, 0),
      updatedAt: this.now(),
    };
    await this.write(done);
    return done;
  }

  async fail(job: JobRef, error: { Error?: string; Cause?: string }): Promise<DecisionJob> {
    const current = await this.get(job.decisionPoint, job.jobId);
    const failed: DecisionJob = {
      ...current,
      status: 'failed',
      error: describeFailure(error),
      updatedAt: this.now(),
    };
    await this.write(failed);
    return failed;
  }

  private write(job: DecisionJob): Promise<void> {
    return this.deps.blobs.put(jobKeys(job.decisionPoint, job.jobId).status, JSON.stringify(job), 'application/json');
  }
}

/** A Catch's `{ Error, Cause }` as one sentence (a Lambda error's Cause is its JSON: name and message). */
function describeFailure(error: { Error?: string; Cause?: string }): string {
  try {
    const cause = JSON.parse(error.Cause ?? '') as { errorType?: string; errorMessage?: string };
    if (cause.errorMessage) return `${cause.errorType ?? error.Error}: ${cause.errorMessage}`;
  } catch {}
  return [error.Error, error.Cause].filter(Boolean).join(': ') || 'the job failed';
}
