/**
 * Where feedback is applied: one batch of stream records (all from one Kinesis shard, in sequence order) becomes
 * updates of the per-action bandit statistics, exactly once per decision and per event.
 *
 * Exactly once, without transactions (DynamoDB emulators have none, and the real limits would cap batch size):
 * 1. Each record has a claim `shardId/sequenceNumber`. A decision entry in the join index stores the claim of the record
 *    that created it, and an event id stores the claim of the first record that carried it (if_not_exists). A record
 *    counts only if the stored claim is its own, so duplicates (client retries, producer retries) count once, and a
 *    redelivered record still recognises itself after a crash.
 * 2. Each statistics item stores, per shard, the highest sequence number already included (its high-water mark), in
 *    the same conditional write as the statistics. Contributions at or below it are skipped, so overlapping
 *    redelivered batches change nothing twice; the write is conditional on the item version, so two updaters racing
 *    on one item lose no update (the loser re-reads and re-applies).
 * 3. If anything fails, the batch reports the lowest sequence number whose effects are not all committed; Lambda (or
 *    the local poller) redelivers from there, and steps 1–2 make the overlap harmless.
 * Writes scale with the actions and decisions touched, not with the events: contributions are summed per item.
 */
import { type ActionStats, addObservation, addReward, emptyStats } from '../../core/bandit/stats.ts';
import {
  bucketOf,
  DEFAULT_OBJECTIVE,
  type DeadLetter,
  INTENT_ACTION,
  intentObjective,
  type StatsItem,
  type StatsKey,
  type StoredDecision,
} from '../../core/domain.ts';
import { VersionConflictError } from '../../core/errors.ts';
import { murmur3_32 } from '../../core/features/encode.ts';
import { eventTime, rewardsForEvent, type StageMove } from '../../core/feedback/reward.ts';
import type { DeadLetterStore, DecisionStore, StateStore } from '../../core/ports.ts';
import { type DecisionRecord, describeZodError, type EventRecord, streamRecordSchema } from '../../core/schemas.ts';
import { settleLimit } from '../concurrency.ts';

export interface StreamEntry {
  shardId: string;
  sequenceNumber: string;
  /** When Kinesis received the record (ms since the epoch). */
  arrivalMs: number;
  /** The record's payload, decoded from base64 to UTF-8. */
  data: string;
}

export interface BatchOutcome {
  /** Sequence number to redeliver from, when not everything was committed. */
  failedFrom: string | undefined;
  decisions: number;
  duplicateDecisions: number;
  rewards: number;
  ignoredEvents: number;
  duplicateEvents: number;
  lateEvents: number;
  /** Stage events that moved a user's stage. */
  stageChanges: number;
  /** Stage events with no decision to reward (the stage still moved). */
  unattributedEvents: number;
  deadLettered: number;
  statsWrites: number;
  /** Contributions skipped because the item already included them (redelivery). */
  alreadyApplied: number;
  /** Statistics writes that lost an optimistic-concurrency race and were re-applied. */
  conflictRetries: number;
}

export interface ApplyBatchDeps {
  state: StateStore;
  decisions: DecisionStore;
  deadLetters: DeadLetterStore;
  /** Number of writer partitions per action (spreads a hot action's writes over that many items). */
  statsPartitions: number;
  now?: () => number;
  /** Maximum optimistic-concurrency retries per statistics item before the batch reports a failure. */
  maxConflictRetries?: number;
}

type Contribution =
  | { seq: bigint; kind: 'impression'; x: number[] }
  | { seq: bigint; kind: 'reward'; x: number[]; reward: number }
  | { seq: bigint; kind: 'late' };

interface Pending {
  key: StatsKey;
  contributions: Contribution[];
}

const CONCURRENCY = 16;

/** An outcome with every count at zero (also the starting point of callers that sum outcomes). */
export function emptyOutcome(): BatchOutcome {
  return {
    failedFrom: undefined,
    decisions: 0,
    duplicateDecisions: 0,
    rewards: 0,
    ignoredEvents: 0,
    duplicateEvents: 0,
    lateEvents: 0,
    stageChanges: 0,
    unattributedEvents: 0,
    deadLettered: 0,
    statsWrites: 0,
    alreadyApplied: 0,
    conflictRetries: 0,
  };
}

export async function applyBatch(entries: readonly StreamEntry[], deps: ApplyBatchDeps): Promise<BatchOutcome> {
  const now = deps.now ?? Date.now;
  const outcome = emptyOutcome();
  let lowestFailure: bigint | undefined;
  const fail = (seq: bigint) => {
    if (lowestFailure === undefined || seq < lowestFailure) lowestFailure = seq;
  };

  // 1. Parse. Poison records go to the dead-letter store with their reason and do not block the shard.
  const deadLetters: DeadLetter[] = [];
  const decisionRecords: { entry: StreamEntry; record: DecisionRecord }[] = [];
  const eventRecords: { entry: StreamEntry; record: EventRecord }[] = [];
  for (const entry of entries) {
    let json: unknown;
    try {
      json = JSON.parse(entry.data);
    } catch {
      deadLetters.push(dead(entry, 'malformed record: not JSON', now()));
      continue;
    }
    const parsed = streamRecordSchema.safeParse(json);
    if (!parsed.success) {
      deadLetters.push(dead(entry, `malformed record: ${describeZodError(parsed.error)}`, now()));
      continue;
    }
    if (parsed.data.kind === 'decision') decisionRecords.push({ entry, record: parsed.data });
    else eventRecords.push({ entry, record: parsed.data });
  }

  const partitionOf = (shardId: string) => (murmur3_32(shardId, 0) >>> 0) % Math.max(1, deps.statsPartitions);
  const pending = new Map<string, Pending>();
  const contribute = (
    dp: string,
    objective: string,
    actionId: string,
    decisionAt: number,
    shardId: string,
    c: Contribution,
  ) => {
    const key: StatsKey = {
      decisionPoint: dp,
      objective,
      actionId,
      bucket: bucketOf(decisionAt),
      partition: partitionOf(shardId),
    };
    const id = `${dp}\u0000${objective}\u0000${actionId}\u0000${key.bucket}\u0000${key.partition}`;
    let p = pending.get(id);
    if (!p) {
      p = { key, contributions: [] };
      pending.set(id, p);
    }
    p.contributions.push(c);
  };

  // 2. Decisions: claim the join-index entry; only the creating record counts the impressions.
  const known = new Map<string, StoredDecision>();
  // Decisions of this batch whose entry could not be written: their events must wait for the redelivery, not be
  // mistaken for events of an unknown decision.
  const unsettled = new Set<string>();
  const batchLatest = new Map<string, DecisionRecord>();
  for (const { record } of decisionRecords) {
    const seen = batchLatest.get(record.userId);
    if (!seen || seen.at <= record.at) batchLatest.set(record.userId, record);
  }
  const decisionsByUser = new Map<string, { seq: bigint; record: DecisionRecord }[]>();
  for (const { entry, record } of decisionRecords) {
    const list = decisionsByUser.get(record.userId) ?? [];
    list.push({ seq: BigInt(entry.sequenceNumber), record });
    decisionsByUser.set(record.userId, list);
  }
  /** The user's latest decision among this batch's records that come before `seq` (an event answers the past). */
  const latestBefore = (userId: string, seq: bigint): string | undefined => {
    let best: DecisionRecord | undefined;
    for (const d of decisionsByUser.get(userId) ?? []) {
      if (d.seq < seq && (!best || best.at <= d.record.at)) best = d.record;
    }
    return best?.decisionId;
  };
  const claimed = await settleLimit(decisionRecords, CONCURRENCY, async ({ entry, record }) => {
    const stored = await deps.decisions.claimDecision(toStored(record, claimOf(entry)));
    // Only a user's latest decision in the batch can become their latest overall: one pointer write per user.
    if (batchLatest.get(record.userId) === record) {
      await deps.decisions.setLatestDecision(record.userId, record.decisionId, record.at);
    }
    return stored;
  });
  claimed.forEach((result, i) => {
    const { entry, record } = decisionRecords[i]!;
    const seq = BigInt(entry.sequenceNumber);
    if (result.status === 'rejected') {
      unsettled.add(record.decisionId);
      fail(seq);
      return;
    }
    known.set(record.decisionId, result.value);
    if (result.value.claim !== claimOf(entry)) {
      outcome.duplicateDecisions++;
      return;
    }
    outcome.decisions++;
    const impression: Contribution = { seq, kind: 'impression', x: record.x };
    for (const actionId of record.chosen) {
      // Every bandit of the decision point learns the impression: the global one and one per objective.
      contribute(record.decisionPoint, DEFAULT_OBJECTIVE, actionId, record.at, entry.shardId, impression);
      for (const o of record.objectives)
        contribute(record.decisionPoint, o.name, actionId, record.at, entry.shardId, impression);
    }
    // Intent models learn per decision (the user's outcome), not per action.
    for (const o of record.objectives) {
      contribute(record.decisionPoint, intentObjective(o.name), INTENT_ACTION, record.at, entry.shardId, impression);
    }
  });

  // 3. Events: find the decision each answers (by id, else the user's latest), then claim the event ids.
  const needIds = new Set<string>();
  const needUsers = new Set<string>();
  for (const { record } of eventRecords) {
    if (record.event.decisionId) {
      if (!known.has(record.event.decisionId)) needIds.add(record.event.decisionId);
    } else needUsers.add(record.event.userId);
  }
  let latestByUser = new Map<string, string>();
  try {
    latestByUser = await deps.decisions.getLatestDecisions([...needUsers]);
    for (const id of latestByUser.values()) if (!known.has(id)) needIds.add(id);
    for (const [id, d] of await deps.decisions.getDecisions([...needIds])) known.set(id, d);
  } catch {
    for (const { entry } of eventRecords) fail(BigInt(entry.sequenceNumber));
    eventRecords.length = 0;
  }

  interface Joined {
    entry: StreamEntry;
    record: EventRecord;
    decision: StoredDecision | undefined;
    move?: StageMove;
  }
  const joined: Joined[] = [];
  for (const { entry, record } of eventRecords) {
    const e = record.event;
    const decisionId =
      e.decisionId ?? latestBefore(e.userId, BigInt(entry.sequenceNumber)) ?? latestByUser.get(e.userId);
    if (decisionId !== undefined && unsettled.has(decisionId)) {
      fail(BigInt(entry.sequenceNumber));
      continue;
    }
    let decision = decisionId === undefined ? undefined : known.get(decisionId);
    // The stored pointer may already name a decision made after this event (written by this very batch, or by an
    // earlier attempt of it): an event never answers a later decision.
    if (decision && !e.decisionId && decision.at > eventTime(e, record.receivedAt)) decision = undefined;
    if (!decision) {
      // A stage change still moves the user without a decision to reward; any other event is unattributable.
      if (e.type === 'stage' && !e.decisionId) {
        joined.push({ entry, record, decision: undefined });
        continue;
      }
      deadLetters.push(
        dead(
          entry,
          e.decisionId ? `unknown decision ${e.decisionId}` : `no decision found for user of event ${e.eventId}`,
          now(),
        ),
      );
      continue;
    }
    if (decision.userId !== e.userId) {
      deadLetters.push(dead(entry, `event ${e.eventId}: userId does not match decision ${decision.decisionId}`, now()));
      continue;
    }
    if (e.actionId !== undefined && !decision.chosen.includes(e.actionId)) {
      deadLetters.push(
        dead(
          entry,
          `event ${e.eventId}: action ${e.actionId} was not chosen in decision ${decision.decisionId}`,
          now(),
        ),
      );
      continue;
    }
    joined.push({ entry, record, decision });
  }

  // Stage changes move the user's stage in event-time order, one user at a time in stream order.
  const stageByUser = new Map<string, Joined[]>();
  for (const j of joined) {
    if (j.record.event.type !== 'stage') continue;
    const list = stageByUser.get(j.record.event.userId) ?? [];
    list.push(j);
    stageByUser.set(j.record.event.userId, list);
  }
  const blocked = new Set<Joined>();
  await settleLimit([...stageByUser.values()], CONCURRENCY, async (list) => {
    for (const j of list) {
      try {
        const e = j.record.event;
        const moved = await deps.decisions.moveStage(
          e.userId,
          e.stage!,
          eventTime(e, j.record.receivedAt),
          claimOf(j.entry),
        );
        if (moved.moved) {
          j.move = { from: moved.previous, to: e.stage! };
          outcome.stageChanges++;
        }
      } catch {
        fail(BigInt(j.entry.sequenceNumber));
        blocked.add(j);
      }
    }
  });

  const byDecision = new Map<string, Joined[]>();
  for (const j of joined) {
    if (blocked.has(j)) continue;
    if (!j.decision) {
      outcome.unattributedEvents++;
      continue;
    }
    const list = byDecision.get(j.decision.decisionId) ?? [];
    list.push(j);
    byDecision.set(j.decision.decisionId, list);
  }

  const decisionIds = [...byDecision.keys()];
  const claims = await settleLimit(decisionIds, CONCURRENCY, (decisionId) => {
    const want = new Map<string, string>();
    // Within a batch the first record carrying an event id is the one that may claim it.
    for (const { entry, record } of byDecision.get(decisionId)!) {
      if (!want.has(record.event.eventId)) want.set(record.event.eventId, claimOf(entry));
    }
    return deps.decisions.claimEvents(decisionId, want);
  });
  /** Per decision: objective → the first canonical event that reached it (the intent models count it once). */
  const reaching = new Map<string, Map<string, Joined>>();
  claims.forEach((result, i) => {
    const decisionId = decisionIds[i]!;
    const items = byDecision.get(decisionId)!;
    if (result.status === 'rejected') {
      for (const { entry } of items) fail(BigInt(entry.sequenceNumber));
      return;
    }
    const decision = known.get(decisionId)!;
    for (const j of items) {
      const { entry, record } = j;
      const seq = BigInt(entry.sequenceNumber);
      if (result.value.get(record.event.eventId) !== claimOf(entry)) {
        outcome.duplicateEvents++;
        continue;
      }
      const actionId = record.event.actionId ?? decision.chosen[0]!;
      const at = eventTime(record.event, record.receivedAt);
      const r = rewardsForEvent(decision, record.event, at, j.move);
      if (r.late) {
        outcome.lateEvents++;
        contribute(decision.decisionPoint, DEFAULT_OBJECTIVE, actionId, decision.at, entry.shardId, {
          seq,
          kind: 'late',
        });
        continue;
      }
      if (r.global === undefined && r.perObjective.size === 0) {
        outcome.ignoredEvents++;
        continue;
      }
      outcome.rewards++;
      if (r.global !== undefined) {
        contribute(decision.decisionPoint, DEFAULT_OBJECTIVE, actionId, decision.at, entry.shardId, {
          seq,
          kind: 'reward',
          x: decision.x,
          reward: r.global,
        });
      }
      for (const [objective, reward] of r.perObjective) {
        contribute(decision.decisionPoint, objective, actionId, decision.at, entry.shardId, {
          seq,
          kind: 'reward',
          x: decision.x,
          reward,
        });
        if (reward > 0) {
          const m = reaching.get(decisionId) ?? new Map<string, Joined>();
          if (!m.has(objective)) m.set(objective, j);
          reaching.set(decisionId, m);
        }
      }
    }
  });

  // "Reached objective k" is claimed once per decision: the intent model's label flips from 0 to 1 exactly once.
  const reachIds = [...reaching.keys()];
  const reached = await settleLimit(reachIds, CONCURRENCY, (decisionId) => {
    const want = new Map<string, string>();
    for (const [objective, j] of reaching.get(decisionId)!) want.set(objective, claimOf(j.entry));
    return deps.decisions.claimReached(decisionId, want);
  });
  reached.forEach((result, i) => {
    const decisionId = reachIds[i]!;
    const decision = known.get(decisionId)!;
    for (const [objective, j] of reaching.get(decisionId)!) {
      const seq = BigInt(j.entry.sequenceNumber);
      if (result.status === 'rejected') {
        fail(seq);
        continue;
      }
      if (result.value.get(objective) !== claimOf(j.entry)) continue;
      contribute(decision.decisionPoint, intentObjective(objective), INTENT_ACTION, decision.at, j.entry.shardId, {
        seq,
        kind: 'reward',
        x: decision.x,
        reward: 1,
      });
    }
  });

  // 4. Dead letters first: a poison record must be stored before the batch may move past it.
  if (deadLetters.length > 0) {
    try {
      await deps.deadLetters.put(deadLetters);
      outcome.deadLettered = deadLetters.length;
    } catch {
      for (const d of deadLetters) fail(BigInt(d.id.slice(d.id.indexOf('/') + 1)));
    }
  }

  // 5. Statistics: one conditional read-modify-write per touched item.
  // Only contributions below the lowest failure are written. A write moves the item's high-water mark to its highest
  // contribution, and the mark stands for every record of the shard up to it: a later record's contribution written
  // now would make the redelivery skip the failed record's own contribution to the same item, losing it.
  if (lowestFailure !== undefined) {
    const below = lowestFailure;
    for (const [id, p] of pending) {
      p.contributions = p.contributions.filter((c) => c.seq < below);
      if (p.contributions.length === 0) pending.delete(id);
    }
  }
  const shardId = entries[0]?.shardId ?? '';
  const items = [...pending.values()];
  const written = await settleLimit(items, CONCURRENCY, (p) => applyToItem(p, shardId, deps, now));
  written.forEach((result, i) => {
    const p = items[i]!;
    if (result.status === 'rejected') {
      for (const c of p.contributions) fail(c.seq);
      return;
    }
    outcome.statsWrites += result.value.wrote ? 1 : 0;
    outcome.alreadyApplied += result.value.skipped;
    outcome.conflictRetries += result.value.retries;
  });

  outcome.failedFrom = lowestFailure === undefined ? undefined : lowestFailure.toString();
  return outcome;
}

async function applyToItem(
  p: Pending,
  shardId: string,
  deps: ApplyBatchDeps,
  now: () => number,
): Promise<{ wrote: boolean; skipped: number; retries: number }> {
  const maxRetries = deps.maxConflictRetries ?? 20;
  for (let attempt = 0; ; attempt++) {
    const current = await deps.state.getStats(p.key);
    const mark = current?.highWaterMarks[shardId];
    const applied = mark === undefined ? -1n : BigInt(mark);
    const fresh = p.contributions.filter((c) => c.seq > applied);
    if (fresh.length === 0) return { wrote: false, skipped: p.contributions.length, retries: attempt };
    const d = dimensionOf(fresh, current?.stats);
    const stats: ActionStats = current ? current.stats : emptyStats(d);
    const counters = { ...(current?.counters ?? { rewardEvents: 0, lateEvents: 0 }) };
    let top = applied;
    for (const c of fresh) {
      if (c.seq > top) top = c.seq;
      if (c.kind === 'impression') addObservation(stats, Float64Array.from(c.x), 0);
      else if (c.kind === 'reward') {
        addReward(stats, Float64Array.from(c.x), c.reward);
        counters.rewardEvents++;
      } else counters.lateEvents++;
    }
    const t = now();
    const next: StatsItem = {
      ...p.key,
      stats,
      counters,
      highWaterMarks: { ...(current?.highWaterMarks ?? {}), [shardId]: top.toString() },
      version: (current?.version ?? 0) + 1,
      updatedAt: t,
      lastLearnedAt: t,
    };
    try {
      await deps.state.putStats(next, current?.version);
      return { wrote: true, skipped: p.contributions.length - fresh.length, retries: attempt };
    } catch (err) {
      if (!(err instanceof VersionConflictError) || attempt >= maxRetries) throw err;
      // Another updater wrote this item since we read it: back off with jitter, re-read, re-apply.
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 5 * 2 ** attempt)));
    }
  }
}

function dimensionOf(contributions: Contribution[], existing: ActionStats | undefined): number {
  if (existing) return existing.sxr.length;
  for (const c of contributions) if (c.kind !== 'late') return c.x.length;
  return 0;
}

const claimOf = (entry: StreamEntry) => `${entry.shardId}/${entry.sequenceNumber}`;

function dead(entry: StreamEntry, reason: string, at: number): DeadLetter {
  return { id: claimOf(entry), reason, data: entry.data.slice(0, 64 * 1024), at };
}

function toStored(r: DecisionRecord, claim: string): StoredDecision {
  return {
    decisionId: r.decisionId,
    decisionPoint: r.decisionPoint,
    userId: r.userId,
    at: r.at,
    chosen: r.chosen,
    chosenFeatures: r.chosenFeatures,
    x: r.x,
    propensity: r.propensity,
    modelVersion: r.modelVersion,
    attributionWindowSeconds: r.attributionWindowSeconds,
    rewards: r.rewards,
    objectives: r.objectives,
    claim,
  };
}
