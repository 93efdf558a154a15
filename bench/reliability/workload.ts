/**
 * The replay harness's workload: a seeded stream of decision and feedback records as the APIs would put them on
 * Kinesis, salted with duplicates and poison, and, computed independently with the pure bandit core, the state the
 * updater must end in when it has applied every unique valid record exactly once.
 *
 * What Kinesis allows and what it does not: records are keyed by user id, so one user's records stay on one shard in
 * the order they were produced (a decision before the feedback that answers it); across users the order is shuffled.
 * A duplicate (producer retry: the same bytes; client retry: the same event id, received a little later) always
 * arrives after its original, on the same shard, sometimes in the same batch and sometimes many batches later.
 *
 * Exactness: contexts are categorical or small integers and rewards are integers, so every sum in the statistics is
 * an exactly representable integer and the comparison needs no tolerance, whatever order the updater applies in.
 */
import { type ActionStats, addObservation, addReward, emptyStats } from '../../shared/core/bandit/stats.ts';
import { bucketOf, DEFAULT_OBJECTIVE } from '../../shared/core/domain.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { createRng, type Rng } from '../../shared/core/random.ts';
import type { DecisionRecord, EventRecord } from '../../shared/core/schemas.ts';

export type PoisonKind = 'malformed-json' | 'wrong-types' | 'unknown-decision';

export interface WorkloadRecord {
  partitionKey: string;
  data: string;
  kind: 'decision' | 'event' | 'duplicate' | 'poison';
  poison?: PoisonKind;
}

export interface ExpectedAction {
  stats: ActionStats;
  rewardEvents: number;
  lateEvents: number;
}

export interface Workload {
  records: WorkloadRecord[];
  /** Keyed by {@link expectedKey}: what the statistics must hold, summed over writer partitions. */
  expected: Map<string, ExpectedAction>;
  decisionPoints: string[];
  counts: {
    total: number;
    uniqueDecisions: number;
    uniqueEvents: number;
    rewardEvents: number;
    lateEvents: number;
    ignoredEvents: number;
    duplicates: number;
    poison: Record<PoisonKind, number>;
  };
}

export interface WorkloadOptions {
  /** Records on the stream, duplicates and poison included. */
  events: number;
  seed?: number;
  duplicateShare?: number;
  poisonShare?: number;
  /** Encoded context dimension. */
  d?: number;
}

export const expectedKey = (decisionPoint: string, objective: string, actionId: string, bucket: number) =>
  `${decisionPoint}|${objective}|${actionId}|${bucket}`;

const DECISION_POINTS = ['replay-home', 'replay-cart'];
const ACTIONS = Array.from({ length: 8 }, (_, i) => `offer-${i}`);
const REWARDS = { click: 1, purchase: 5 };
const WINDOW_SECONDS = 3600;
const T0 = 1_700_000_000_000;
/** Decisions spread over three days, so statistics fall into several decision-day buckets. */
const SPAN_MS = 3 * 86_400_000;

interface Decided {
  record: DecisionRecord;
  data: string;
}

export function generateWorkload(opts: WorkloadOptions): Workload {
  const rng = createRng(opts.seed ?? 20261128);
  const d = opts.d ?? 8;
  const total = opts.events;
  const poisonCount = Math.round(total * (opts.poisonShare ?? 0.01));
  const duplicateCount = Math.round(total * (opts.duplicateShare ?? 0.2));
  const uniqueCount = total - poisonCount - duplicateCount;
  const users = Math.max(10, Math.round(uniqueCount / 8));
  const expected = new Map<string, ExpectedAction>();
  const counts: Workload['counts'] = {
    total,
    uniqueDecisions: 0,
    uniqueEvents: 0,
    rewardEvents: 0,
    lateEvents: 0,
    ignoredEvents: 0,
    duplicates: duplicateCount,
    poison: { 'malformed-json': 0, 'wrong-types': 0, 'unknown-decision': 0 },
  };
  const slot = (dp: string, actionId: string, at: number): ExpectedAction => {
    const key = expectedKey(dp, DEFAULT_OBJECTIVE, actionId, bucketOf(at));
    let e = expected.get(key);
    if (!e) {
      e = { stats: emptyStats(d), rewardEvents: 0, lateEvents: 0 };
      expected.set(key, e);
    }
    return e;
  };

  // Each record gets a position key; sorting by it interleaves users while keeping every user's own order.
  const keyed: { key: number; record: WorkloadRecord }[] = [];
  const unique: { key: number; record: WorkloadRecord; event?: EventRecord; decision?: Decided }[] = [];
  const byUser = new Map<string, Decided[]>();

  for (let i = 0; i < uniqueCount; i++) {
    const userId = `user-${rng.int(users)}`;
    const mine = byUser.get(userId) ?? [];
    if (mine.length === 0 || rng.next() < 0.45) {
      const dp = DECISION_POINTS[rng.int(DECISION_POINTS.length)]!;
      const context = randomContext(rng);
      const at = T0 + Math.floor((i / uniqueCount) * SPAN_MS) + rng.int(1000);
      const record: DecisionRecord = {
        kind: 'decision',
        v: 1,
        decisionId: `dec-${i}`,
        decisionPoint: dp,
        userId,
        at,
        context,
        x: Array.from(encodeFeatures(context, d)),
        candidates: ACTIONS,
        chosen: [ACTIONS[rng.int(ACTIONS.length)]!],
        chosenFeatures: [[1, 0]],
        propensity: 1 / ACTIONS.length,
        modelVersion: 'replay',
        attributionWindowSeconds: WINDOW_SECONDS,
        rewards: REWARDS,
        objectives: [],
        servedBy: 'default',
      };
      const data = JSON.stringify(record);
      mine.push({ record, data });
      byUser.set(userId, mine);
      const rec: WorkloadRecord = { partitionKey: userId, data, kind: 'decision' };
      unique.push({ key: i, record: rec, decision: { record, data } });
      counts.uniqueDecisions++;
      addObservation(slot(dp, record.chosen[0]!, at).stats, Float64Array.from(record.x), 0);
      continue;
    }
    // Feedback on one of the user's recent decisions.
    const decision = mine[mine.length - 1 - rng.int(Math.min(3, mine.length))]!.record;
    const late = rng.next() < 0.04;
    const receivedAt = late
      ? decision.at + WINDOW_SECONDS * 1000 + 1 + rng.int(3_600_000)
      : decision.at + rng.int(WINDOW_SECONDS * 1000 - 5000);
    const u = rng.next();
    const type = u < 0.6 ? 'click' : u < 0.75 ? 'purchase' : 'view';
    const event: EventRecord = {
      kind: 'event',
      v: 1,
      event: {
        eventId: `evt-${i}`,
        userId,
        decisionId: decision.decisionId,
        type,
        ...(type === 'purchase' && rng.next() < 0.5 ? { value: 2 + rng.int(19) } : {}),
      },
      receivedAt,
    };
    const rec: WorkloadRecord = { partitionKey: userId, data: JSON.stringify(event), kind: 'event' };
    unique.push({ key: i, record: rec, event });
    counts.uniqueEvents++;
    const target = slot(decision.decisionPoint, decision.chosen[0]!, decision.at);
    if (late) {
      counts.lateEvents++;
      target.lateEvents++;
    } else if (type === 'view') {
      counts.ignoredEvents++;
    } else {
      counts.rewardEvents++;
      target.rewardEvents++;
      addReward(target.stats, Float64Array.from(decision.x), event.event.value ?? REWARDS[type]);
    }
  }
  for (const u of unique) keyed.push({ key: u.key, record: u.record });

  // Duplicates arrive after their original on the same shard: mostly soon (same or next batch), some much later.
  const spread = Math.max(50, Math.round(uniqueCount * 0.05));
  for (let k = 0; k < duplicateCount; k++) {
    const original = unique[rng.int(unique.length)]!;
    const later = original.key + (rng.next() < 0.8 ? rng.next() * 200 : rng.next() * spread) + 1e-6;
    let data = original.record.data;
    if (original.event && rng.next() < 0.5) {
      // A client retry: the same event id accepted again a moment later (kept inside the window if it was).
      const e = original.event;
      const decision = byUser.get(e.event.userId)!.find((x) => x.record.decisionId === e.event.decisionId)!.record;
      const deadline = decision.at + WINDOW_SECONDS * 1000;
      const retriedAt = e.receivedAt <= deadline ? Math.min(deadline, e.receivedAt + rng.int(2000)) : e.receivedAt + 1;
      data = JSON.stringify({ ...e, receivedAt: retriedAt });
    }
    keyed.push({ key: later, record: { partitionKey: original.record.partitionKey, data, kind: 'duplicate' } });
  }

  // Poison: 1% of the stream, at random places, keyed like ordinary users' records.
  const kinds: PoisonKind[] = ['malformed-json', 'wrong-types', 'unknown-decision'];
  for (let k = 0; k < poisonCount; k++) {
    const poison = kinds[k % kinds.length]!;
    const userId = `user-${rng.int(users)}`;
    let data: string;
    if (poison === 'malformed-json') {
      data = `{"kind":"event","v":1,"event":{"eventId":"torn-${k}","userId":"${userId}"`;
    } else if (poison === 'wrong-types') {
      data =
        k % 2 === 0
          ? JSON.stringify({ kind: 'event', v: 1, event: { eventId: `bad-${k}`, userId, type: 42 }, receivedAt: T0 })
          : JSON.stringify({
              kind: 'decision',
              v: 1,
              decisionId: `bad-${k}`,
              decisionPoint: 'replay-home',
              userId,
              at: 'yesterday',
            });
    } else {
      data = JSON.stringify({
        kind: 'event',
        v: 1,
        event: { eventId: `orphan-${k}`, userId, decisionId: `no-such-decision-${k}`, type: 'click' },
        receivedAt: T0,
      } satisfies EventRecord);
    }
    counts.poison[poison]++;
    keyed.push({ key: rng.next() * uniqueCount, record: { partitionKey: userId, data, kind: 'poison', poison } });
  }

  keyed.sort((a, b) => a.key - b.key);
  return { records: keyed.map((k) => k.record), expected, decisionPoints: DECISION_POINTS, counts };
}

function randomContext(rng: Rng): Record<string, string | number | boolean> {
  return {
    segment: `seg-${rng.int(6)}`,
    device: rng.next() < 0.5 ? 'mobile' : 'desktop',
    visits: rng.int(21),
    ...(rng.next() < 0.3 ? { vip: true } : {}),
  };
}

/** The dead-letter reason each poison kind must be stored with. */
export const POISON_REASON: Record<PoisonKind, RegExp> = {
  'malformed-json': /^malformed record: not JSON$/,
  'wrong-types': /^malformed record: .*(event\.type|at)/,
  'unknown-decision': /^unknown decision no-such-decision-/,
};
