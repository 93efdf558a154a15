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
import type { DeadLetterStore, EventStream } from '../../core/ports.ts';
import { type deadLetterFilterSchema, streamRecordSchema } from '../../core/schemas.ts';

export type DeadLetterFilter = z.output<typeof deadLetterFilterSchema>;

/** How many entries a listing or a replay looks at, at most. */
const MAX_DEAD_LETTERS = 10_000;

function namesDecisionPoint(d: DeadLetter, decisionPoint: string): boolean {
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
        (filter.status === undefined || d.status === filter.status) &&
        (filter.code === undefined || d.code === filter.code) &&
        (filter.decisionPoint === undefined || namesDecisionPoint(d, filter.decisionPoint)),
    )
    .sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1))
    .slice(0, limit);
}

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
  const ready: { letter: DeadLetter; record: ReturnType<typeof streamRecordSchema.parse> }[] = [];
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
