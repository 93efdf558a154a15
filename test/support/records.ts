/** Builders for stream records and entries, as the decision and events APIs would put them on the stream. */
import type { StreamEntry } from '../../shared/app/learn/apply-batch.ts';
import type { ActionStats } from '../../shared/core/bandit/stats.ts';
import { DEFAULT_OBJECTIVE, type StatsItem } from '../../shared/core/domain.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import type { EventStream } from '../../shared/core/ports.ts';
import type { DecisionRecord, EventRecord, FeedbackEvent } from '../../shared/core/schemas.ts';

export function decisionRecord(p: {
  decisionId: string;
  userId: string;
  chosen: string;
  context?: Record<string, number | string | boolean>;
  at?: number;
  decisionPoint?: string;
  d?: number;
  windowSeconds?: number;
  rewards?: Record<string, number>;
  objectives?: DecisionRecord['objectives'];
}): DecisionRecord {
  const context = p.context ?? {};
  return {
    kind: 'decision',
    v: 1,
    decisionId: p.decisionId,
    decisionPoint: p.decisionPoint ?? 'dp',
    userId: p.userId,
    at: p.at ?? 1_700_000_000_000,
    context,
    x: Array.from(encodeFeatures(context, p.d ?? 4)),
    candidates: [p.chosen],
    chosen: [p.chosen],
    chosenFeatures: [[1]],
    propensity: 0.5,
    modelVersion: 'test',
    attributionWindowSeconds: p.windowSeconds ?? 3600,
    rewards: p.rewards ?? {},
    objectives: p.objectives ?? [],
    servedBy: 'default',
  };
}

export function eventRecord(event: FeedbackEvent, receivedAt = 1_700_000_001_000): EventRecord {
  return { kind: 'event', v: 1, event, receivedAt };
}

/** Wraps payloads as entries of one shard with increasing sequence numbers starting at `firstSeq`. */
export function entries(shardId: string, payloads: readonly unknown[], firstSeq = 1000n): StreamEntry[] {
  return payloads.map((p, i) => ({
    shardId,
    sequenceNumber: (firstSeq + BigInt(i)).toString(),
    arrivalMs: 1_700_000_001_000,
    data: typeof p === 'string' ? p : JSON.stringify(p),
  }));
}

/** A decision log that keeps what `decide` writes: `records` holds every decision record put on `stream`. */
export function recordingStream(): { stream: EventStream; records: DecisionRecord[] } {
  const records: DecisionRecord[] = [];
  return {
    records,
    stream: {
      put: async (rs) => {
        for (const r of rs) if (r.kind === 'decision') records.push(r);
        return [];
      },
    },
  };
}

/** A statistics item as the updater would have left it: one partition, version 1, written and learned at `at`. */
export function statsItemOf(p: {
  decisionPoint?: string;
  objective?: string;
  actionId: string;
  bucket: number;
  stats: ActionStats;
  at: number;
}): StatsItem {
  return {
    decisionPoint: p.decisionPoint ?? 'dp',
    objective: p.objective ?? DEFAULT_OBJECTIVE,
    actionId: p.actionId,
    bucket: p.bucket,
    partition: 0,
    slot: 1,
    stats: p.stats,
    counters: { rewardEvents: 0, lateEvents: 0 },
    highWaterMarks: {},
    version: 1,
    updatedAt: p.at,
    lastLearnedAt: p.at,
  };
}
