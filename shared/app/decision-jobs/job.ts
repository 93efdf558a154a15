/**
 * Decision jobs (docs/ARCHITECTURE.md §9): a campaign decides for every user of a JSON-lines file at once, with the
 * policy the API serves, at a fraction of the per-request cost. This module holds what every part of a job agrees
 * on: its id, where its objects live, how its input is cut into chunks and how a decision id names its row.
 *
 * - A job id is the job's decision time (ms, base 36) and six random characters: every decision of the job is made
 *   at that time, with one model pinned by the plan step (`model.snap`, checksummed), so the job is reproducible.
 * - A decision id `j-<jobId>-<chunk>-<row>` locates its decision: the chunk's decision records are one lake object
 *   (`lake/kind=decision/dt=…/hour=…/job-<jobId>-<chunk>.jsonl.gz`, named by the job's time), which the updater reads
 *   once per chunk when feedback names one of them, and which retraining reads with the rest of the lake.
 * - Chunks are byte ranges of the input that end at line ends, each with the number of its first line, so every error
 *   names its line and a retried chunk decides the same rows with the same ids.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { JOB_DECISION_PREFIX } from '../../core/feedback/join.ts';
import { type DecisionRecord, decisionRequestSchema, LIMITS, streamRecordSchema } from '../../core/schemas.ts';
import { decodeLakeObject, lakePartition } from '../retrain/lake.ts';

const JOB_ID = /^[0-9a-z]{8}[0-9a-z]{6}$/;

const DECISION_ID = /^j-([0-9a-z]{8})([0-9a-z]{6})-([0-9a-z]+)-([0-9a-z]+)$/;

/** Chunks a plan may list: a Map state's input holds them inline (≈ 80 bytes each, within 256 KB). */
export const MAX_CHUNKS = 2_000;
/** A line longer than the API's body limit is refused (the same bound as one `POST /v1/decisions`). */
export const MAX_LINE_BYTES = LIMITS.maxBodyBytes;

export function newJobId(at: number): string {
  const time = at.toString(36).padStart(8, '0');
  const random = [...randomBytes(6)].map((b) => (b % 36).toString(36)).join('');
  return `${time}${random}`;
}

export const isJobId = (id: string) => JOB_ID.test(id);
export const jobIdSchema = z.string().regex(JOB_ID, 'must be a decision job id (14 characters from 0-9 a-z)');

/** When the job decides (its id says). */
export const jobTime = (jobId: string) => Number.parseInt(jobId.slice(0, 8), 36);

export const jobDecisionId = (jobId: string, chunk: number, row: number) =>
  `${JOB_DECISION_PREFIX}${jobId}-${chunk.toString(36)}-${row.toString(36)}`;

/** The job, chunk and row a job decision id names; undefined for any other id. */
export function parseJobDecisionId(id: string): { jobId: string; chunk: number; row: number } | undefined {
  const m = DECISION_ID.exec(id);
  if (!m) return undefined;
  return { jobId: `${m[1]}${m[2]}`, chunk: Number.parseInt(m[3]!, 36), row: Number.parseInt(m[4]!, 36) };
}

const pad5 = (n: number) => String(n).padStart(5, '0');

/** Where a job's objects are, in the jobs bucket. */
export const jobKeys = (decisionPoint: string, jobId: string) => {
  const base = `decision-jobs/${decisionPoint}/${jobId}/`;
  return {
    base,
    status: `${base}status.json`,
    model: `${base}model.snap`,
    output: `${base}output/`,
    errors: `${base}errors/`,
    outputPart: (chunk: number) => `${base}output/part-${pad5(chunk)}.jsonl`,
    errorsPart: (chunk: number) => `${base}errors/part-${pad5(chunk)}.jsonl`,
  };
};

/** The lake object holding one chunk's decision records (pseudonymous, as the stream would have carried them). */
export const jobLakeKey = (jobId: string, chunk: number) =>
  `${lakePartition('decision', jobTime(jobId))}job-${jobId}-${pad5(chunk)}.jsonl.gz`;

/** The decision records of a chunk's lake object, in row order. */
export function readJobLakeObject(bytes: Uint8Array): DecisionRecord[] {
  return decodeLakeObject(bytes)
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => streamRecordSchema.parse(JSON.parse(l)) as DecisionRecord);
}

/** One row of a job's input: a decision request without its decision point (the job names it). */
export const jobRowSchema = decisionRequestSchema.omit({ decisionPoint: true });

export const chunkSchema = z.object({
  index: z.number().int().min(0),
  /** Byte range [start, end) of the input; `end` is just after a newline or the end of the input. */
  start: z.number().int().min(0),
  end: z.number().int().min(0),
  /** 1-based number of the chunk's first line in the input. */
  firstLine: z.number().int().min(1),
});
export type Chunk = z.infer<typeof chunkSchema>;

/**
 * Cuts an input into chunks of `perChunk` whole lines (the last may have fewer), counting the lines as it goes. The
 * caller refuses an input with no line, or with more chunks than MAX_CHUNKS.
 */
export function planChunks(input: Uint8Array, perChunk: number): { chunks: Chunk[]; lines: number } {
  const newlines: number[] = [];
  let at = input.indexOf(10);
  while (at !== -1) {
    newlines.push(at);
    at = input.indexOf(10, at + 1);
  }
  const trailing = input.length > 0 && input[input.length - 1] !== 10 ? 1 : 0;
  const lines = newlines.length + trailing;
  const per = perChunk;
  const chunks: Chunk[] = [];
  for (let first = 0; first < lines; first += per) {
    const last = Math.min(lines, first + per) - 1;
    const start = first === 0 ? 0 : newlines[first - 1]! + 1;
    const end = last < newlines.length ? newlines[last]! + 1 : input.length;
    chunks.push({ index: chunks.length, start, end, firstLine: first + 1 });
  }
  return { chunks, lines };
}

export const JOB_STATUSES = ['running', 'succeeded', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** What the state table keeps of a job (GET …/decision-jobs/{jobId}). */
export interface DecisionJob {
  jobId: string;
  decisionPoint: string;
  status: JobStatus;
  /** Where the input was read (an `s3://` URL). */
  input: string;
  /** The folder of output parts and of error parts (`s3://` URLs). */
  output: string;
  errors: string;
  createdAt: number;
  updatedAt: number;
  lines?: number | undefined;
  chunks?: number | undefined;
  decided?: number | undefined;
  rejected?: number | undefined;
  modelVersion?: string | undefined;
  error?: string | undefined;
}
