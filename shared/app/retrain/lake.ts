/**
 * The log lake: every decision record and feedback event from the stream, as gzipped JSON lines (one stream record
 * per line, exactly as it travelled on Kinesis), partitioned by kind and by the UTC hour of the record's own time:
 *
 *   lake/kind=decision/dt=YYYY-MM-DD/hour=HH/<file>      decision records, by `at` (the decision time)
 *   lake/kind=event/dt=YYYY-MM-DD/hour=HH/<file>         feedback events, by `receivedAt`
 *
 * Kinesis Data Firehose writes this layout in AWS (dynamic partitioning with the same rule, see
 * `cdk/constructs/retraining.ts`); the local lake writer and the history importer write it on disk. Partitioning by
 * the decision's own time (not by arrival) makes `dt` equal to the statistics bucket (`bucketOf(at)`), so a training
 * cutoff is a set of whole partitions. Readers never rely on that for correctness: they filter records by time too.
 *
 * Delivery into the lake is at least once (Firehose retries, the local writer re-writes a batch after a crash); the
 * retraining join applies the updater's own rules, so a decision counts once per `decisionId` and an event once per
 * (`userId`, `eventId`).
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';

export const LAKE_PREFIX = 'lake/';
export const LAKE_ERRORS_PREFIX = 'lake-errors/';
export const HOUR_MS = 3_600_000;
export type LakeKind = 'decision' | 'event';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `YYYY-MM-DD` and `HH` of a UTC instant. */
export function utcDayHour(atMs: number): { dt: string; hour: string } {
  const d = new Date(atMs);
  return { dt: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`, hour: pad(d.getUTCHours()) };
}

/** The partition folder of a record of `kind` whose time is `atMs`. */
export function lakePartition(kind: LakeKind, atMs: number): string {
  const { dt, hour } = utcDayHour(atMs);
  return `${LAKE_PREFIX}kind=${kind}/dt=${dt}/hour=${hour}/`;
}

const KEY = /^lake\/kind=(decision|event)\/dt=(\d{4})-(\d{2})-(\d{2})\/hour=(\d{2})\/[^/]+$/;

/** Kind and hour (start, ms) of a lake object key; undefined for anything else (folders, stray files). */
export function parseLakeKey(key: string): { kind: LakeKind; hourStart: number } | undefined {
  const m = KEY.exec(key);
  if (!m) return undefined;
  const hourStart = Date.UTC(Number(m[2]), Number(m[3]) - 1, Number(m[4]), Number(m[5]));
  return Number.isFinite(hourStart) ? { kind: m[1] as LakeKind, hourStart } : undefined;
}

/** The time a record is partitioned by: a decision's `at`, an event's `receivedAt`. */
export function recordTime(record: { kind: string; at?: unknown; receivedAt?: unknown }): number | undefined {
  const t = record.kind === 'decision' ? record.at : record.receivedAt;
  return typeof t === 'number' && Number.isFinite(t) ? t : undefined;
}

/** One gzip member holding the lines, newline-terminated. */
export function encodeLakeObject(lines: readonly string[]): Uint8Array {
  // Level 3, not zlib's default 6: on a decision job chunk's records it compresses twice as fast (4.0 against 8.5 µs
  // per decision) for 11% more bytes (47 against 43 per decision); every object this writes is read by this engine.
  return gzipSync(`${lines.join('\n')}\n`, { level: 3 });
}

/** The text of a lake object: gunzipped when it starts with the gzip magic bytes (any number of members). */
export function decodeLakeObject(bytes: Uint8Array): string {
  const gz = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  return Buffer.from(gz ? gunzipSync(bytes) : bytes).toString('utf8');
}

/**
 * What the offline pass reads from a decision record. A projection, not the stream schema: the lake keeps years of
 * records written by older engine versions, so the reader asks only for the fields it uses and ignores the rest
 * (the stream's strict schema would reject a record for a field added or removed since).
 */
export const lakeDecisionSchema = z.object({
  kind: z.literal('decision'),
  decisionId: z.string().min(1),
  decisionPoint: z.string().min(1),
  userId: z.string().min(1),
  at: z.number().int().nonnegative(),
  x: z.array(z.number()),
  /** Absent on a decision whose catalog reference the split could not resolve (or of another decision point). */
  candidates: z.array(z.string()).optional(),
  chosen: z.array(z.string()).min(1),
  chosenFeatures: z.array(z.array(z.number())).default([]),
  /** 0: not logged (imported history without propensities). */
  propensity: z.number().min(0).max(1),
  /** With several slots: each chosen action's probability given the slots above (absent in older records). */
  slotPropensities: z.array(z.number().min(0).max(1)).optional(),
  attributionWindowSeconds: z.number().int().positive(),
  rewards: z.record(z.string(), z.number()),
  /** The decision point's objectives when decided (absent in records from before objectives existed). */
  objectives: z
    .array(
      z.object({
        name: z.string().min(1),
        events: z.record(z.string(), z.number()),
        stages: z.array(z.string()).optional(),
        stageValues: z.record(z.string(), z.number()).optional(),
        attributionWindowSeconds: z.number().int().positive(),
        weight: z.number(),
      }),
    )
    .default([]),
  /** The reward range and value policy when decided (F9); absent in older records. */
  rewardBounds: z.object({ min: z.number(), max: z.number() }).optional(),
  acceptEventValues: z.boolean().optional(),
});
export type LakeDecision = z.infer<typeof lakeDecisionSchema>;

export const lakeEventSchema = z.object({
  kind: z.literal('event'),
  event: z.object({
    eventId: z.string().min(1),
    userId: z.string().min(1),
    decisionId: z.string().min(1).optional(),
    decisionPoint: z.string().min(1).optional(),
    actionId: z.string().min(1).optional(),
    type: z.string().min(1),
    value: z.number().optional(),
    timestamp: z.string().optional(),
    stage: z.string().optional(),
  }),
  receivedAt: z.number().int().nonnegative(),
  /** The decision points the sender's key may use (F8); absent: all. */
  scope: z.array(z.string()).optional(),
});
export type LakeEvent = z.infer<typeof lakeEventSchema>;

export interface ParsedLakeObject {
  decisions: LakeDecision[];
  events: LakeEvent[];
  /** Lines that are not JSON or match neither schema (counted, never silently dropped from the report). */
  invalid: number;
}

/**
 * Parses every line of a lake object. Kinds are told apart by the `kind` field, so a reader given a mixed file
 * (an import, a test fixture) still gets each record where it belongs.
 */
export function parseLakeObject(bytes: Uint8Array): ParsedLakeObject {
  const out: ParsedLakeObject = { decisions: [], events: [], invalid: 0 };
  const text = decodeLakeObject(bytes);
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      out.invalid++;
      continue;
    }
    const kind = (json as { kind?: unknown } | null)?.kind;
    if (kind === 'decision') {
      const r = lakeDecisionSchema.safeParse(json);
      if (r.success) out.decisions.push(r.data);
      else out.invalid++;
    } else if (kind === 'event') {
      const r = lakeEventSchema.safeParse(json);
      if (r.success) out.events.push(r.data);
      else out.invalid++;
    } else out.invalid++;
  }
  return out;
}

/**
 * Writes raw stream records (JSON text, one per entry) into the lake: grouped by partition, one gzipped object per
 * partition named `<name>.jsonl.gz`. Deterministic names make a rewrite of the same batch replace, not duplicate,
 * its objects. Records that are not JSON or carry no time go under `lake-errors/` as they are: kept, never mixed in.
 */
export async function writeLakeBatch(
  blobs: { put(key: string, body: Uint8Array | string, contentType?: string): Promise<void> },
  lines: readonly string[],
  name: string,
): Promise<{ objects: number; records: number; errors: number }> {
  const groups = new Map<string, string[]>();
  const errors: string[] = [];
  for (const line of lines) {
    let time: number | undefined;
    let kind: unknown;
    try {
      const json = JSON.parse(line) as { kind?: unknown; at?: unknown; receivedAt?: unknown };
      kind = json?.kind;
      time = kind === 'decision' || kind === 'event' ? recordTime(json as { kind: string }) : undefined;
    } catch {
      time = undefined;
    }
    if (time === undefined) {
      errors.push(line);
      continue;
    }
    const prefix = lakePartition(kind as LakeKind, time);
    const list = groups.get(prefix) ?? [];
    list.push(line);
    groups.set(prefix, list);
  }
  for (const [prefix, group] of groups)
    await blobs.put(`${prefix}${name}.jsonl.gz`, encodeLakeObject(group), 'application/gzip');
  if (errors.length > 0) {
    const { dt } = utcDayHour(Date.now());
    await blobs.put(`${LAKE_ERRORS_PREFIX}dt=${dt}/${name}.jsonl.gz`, encodeLakeObject(errors), 'application/gzip');
  }
  return {
    objects: groups.size + (errors.length > 0 ? 1 : 0),
    records: lines.length - errors.length,
    errors: errors.length,
  };
}
