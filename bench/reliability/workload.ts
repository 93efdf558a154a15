/**
 * The replay harness's workload: the feedback traffic of the property tests (`test/support/feedback-traffic.ts`) at
 * size, as the APIs put it on Kinesis (partition key = user id), and what the specification's reference
 * (`test/support/feedback-reference.ts`) says the updater must have learned from it. The traffic has every pattern
 * the README's clients produce: events without `decisionId`, client retries of an event after the user's next
 * decision, events that reach the stream before their decision, stage events out of order, producer duplicates and
 * poison.
 */
import { createRng } from '../../shared/core/random.ts';
import { type ReferenceResult, referenceFeedback } from '../../test/support/feedback-reference.ts';
import { generateTraffic, type Traffic } from '../../test/support/feedback-traffic.ts';

export interface WorkloadRecord {
  index: number;
  partitionKey: string;
  data: string;
}

export interface Workload {
  records: WorkloadRecord[];
  traffic: Traffic;
  reference: ReferenceResult;
  counts: {
    total: number;
    decisions: number;
    events: number;
    withoutDecisionId: number;
    clientRetries: number;
    counted: number;
    held: number;
    deadLetters: number;
  };
}

export function generateWorkload(opts: { events: number; seed?: number }): Workload {
  const rng = createRng(opts.seed ?? 42);
  const traffic = generateTraffic(rng, { records: opts.events, users: Math.max(4, Math.round(opts.events / 50)) });
  const reference = referenceFeedback(traffic.records);
  const seen = new Set<string>();
  let decisions = 0;
  let events = 0;
  let withoutDecisionId = 0;
  let clientRetries = 0;
  const records = traffic.records.map((data, index) => {
    let partitionKey = 'poison';
    try {
      const r = JSON.parse(data) as {
        kind?: string;
        userId?: string;
        event?: { userId?: string; eventId?: string; decisionId?: string };
      };
      partitionKey = r.userId ?? r.event?.userId ?? 'poison';
      if (r.kind === 'decision') decisions++;
      if (r.kind === 'event' && r.event) {
        events++;
        if (r.event.decisionId === undefined) withoutDecisionId++;
        const pair = `${r.event.userId}\u0000${r.event.eventId}`;
        if (seen.has(pair)) clientRetries++;
        seen.add(pair);
      }
    } catch {}
    return { index, partitionKey, data };
  });
  return {
    records,
    traffic,
    reference,
    counts: {
      total: records.length,
      decisions,
      events,
      withoutDecisionId,
      clientRetries,
      counted: reference.counted.size,
      held: reference.held.size,
      deadLetters: reference.dead.size,
    },
  };
}
