/**
 * The feedback API's core: validates each event on its own, puts the valid ones on the stream, and reports a result
 * per event. One bad event never blocks the others, and a rejected event changes nothing. A valid event's user id is
 * replaced by its pseudonym before it goes on the stream (core/privacy.ts): nothing downstream sees the raw id.
 *
 * What ingestion can check it checks (docs/ARCHITECTURE.md §3): an event naming a `decisionPoint` outside the key's
 * decision points is refused (F8), and so are a decision point that does not exist, a `value` that decision point
 * does not accept (F9) and a stage on none of its stage ladders (F6; for a key limited to some decision points, on
 * none of theirs). Every 202 says which checks come later (`later`). Every accepted record
 * carries the key's decision points (`scope`), so the updater refuses any join outside them, and checks the value
 * against the settings recorded with the decision, for events that name no decision point.
 */
import { refuseValue } from '../../core/feedback/reward.ts';
import type { EventStream } from '../../core/ports.ts';
import {
  type DecisionPointSettings,
  describeZodError,
  type EventRecord,
  feedbackEventSchema,
} from '../../core/schemas.ts';

export type EventResult =
  | { index: number; eventId: string; status: 'accepted' }
  | { index: number; eventId?: string; status: 'rejected'; error: string; code: 'invalid' | 'forbidden' }
  | { index: number; eventId: string; status: 'failed'; error: string };

export interface IngestDeps {
  stream: EventStream;
  /** The decision points the caller's key may use; undefined: all. */
  scope?: readonly string[] | undefined;
  /** A decision point's settings (cached by the caller), undefined when it does not exist. */
  settings: (decisionPoint: string) => Promise<DecisionPointSettings | undefined>;
  now?: () => number;
  /** Replaces a user id by its pseudonym (core/privacy.ts) before the record goes on the stream. */
  pseudonymise: (userId: string) => string;
}

export async function ingestEvents(
  events: readonly unknown[],
  deps: IngestDeps,
): Promise<{ accepted: number; rejected: number; failed: number; results: EventResult[]; later?: string }> {
  const receivedAt = (deps.now ?? Date.now)();
  const results: EventResult[] = [];
  const records: EventRecord[] = [];
  const positions: number[] = [];
  for (const [index, raw] of events.entries()) {
    const parsed = feedbackEventSchema.safeParse(raw);
    if (!parsed.success) {
      const eventId = (raw as { eventId?: unknown } | null)?.eventId;
      results.push({
        index,
        ...(typeof eventId === 'string' ? { eventId } : {}),
        status: 'rejected',
        code: 'invalid',
        error: describeZodError(parsed.error),
      });
      continue;
    }
    const e = parsed.data;
    const refused = await refuse(e, deps);
    if (refused) {
      results.push({ index, eventId: e.eventId, status: 'rejected', ...refused });
      continue;
    }
    results.push({ index, eventId: e.eventId, status: 'accepted' });
    positions.push(index);
    const event = { ...e, userId: deps.pseudonymise(e.userId) };
    records.push({ kind: 'event', v: 1, event, receivedAt, ...(deps.scope ? { scope: [...deps.scope] } : {}) });
  }
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
  return {
    accepted: count('accepted'),
    rejected: count('rejected'),
    failed: count('failed'),
    results,
    ...(count('accepted') > 0 && { later: LATER_CHECKS }),
  };
}

/** F8 and F9 where the event names its decision point; the updater checks the rest. */
async function refuse(
  e: EventRecord['event'],
  deps: IngestDeps,
): Promise<{ code: 'invalid' | 'forbidden'; error: string } | undefined> {
  const dp = e.decisionPoint;
  if (dp === undefined) {
    // A stage event of a key limited to some decision points: its stage must be on one of their ladders.
    if (e.type !== 'stage' || !deps.scope) return undefined;
    const all = await Promise.all(deps.scope.map((d) => deps.settings(d)));
    const known = all.some((s) => s?.objectives.some((o) => o.stages?.includes(e.stage!)));
    return known
      ? undefined
      : { code: 'invalid', error: `stage: "${e.stage}" is in no stage ladder of this API key's decision points` };
  }
  if (deps.scope && !deps.scope.includes(dp)) {
    return { code: 'forbidden', error: `decisionPoint: ${dp} is outside this API key's decision points` };
  }
  const settings = await deps.settings(dp);
  if (!settings) return { code: 'invalid', error: `decisionPoint: ${dp} does not exist` };
  if (e.type === 'stage') {
    const ladders = settings.objectives.filter((o) => o.stages !== undefined);
    if (!ladders.some((o) => o.stages!.includes(e.stage!))) {
      return {
        code: 'invalid',
        error:
          ladders.length === 0
            ? `stage: decision point ${dp} has no stage ladder (objectives[].stages), so no stage can be learned there`
            : `stage: "${e.stage}" is in no stage ladder of decision point ${dp} (${ladders.map((o) => `${o.name}: ${o.stages!.join(' → ')}`).join('; ')})`,
      };
    }
  }
  const why = refuseValue(settings, e.value);
  return why ? { code: 'invalid', error: `value: ${why.message} of decision point ${dp}` } : undefined;
}

/**
 * What happens to an accepted event after this answer, told with every 202: the checks that need the decision it
 * answers happen in the updater, and a refused event is a dead letter, not a silent loss.
 */
export const LATER_CHECKS =
  'the updater checks later that the event answers a decision of this user, in a decision point of this key, ' +
  'that chose its actionId, and that the decision accepts its value; a refused event becomes a dead letter ' +
  '(GET /v1/dead-letters; counted in GET /v1/decision-points/{dp}/model)';
