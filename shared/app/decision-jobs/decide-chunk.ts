/**
 * The worker of a decision job: one chunk of input lines in, its decisions out. The rules (docs/ARCHITECTURE.md §9):
 *
 * 1. Same policy as the API: each row is decided by `DecisionService.decide`, the code `POST /v1/decisions` runs,
 *    against the job's pinned model, at the job's time, with the exact propensities it computes.
 * 2. Reproducible: the sampler is seeded by (job, chunk) and decision ids are `j-<job>-<chunk>-<row>`, so an attempt
 *    decides what any other attempt decides. Where something outside the model could still differ between attempts
 *    (a user's stage, read per row), the first attempt wins: once the chunk's lake object exists, its records are the
 *    chunk's decisions and a retry only re-derives the outputs from them.
 * 3. Learnable without a write per decision: the chunk's records go to the lake as one object (retraining reads them
 *    with the rest), their impressions to the statistics as one write per touched item, marked with the chunk's own
 *    writer position (`job/<job>/<chunk>`, the row as sequence) so a retry adds nothing twice; feedback naming a
 *    decision finds it through its id (`job-decisions.ts`).
 * 4. Order of writes: the catalog version the records name (core/catalog/catalog-version.ts, C4), the lake object,
 *    impressions, then the output. A caller learns a decision id only from the output,
 *    so feedback can never name a decision the updater cannot find.
 * 5. Every input line is one line of the output or one line of the errors output: a bad line (empty, not JSON, not a
 *    row, an unknown action, too big, nothing eligible) with its line number and reason. It never stops the chunk.
 */
import { DEFAULT_OBJECTIVE, type StoredDecision } from '../../core/domain.ts';
import { DependencyError } from '../../core/errors.ts';
import type { DecisionStore, EventStream, StateStore } from '../../core/ports.ts';
import { createRng } from '../../core/random.ts';
import { type DecisionRecord, describeZodError } from '../../core/schemas.ts';
import { DecisionService, rejectionOf } from '../decide/decide.ts';
import type { ServingModel } from '../decide/model-cache.ts';
import { toStored } from '../learn/apply-batch.ts';
import { StatisticsWriter } from '../learn/statistics.ts';
import { encodeLakeObject } from '../retrain/lake.ts';
import type { BlobStore } from '../retrain/ports.ts';
import {
  type Chunk,
  jobDecisionId,
  jobKeys,
  jobLakeKey,
  jobRowSchema,
  jobTime,
  MAX_LINE_BYTES,
  readJobLakeObject,
} from './job.ts';

export interface ChunkDeps {
  /** The jobs bucket: the lake, the pinned model, outputs and errors. */
  blobs: BlobStore;
  state: StateStore;
  /** Stage reads, for decision points with stage ladders or stage rules. */
  users?: Pick<DecisionStore, 'getUserStage'>;
  pseudonymise: (userId: string) => string;
  statsPartitions: number;
  now?: () => number;
}

export interface ChunkResult {
  chunk: number;
  decided: number;
  rejected: number;
}

/** One line of a job's output. `propensity` is the slot-1 action's, as logged. */
export interface JobOutputLine {
  line: number;
  userId: string;
  decisionId: string;
  chosen: string[];
  propensity: number;
  /** With several slots: each chosen action's propensity given the slots above (as `POST /v1/decisions` answers). */
  slots?: { actionId: string; propensity: number }[];
  modelVersion: string;
  objective: string;
}

export interface JobErrorLine {
  line: number;
  code: 'invalid' | 'not-found' | 'unprocessable';
  error: string;
}

/** Decides one chunk (`text`: its lines) of job `jobId` in `decisionPoint` with the pinned `model`. */
export async function decideChunk(
  job: { jobId: string; decisionPoint: string },
  chunk: Chunk,
  text: string,
  model: ServingModel,
  deps: ChunkDeps,
): Promise<ChunkResult> {
  const at = jobTime(job.jobId);
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const keys = jobKeys(job.decisionPoint, job.jobId);
  const lakeKey = jobLakeKey(job.jobId, chunk.index);

  // 1–2: decide every row (deterministically), unless an earlier attempt's decisions are in the lake: then its records
  // are the chunk's decisions, and only the rows it did not decide are decided again (for their error's reason). A
  // record is turned into its lake line, its impressions and its output line as it is made, and not kept: a chunk's
  // records would otherwise outlive the young generation and cost the garbage collector more than the decisions.
  const earlier = await deps.blobs.get(lakeKey);
  const kept = new Map((earlier ? readJobLakeObject(earlier) : []).map((r) => [r.decisionId, r]));
  const writer = impressionWriter(job.jobId, chunk.index, deps);
  let logged: DecisionRecord | undefined;
  let row = 0;
  const stream: EventStream = {
    put: async (records) => {
      for (const r of records) if (r.kind === 'decision') logged = r;
      return [];
    },
  };
  const service = new DecisionService({
    models: { get: async () => model },
    stream,
    ...(deps.users ? { users: deps.users } : {}),
    rng: createRng(`${job.jobId}/${chunk.index}`),
    now: () => at,
    newId: () => jobDecisionId(job.jobId, chunk.index, row),
  });
  const errors: JobErrorLine[] = [];
  /** Catalog versions the chunk's records declare: stored before the records are (catalog-version.ts, C4). */
  const declared = new Map<string, string[]>();
  const lakeLines: string[] = [];
  const output: string[] = [];
  for (; row < lines.length; row++) {
    const line = chunk.firstLine + row;
    const raw = lines[row]!;
    const earlierRecord = kept.get(jobDecisionId(job.jobId, chunk.index, row));
    if (earlierRecord) {
      writer.impressions(toStored(earlierRecord), BigInt(row + 1));
      output.push(outputLine(earlierRecord, line, (JSON.parse(raw) as { userId: string }).userId));
      continue;
    }
    if (raw.trim() === '') {
      errors.push({ line, code: 'invalid', error: 'empty line' });
      continue;
    }
    if (Buffer.byteLength(raw) > MAX_LINE_BYTES) {
      errors.push({ line, code: 'invalid', error: `line exceeds ${MAX_LINE_BYTES} bytes` });
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      errors.push({ line, code: 'invalid', error: 'not JSON' });
      continue;
    }
    const parsed = jobRowSchema.safeParse(json);
    if (!parsed.success) {
      errors.push({ line, code: 'invalid', error: describeZodError(parsed.error) });
      continue;
    }
    const req = parsed.data;
    try {
      await service.decide({ ...req, decisionPoint: job.decisionPoint, userId: deps.pseudonymise(req.userId) });
    } catch (err) {
      const rejected = rejectionOf(err);
      if (!rejected) throw err;
      errors.push({ line, ...rejected });
      continue;
    }
    const r = logged!;
    logged = undefined;
    if (earlier) {
      errors.push({ line, code: 'unprocessable', error: 'not decided by the attempt whose decisions were kept' });
      continue;
    }
    if (r.catalog?.ids) declared.set(r.catalog.version, r.catalog.ids);
    lakeLines.push(JSON.stringify(r));
    writer.impressions(toStored(r), BigInt(row + 1));
    output.push(outputLine(r, line, req.userId));
  }
  if (!earlier) {
    for (const [version, ids] of declared) await deps.state.putCatalogVersion(job.decisionPoint, version, ids);
    await deps.blobs.put(lakeKey, encodeLakeObject(lakeLines), 'application/gzip');
  }

  // 3: impressions, one write per touched statistics item, once whatever the attempts.
  await applyImpressions(writer, chunk.index);

  // 4: the output (the caller's user ids, never the pseudonyms) and the errors, in line order; an empty part is not
  // written (the SDK cannot tell an empty body from a stream of unknown length, and warns).
  if (output.length > 0) await deps.blobs.put(keys.outputPart(chunk.index), lines0(output), 'application/x-ndjson');
  if (errors.length > 0) {
    await deps.blobs.put(
      keys.errorsPart(chunk.index),
      lines0(errors.map((e) => JSON.stringify(e))),
      'application/x-ndjson',
    );
  }
  return { chunk: chunk.index, decided: output.length, rejected: errors.length };
}

/** Rule 3's writer: the chunk's own writer position, so an item that already includes a contribution skips it. */
function impressionWriter(
  jobId: string,
  chunk: number,
  deps: Pick<ChunkDeps, 'state' | 'statsPartitions' | 'now'>,
): StatisticsWriter {
  return new StatisticsWriter(deps.state, {
    shardId: `job/${jobId}/${chunk}`,
    partitions: deps.statsPartitions,
    now: deps.now ?? Date.now,
    maxConflictRetries: 20,
  });
}

/** Writes the contributions; throws when an item could not be written (the chunk is retried). */
async function applyImpressions(writer: StatisticsWriter, chunk: number): Promise<void> {
  let failed = false;
  await writer.apply(undefined, () => {
    failed = true;
  });
  if (failed) throw new DependencyError(`chunk ${chunk}: the statistics could not be written; retry the chunk`);
}

/**
 * Rule 3 for a chunk's records (F1): one contribution per decision under the chunk's writer position, written once
 * whatever the attempts. Throws when an item could not be written: the chunk is retried.
 */
export async function applyJobImpressions(
  records: readonly DecisionRecord[],
  jobId: string,
  chunk: number,
  deps: Pick<ChunkDeps, 'state' | 'statsPartitions' | 'now'>,
): Promise<void> {
  const writer = impressionWriter(jobId, chunk, deps);
  for (const r of records) writer.impressions(toStored(r), BigInt(rowOf(r.decisionId) + 1));
  await applyImpressions(writer, chunk);
}

const outputLine = (r: DecisionRecord, line: number, userId: string) =>
  JSON.stringify({
    line,
    userId,
    decisionId: r.decisionId,
    chosen: r.chosen,
    propensity: r.propensity,
    ...(r.slotPropensities && {
      slots: r.chosen.map((actionId, k) => ({ actionId, propensity: r.slotPropensities![k]! })),
    }),
    modelVersion: r.modelVersion,
    objective: r.servedBy ?? DEFAULT_OBJECTIVE,
  } satisfies JobOutputLine);

const lines0 = (lines: readonly string[]) => `${lines.join('\n')}\n`;

const rowOf = (decisionId: string) => Number.parseInt(decisionId.slice(decisionId.lastIndexOf('-') + 1), 36);

/** A job decision as the updater stores it: its claim is the chunk's writer position, never a stream record's. */
export function storedJobDecision(r: DecisionRecord): StoredDecision {
  const id = r.decisionId;
  const chunk = id.slice(0, id.lastIndexOf('-'));
  return { ...toStored(r), claim: `job/${chunk}/${rowOf(id) + 1}` };
}
