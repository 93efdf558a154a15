/**
 * Random feedback traffic as clients and the engine's own producers really send it, and a stream that delivers it
 * the way Kinesis and Lambda do, for the feedback property tests (and the replay benchmark at size).
 *
 * Traffic: decisions in several decision points (one with two objectives and a stage ladder); events with and
 * without `decisionId`, `timestamp`, `decisionPoint` and `actionId`; client retries of the same `eventId` after the
 * user's next decision; producer duplicates; decision records that reach the stream after events that answer them
 * (deferred decision logs); stage events out of order; events naming another user's decision, an action that was not
 * chosen or a decision that never comes; poison records.
 *
 * Stream: users are partitioned over shards by hash; optionally, from some point on, one shard's records go to a
 * child shard (a reshard), whose records are delivered after all of the parent's.
 *
 * Delivery: random batch cuts; failures injected in the stores (before or after the call takes effect); crashes (an
 * invocation stops at a random store call and never reports); racing updaters (a second invocation on the same or an
 * overlapping range at the same time); redelivery of ranges already processed. Each batch is retried from the
 * sequence number the updater reports, as Lambda does.
 */
import type { ApplyBatchDeps, BatchOutcome, StreamEntry } from '../../shared/app/learn/apply-batch.ts';
import { catalogVersion } from '../../shared/core/catalog/catalog-version.ts';
import { murmur3_32 } from '../../shared/core/features/encode.ts';
import type { Rng } from '../../shared/core/random.ts';
import type { DecisionRecord, EventRecord, FeedbackEvent } from '../../shared/core/schemas.ts';

/** Logged slot-1 propensities: the learning series weighs each decision by (1/K)/p. */
const PROPENSITIES = [0.25, 0.5, 0.1, 1, 0.8];

export const T0 = 1_700_000_000_000;
const D = 3;

const DECISION_POINTS = {
  // Default reward bounds [0, 5]; values accepted.
  shop: { rewards: { click: 1, purchase: 5 }, window: 60, objectives: [] as DecisionRecord['objectives'] },
  home: {
    rewards: {},
    window: 90,
    objectives: [
      { name: 'buy', events: { purchase: 50, click: 1 }, attributionWindowSeconds: 40, weight: 1 },
      {
        name: 'life',
        events: {},
        stages: ['prospect', 'lead', 'customer'],
        stageValues: { prospect: 0, lead: 5, customer: 40 },
        attributionWindowSeconds: 120,
        weight: 0.5,
      },
    ] as DecisionRecord['objectives'],
  },
  plain: { rewards: {}, window: 30, objectives: [] as DecisionRecord['objectives'] },
} as const;
/** Reward settings recorded with each decision (F9): explicit bounds for `home`, no client values for `plain`. */
const VALUE_SETTINGS: Record<
  keyof typeof DECISION_POINTS,
  Partial<Pick<DecisionRecord, 'rewardBounds' | 'acceptEventValues'>>
> = {
  shop: {},
  home: { rewardBounds: { min: -10, max: 60 } },
  plain: { acceptEventValues: false },
};
type Dp = keyof typeof DECISION_POINTS;
const DPS = Object.keys(DECISION_POINTS) as Dp[];
const ACTIONS = ['a0', 'a1', 'a2', 'a3'];
const TYPES = ['click', 'purchase', 'view', 'stage'];
/** Two catalog versions: the same actions in two orders are two versions (C1). */
const CATALOGS = [ACTIONS, [...ACTIONS].reverse()].map((ids) => ({ ids, version: catalogVersion(ids) }));

/** A reference as a decision container writes it: declaring its version until a declaring record was logged (C3). */
function catalogReference(rng: Rng, dp: string, chosen: readonly string[], declared: ReadonlySet<string>) {
  const c = CATALOGS[rng.int(CATALOGS.length)]!;
  const omitted = c.ids.filter((id) => !chosen.includes(id) && rng.next() < 0.3).slice(0, c.ids.length / 2);
  return {
    catalog: {
      version: c.version,
      ...((!declared.has(`${dp}|${c.version}`) || rng.next() < 0.3) && { ids: c.ids }),
      ...(omitted.length > 0 && { omitted }),
    },
    candidateCount: c.ids.length - omitted.length,
  };
}
const STAGES = ['prospect', 'lead', 'customer'];

export interface TrafficOptions {
  records: number;
  users: number;
  /** Share of decisions made by a decision job instead of the API (default 0): they never travel on the stream. */
  jobShare?: number;
}

/** The decision job of generated traffic (its id is a job id made at T0). */
export const TRAFFIC_JOB = `${T0.toString(36).padStart(8, '0')}tstjob`;
const JOB_ROWS_PER_CHUNK = 3;

export interface Traffic {
  /** Payloads in stream order (JSON strings). */
  records: string[];
  /** Indexes of events that name another user's decision (their dead-letter status depends on shard timing). */
  crossUser: Set<number>;
  users: string[];
  decisionPoints: string[];
  /** Decisions of the job (`TRAFFIC_JOB`), in the order they were made: chunk k holds rows 3k…3k+2. */
  jobDecisions: DecisionRecord[];
}

/** Random traffic in stream order. */
export function generateTraffic(rng: Rng, opts: TrafficOptions): Traffic {
  const users = Array.from({ length: opts.users }, (_, i) => `u${i}`);
  const records: string[] = [];
  const crossUser = new Set<number>();
  const decided = new Map<string, { id: string; dp: Dp; chosen: string[] }[]>();
  const deferred: { due: number; record: DecisionRecord }[] = [];
  const sentEvents: EventRecord[] = [];
  const crossEvents = new Set<string>();
  let now = T0;
  let nextDecision = 0;
  let nextEvent = 0;
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  const jobDecisions: DecisionRecord[] = [];
  /** `decisionPoint|version` of the catalog versions a record on the stream has declared. */
  const declared = new Set<string>();

  while (records.length < opts.records) {
    // Now and then an hour passes, so the learning series has several hours (docs/ARCHITECTURE.md §10).
    now += rng.next() < 0.01 ? 3_600_000 : rng.int(12_000);
    for (let i = deferred.length - 1; i >= 0; i--) {
      if (deferred[i]!.due <= records.length) {
        records.push(JSON.stringify(deferred[i]!.record));
        deferred.splice(i, 1);
      }
    }
    const u = pick(users);
    const roll = rng.next();
    if (roll < 0.34) {
      const dp = pick(DPS);
      const cfg = DECISION_POINTS[dp];
      const chosen = rng.next() < 0.25 ? [ACTIONS[rng.int(2)]!, ACTIONS[2 + rng.int(2)]!] : [pick(ACTIONS)];
      const byJob = rng.next() < (opts.jobShare ?? 0);
      const k = jobDecisions.length;
      const record: DecisionRecord = {
        kind: 'decision',
        v: 1,
        decisionId: byJob
          ? `j-${TRAFFIC_JOB}-${Math.floor(k / JOB_ROWS_PER_CHUNK).toString(36)}-${(k % JOB_ROWS_PER_CHUNK).toString(36)}`
          : `d${nextDecision++}`,
        decisionPoint: dp,
        userId: u,
        at: now,
        context: {},
        x: [1, rng.int(3), rng.int(2) - 1].slice(0, D),
        // Stream decisions name their candidates either way (core/catalog/catalog-version.ts, C2): a list, or a
        // catalog version less some actions, now and then declaring the version's ids (C3).
        ...(byJob || rng.next() < 0.5 ? { candidates: ACTIONS } : catalogReference(rng, dp, chosen, declared)),
        chosen,
        chosenFeatures: chosen.map(() => [1]),
        propensity: PROPENSITIES[rng.int(PROPENSITIES.length)]!,
        modelVersion: 'test',
        attributionWindowSeconds: cfg.window,
        rewards: cfg.rewards,
        objectives: cfg.objectives,
        ...VALUE_SETTINGS[dp],
        servedBy: 'default',
      };
      const list = decided.get(u) ?? [];
      list.push({ id: record.decisionId, dp, chosen });
      decided.set(u, list);
      // A job's decision: decided before its id is known to anyone, never on the stream (F2d).
      if (byJob) jobDecisions.push(record);
      // A deferred decision log: the record reaches the stream a few records later.
      else if (rng.next() < 0.1) deferred.push({ due: records.length + 1 + rng.int(4), record });
      else {
        records.push(JSON.stringify(record));
        if (record.catalog?.ids) declared.add(`${dp}|${record.catalog.version}`);
      }
      continue;
    }
    if (roll < 0.78) {
      const type = pick(TYPES);
      const mine = decided.get(u) ?? [];
      const event: FeedbackEvent = { eventId: `e${nextEvent++}`, userId: u, type };
      if (type === 'stage') event.stage = pick(STAGES);
      let cross = false;
      const which = rng.next();
      let named: { id: string; dp: Dp; chosen: string[] } | undefined;
      if (which < 0.45 && mine.length > 0) {
        named = rng.next() < 0.7 ? mine[mine.length - 1] : pick(mine);
        event.decisionId = named!.id;
      } else if (which < 0.5) {
        const others = users.filter((o) => o !== u && (decided.get(o)?.length ?? 0) > 0);
        if (others.length > 0) {
          event.decisionId = pick(decided.get(pick(others))!).id;
          cross = true;
        }
      } else if (which < 0.52) {
        event.decisionId = `never-${nextEvent}`;
      } else if (which < 0.53) {
        event.decisionId = `fallback-${nextEvent}`;
      } else if (which < 0.54 && opts.jobShare) {
        // An id of the job's form that the job never made.
        event.decisionId = `j-${TRAFFIC_JOB}-zz-${nextEvent.toString(36)}`;
      }
      if (rng.next() < 0.2) {
        const ref = named ?? mine[mine.length - 1];
        event.decisionPoint = ref && rng.next() < 0.8 ? ref.dp : pick(DPS);
      }
      if (rng.next() < 0.15) {
        const ref = named ?? mine[mine.length - 1];
        event.actionId = ref && rng.next() < 0.7 ? pick(ref.chosen) : pick(ACTIONS);
      }
      if (rng.next() < 0.3)
        event.timestamp = new Date(now - rng.int(40_000) + (rng.next() < 0.1 ? 60_000 : 0)).toISOString();
      if (type !== 'stage' && rng.next() < 0.15) event.value = rng.next() < 0.7 ? rng.int(7) - 1 : rng.int(200) - 50;
      const record: EventRecord = { kind: 'event', v: 1, event, receivedAt: now };
      // A key restricted to some decision points (F8).
      if (rng.next() < 0.15) record.scope = DPS.filter(() => rng.next() < 0.5);
      if (cross) {
        crossUser.add(records.length);
        crossEvents.add(event.eventId);
      }
      records.push(JSON.stringify(record));
      sentEvents.push(record);
      continue;
    }
    if (roll < 0.92 && sentEvents.length > 0) {
      // A client retry: the same event sent again later, often without the timestamp the first one had.
      const original = pick(sentEvents);
      const event = { ...original.event };
      if (rng.next() < 0.6) delete event.timestamp;
      if (crossEvents.has(event.eventId)) crossUser.add(records.length);
      const retry: EventRecord = { kind: 'event', v: 1, event, receivedAt: now };
      if (original.scope) retry.scope = original.scope;
      records.push(JSON.stringify(retry));
      continue;
    }
    if (roll < 0.97 && records.length > 0) {
      // A producer duplicate: the very same payload twice.
      const i = rng.int(records.length);
      if (crossUser.has(i)) crossUser.add(records.length);
      records.push(records[i]!);
      continue;
    }
    records.push(
      rng.next() < 0.5 ? '{"kind":"event","v":1,' : JSON.stringify({ kind: 'event', v: 1, event: { eventId: 'x' } }),
    );
  }
  for (const { record } of deferred) records.push(JSON.stringify(record));
  return { records, crossUser, users, decisionPoints: DPS, jobDecisions };
}

export interface ShardedRecord {
  index: number;
  shardId: string;
  seq: bigint;
  data: string;
}

/** The stream: users hashed over `shards` shards; with `reshardAt`, shard-0's later records go to its child. */
export function shardTraffic(
  traffic: Traffic,
  shards: number,
  reshardAt: number | undefined,
): { order: string[]; byShard: Map<string, ShardedRecord[]> } {
  const byShard = new Map<string, ShardedRecord[]>();
  const seqs = new Map<string, bigint>();
  traffic.records.forEach((data, index) => {
    let user = '';
    try {
      const r = JSON.parse(data) as { userId?: string; event?: { userId?: string } };
      user = r.userId ?? r.event?.userId ?? '';
    } catch {}
    let shardId = `shard-${(murmur3_32(user, 7) >>> 0) % shards}`;
    if (shardId === 'shard-0' && reshardAt !== undefined && index >= reshardAt) shardId = 'shard-child';
    // Sequence numbers are large and sparse, as Kinesis's are; a child shard's start anywhere.
    const seq = (seqs.get(shardId) ?? (shardId === 'shard-child' ? 7_000n : 49_000_000_000n)) + 1n + BigInt(index % 3);
    seqs.set(shardId, seq);
    const list = byShard.get(shardId) ?? [];
    list.push({ index, shardId, seq, data });
    byShard.set(shardId, list);
  });
  // Parents before children: Lambda finishes a parent shard before reading its children.
  const order = [...byShard.keys()].sort((a, b) =>
    a === 'shard-child' ? 1 : b === 'shard-child' ? -1 : a < b ? -1 : 1,
  );
  return { order, byShard };
}

export interface DeliveryOptions {
  maxBatch: number;
  /** Per store call: probability it fails before / after taking effect. */
  failBefore: number;
  failAfter: number;
  /** Per invocation: probability it crashes at a random store call. */
  crash: number;
  /** Per invocation: probability a second updater processes an overlapping range at the same time. */
  race: number;
  /** After a successful batch: probability the range is delivered again. */
  redeliver: number;
}

export interface DeliveryCounts {
  invocations: number;
  partialFailures: number;
  crashes: number;
  races: number;
  redeliveries: number;
  injectedFailures: number;
}

type Apply = (entries: readonly StreamEntry[], deps: ApplyBatchDeps) => Promise<BatchOutcome>;

/** Stores whose calls fail, or hang (a crash), as the plan says; invocations draw from the same seeded rng. */
function faulty(
  deps: ApplyBatchDeps,
  rng: Rng,
  opts: DeliveryOptions,
  counts: DeliveryCounts,
  crashAt: number | undefined,
): ApplyBatchDeps {
  let calls = 0;
  const wrap = <T extends object>(store: T): T =>
    new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          calls++;
          if (crashAt !== undefined && calls >= crashAt) return new Promise(() => {});
          if (rng.next() < opts.failBefore) {
            counts.injectedFailures++;
            throw new Error('injected: failed before taking effect');
          }
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (rng.next() < opts.failAfter) {
            counts.injectedFailures++;
            throw new Error('injected: took effect, response lost');
          }
          return result;
        };
      },
    });
  return { ...deps, state: wrap(deps.state), decisions: wrap(deps.decisions), deadLetters: wrap(deps.deadLetters) };
}

/** Delivers every shard's records to `apply` until all are committed, with the faults of `opts`. */
export async function deliver(
  stream: { order: string[]; byShard: Map<string, ShardedRecord[]> },
  apply: Apply,
  deps: ApplyBatchDeps,
  rng: Rng,
  opts: DeliveryOptions,
): Promise<DeliveryCounts> {
  const counts: DeliveryCounts = {
    invocations: 0,
    partialFailures: 0,
    crashes: 0,
    races: 0,
    redeliveries: 0,
    injectedFailures: 0,
  };
  const toEntry = (r: ShardedRecord): StreamEntry => ({
    shardId: r.shardId,
    sequenceNumber: r.seq.toString(),
    arrivalMs: T0,
    data: r.data,
  });
  for (const shardId of stream.order) {
    const records = stream.byShard.get(shardId)!;
    let from = 0;
    let attempts = 0;
    while (from < records.length) {
      attempts++;
      // A stuck batch would mean the updater cannot make progress: stop injecting faults after many tries.
      const calm = attempts > 200;
      const plan = calm ? { ...opts, failBefore: 0, failAfter: 0, crash: 0, race: 0 } : opts;
      const size = 1 + rng.int(opts.maxBatch);
      const batch = records.slice(from, from + size).map(toEntry);
      counts.invocations++;
      if (rng.next() < plan.crash) {
        counts.crashes++;
        // The invocation dies at some store call; what it wrote stays written; Lambda retries the whole batch.
        void apply(batch, faulty(deps, rng, plan, counts, 1 + rng.int(12)));
        await new Promise((r) => setImmediate(r));
        continue;
      }
      let racing: Promise<unknown> | undefined;
      if (rng.next() < plan.race) {
        counts.races++;
        const start = Math.max(0, from - rng.int(3));
        const zombie = records.slice(start, start + 1 + rng.int(opts.maxBatch)).map(toEntry);
        racing = apply(zombie, faulty(deps, rng, plan, counts, undefined)).catch(() => undefined);
      }
      const outcome = await apply(batch, faulty(deps, rng, plan, counts, undefined));
      await racing;
      if (outcome.failedFrom !== undefined) {
        counts.partialFailures++;
        const at = records.findIndex((r) => r.seq.toString() === outcome.failedFrom);
        if (at < from) throw new Error(`failedFrom ${outcome.failedFrom} is not in the batch`);
        from = at;
        continue;
      }
      from += batch.length;
      attempts = 0;
      if (from < records.length && rng.next() < plan.redeliver) {
        counts.redeliveries++;
        from = Math.max(0, from - 1 - rng.int(opts.maxBatch));
      }
    }
  }
  return counts;
}
