/**
 * The feedback API's core: validates each event on its own, puts the valid ones on the stream, and reports a result
 * per event. One bad event never blocks the others, and a rejected event changes nothing. A valid event's user id is
 * replaced by its pseudonym before it goes on the stream (core/privacy.ts): nothing downstream sees the raw id.
 */
import type { EventStream } from '../../core/ports.ts';
import { describeZodError, type EventRecord, feedbackEventSchema } from '../../core/schemas.ts';

export type EventResult =
  | { index: number; eventId: string; status: 'accepted' }
  | { index: number; eventId?: string; status: 'rejected'; error: string }
  | { index: number; eventId: string; status: 'failed'; error: string };

export async function ingestEvents(
  events: readonly unknown[],
  deps: { stream: EventStream; now?: () => number; pseudonymise: (userId: string) => string },
): Promise<{ accepted: number; rejected: number; failed: number; results: EventResult[] }> {
  const receivedAt = (deps.now ?? Date.now)();
  const results: EventResult[] = [];
  const records: EventRecord[] = [];
  const positions: number[] = [];
  events.forEach((raw, index) => {
    const parsed = feedbackEventSchema.safeParse(raw);
    if (!parsed.success) {
      const eventId = (raw as { eventId?: unknown } | null)?.eventId;
      results.push({
        index,
        ...(typeof eventId === 'string' ? { eventId } : {}),
        status: 'rejected',
        error: describeZodError(parsed.error),
      });
      return;
    }
    results.push({ index, eventId: parsed.data.eventId, status: 'accepted' });
    positions.push(index);
    const event = { ...parsed.data, userId: deps.pseudonymise(parsed.data.userId) };
    records.push({ kind: 'event', v: 1, event, receivedAt });
  });
  let failedIdx: number[] = [];
  if (records.length > 0) {
    try {
      failedIdx = await deps.stream.put(records);
    } catch {
      failedIdx = records.map((_, i) => i);
    }
  }
  for (const i of failedIdx) {
    const index = positions[i]!;
    results[index] = {
      index,
      eventId: records[i]!.event.eventId,
      status: 'failed',
      error: 'the event stream is unavailable; retry this event (same eventId is safe)',
    };
  }
  const count = (s: EventResult['status']) => results.filter((r) => r.status === s).length;
  return { accepted: count('accepted'), rejected: count('rejected'), failed: count('failed'), results };
}
