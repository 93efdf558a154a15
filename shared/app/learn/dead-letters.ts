/**
 * Dead letters are recoverable: list them by decision point, rule and status, and replay the ones whose cause is
 * gone (a decision that finally arrived, a fixed catalog, a corrected client). Replaying puts the stored record back
 * on the stream as it was; the updater then applies the same rules to it as to any record (docs/ARCHITECTURE.md
 * §3), so a replay can never count anything twice: a decision already created is a duplicate (F1), an event whose
 * (userId, eventId) already counted is a duplicate (F3). A replayed entry is marked `replayed`, so a second replay
 * skips it; if the record is refused again, it comes back as a new dead letter with the reason.
 */

import type { z } from 'zod';
import type { DeadLetter } from '../../core/domain.ts';
import type { DeadLetterStore, EventStream, StreamRangeReader } from '../../core/ports.ts';
import { type deadLetterFilterSchema, type StreamRecord, streamRecordSchema } from '../../core/schemas.ts';

export type DeadLetterFilter = z.output<typeof deadLetterFilterSchema>;

/** How many entries a listing or a replay looks at, at most. */
const MAX_DEAD_LETTERS = 10_000;

function namesDecisionPoint(d: DeadLetter, decisionPoint: string): boolean {
  if (d.decisionPoint !== undefined) return d.decisionPoint === decisionPoint;
  try {
    const r = JSON.parse(d.data) as { decisionPoint?: unknown; event?: { decisionPoint?: unknown } };
    return r.decisionPoint === decisionPoint || r.event?.decisionPoint === decisionPoint;
  } catch {
    return false;
  }
}

export async function listDeadLetters(store: DeadLetterStore, filter: DeadLetterFilter): Promise<DeadLetter[]> {
  const limit = Math.min(MAX_DEAD_LETTERS, filter.limit ?? 100);
  const all = await store.list(MAX_DEAD_LETTERS);
  return all
    .filter(
      (d) =>
        // Tombstones of held events that were applied are listed only when asked for.
        (filter.status === undefined ? d.status !== 'applied' : d.status === filter.status) &&
        (filter.code === undefined || d.code === filter.code) &&
        (filter.decisionPoint === undefined || namesDecisionPoint(d, filter.decisionPoint)),
    )
    .sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1))
    .slice(0, limit);
}

/** Records a replay of a stream range puts back at most (Lambda's on-failure batches are at most 10,000). */
export const MAX_RANGE_RECORDS = 10_000;

export interface ReplayResult {
  replayed: number;
  skipped: { id: string; why: string }[];
}

/**
 * Puts the matching dead letters (status `dead` unless the filter says otherwise) back on the stream, in the order
 * they were refused, and marks them replayed.
 */
export async function replayDeadLetters(
  deps: { deadLetters: DeadLetterStore; stream: EventStream; now?: () => number },
  filter: DeadLetterFilter,
): Promise<ReplayResult> {
  const now = deps.now ?? Date.now;
  const selected = await listDeadLetters(deps.deadLetters, { status: 'dead', ...filter });
  const skipped: ReplayResult['skipped'] = [];
  const ready: { letter: DeadLetter; record: StreamRecord }[] = [];
  for (const letter of selected) {
    if (letter.status === 'replayed') {
      skipped.push({ id: letter.id, why: 'already replayed' });
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(letter.data);
    } catch {
      skipped.push({ id: letter.id, why: 'not a record (not JSON, or cut at 64 KB when stored)' });
      continue;
    }
    const parsed = streamRecordSchema.safeParse(json);
    if (!parsed.success) {
      skipped.push({ id: letter.id, why: 'not a valid record: replaying it would only refuse it again' });
      continue;
    }
    ready.push({ letter, record: parsed.data });
  }
  if (ready.length === 0) return { replayed: 0, skipped };
  const failed = new Set(await deps.stream.put(ready.map((r) => r.record)));
  const done = ready.filter((_, i) => !failed.has(i));
  for (const i of failed) skipped.push({ id: ready[i]!.letter.id, why: 'the stream refused it; try again' });
  // Marked after the put: a crash in between replays it again, which the rules make harmless.
  if (done.length > 0) {
    await deps.deadLetters.put(done.map((r) => ({ ...r.letter, status: 'replayed' as const, replayedAt: now() })));
  }
  return { replayed: done.length, skipped };
}

/**
 * Puts a range of one shard back on the stream: the batch the updater's event source mapping gave up on (its
 * on-failure destination, an SQS queue, names the shard and the first and last sequence numbers). The records keep
 * their content, so the rules count each at most once; records that are not valid are skipped (the updater had
 * dead-lettered them anyway).
 */
export async function replayStreamRange(
  deps: { reader: StreamRangeReader; stream: EventStream },
  range: { shardId: string; from: string; to: string },
): Promise<ReplayResult> {
  const skipped: ReplayResult['skipped'] = [];
  const records: StreamRecord[] = [];
  const payloads = await deps.reader.read(range, MAX_RANGE_RECORDS);
  payloads.forEach((data, i) => {
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      skipped.push({ id: `${range.shardId}/+${i}`, why: 'not JSON' });
      return;
    }
    const parsed = streamRecordSchema.safeParse(json);
    if (parsed.success) records.push(parsed.data);
    else skipped.push({ id: `${range.shardId}/+${i}`, why: 'not a valid record' });
  });
  const failed = records.length === 0 ? [] : await deps.stream.put(records);
  for (const i of failed) skipped.push({ id: `${range.shardId}/+${i}`, why: 'the stream refused it; try again' });
  return { replayed: records.length - failed.length, skipped };
}

/** Dead letters of a decision point by status and rule: what its model did not learn, and why (the model summary). */
export interface DeadLetterCounts {
  /** Refused records by rule (`code`), replayable once their cause is gone. */
  dead: Record<string, number>;
  /** Events waiting for their decision's record. */
  held: number;
  /** False when more entries exist than one look covers (the counts are then lower bounds). */
  complete: boolean;
}

export async function countDeadLetters(store: DeadLetterStore, decisionPoint: string): Promise<DeadLetterCounts> {
  const all = await store.list(MAX_DEAD_LETTERS + 1);
  const out: DeadLetterCounts = { dead: {}, held: 0, complete: all.length <= MAX_DEAD_LETTERS };
  for (const d of all.slice(0, MAX_DEAD_LETTERS)) {
    if (!namesDecisionPoint(d, decisionPoint)) continue;
    if (d.status === 'held') out.held++;
    else if (d.status === 'dead') out.dead[d.code] = (out.dead[d.code] ?? 0) + 1;
  }
  return out;
}
