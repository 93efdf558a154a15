/**
 * The map step: one worker turns one partition item (consecutive lake hours of decisions) into partial
 * importance-weighted statistics, joining each decision with its feedback exactly as the online learner does:
 *
 * - a decision counts once (deduplicated by `decisionId`) if it belongs to the run's decision point, lies in the
 *   item's hours and in the training range (`bucketOf(at) < cutoffBucket`): nothing at or after the cutoff is fitted,
 *   because the serving model takes those days from the online statistics;
 * - an event counts once per decision (deduplicated by `eventId`), for the decision it names, else for the user's
 *   latest decision made at or before the event was received (across all decision points, as the online
 *   "latest decision" pointer is per user); it must come from the decision's user and name one of its chosen
 *   actions (default: slot 1); what it earns, and whether it is late, is the engine's own rule (`rewardsForEvent`
 *   on the decision's reward and objective snapshot, event time = its timestamp capped at receipt);
 * - every chosen slot becomes one observation of the `default` bandit and of each objective's bandit with the
 *   decision's total reward for that action, and each objective's intent model one observation per decision
 *   (reached or not), all weighted by the decision's importance weight (see `core/retrain/weighting.ts` and
 *   `objectives.ts`).
 *
 * Decisions in [holdoutFromBucket, cutoffBucket) go to the `holdout` segment (evaluated, then also trained on); the
 * held-out rounds for the evaluation are a uniform sample: the `maxEvalRounds` smallest hashes of the decision id.
 */
import { BUCKET_MS, bucketOf, DEFAULT_OBJECTIVE, INTENT_ACTION, intentObjective } from '../../core/domain.ts';
import { murmur3_32 } from '../../core/features/encode.ts';
import { eventTime, rewardsForEvent } from '../../core/feedback/reward.ts';
import { addWeighted, decisionWeight } from '../../core/retrain/weighting.ts';
import { mapLimit } from '../concurrency.ts';
import {
  type Aggregate,
  capRounds,
  count,
  emptyAggregate,
  encodeAggregate,
  type HoldoutRound,
  slot,
} from './aggregate.ts';
import { ArtifactError } from './errors.ts';
import { partialKey } from './keys.ts';
import { type LakeDecision, type LakeEvent, parseLakeObject } from './lake.ts';
import type { BlobStore } from './ports.ts';
import type { PartitionItem, RunParams, WorkerInput } from './run-context.ts';

/** Seed of the hash that ranks decisions for the held-out sample (fixed: the sample must not depend on the run). */
export const HOLDOUT_HASH_SEED = 0x0b5e_4e11;

interface Joined {
  eventIds: Set<string>;
  /** objective → action → [reward sum, rewarded events] */
  rewards: Map<string, Map<string, [number, number]>>;
  /** Objectives the decision reached (a positive reward for them). */
  reached: Set<string>;
}

/**
 * Pure core of the map step: the aggregate of one item's records. `lookahead` are decisions after the item (any
 * decision point), used only to tell whose "latest decision" an event without a decision id is.
 */
export function aggregateRecords(
  run: RunParams,
  item: Pick<PartitionItem, 'from' | 'to'>,
  records: { decisions: readonly LakeDecision[]; events: readonly LakeEvent[]; lookahead: readonly LakeDecision[] },
): Aggregate {
  const a = emptyAggregate();
  const d = run.contextDim;
  const cutoffMs = run.cutoffBucket * BUCKET_MS;
  const holdoutMs = run.holdoutFromBucket * BUCKET_MS;

  const mine = new Map<string, LakeDecision>();
  for (const dec of records.decisions) {
    count(a, 'decisionsRead');
    if (dec.decisionPoint !== run.decisionPoint) continue;
    if (dec.at < item.from || dec.at >= item.to || dec.at >= cutoffMs) {
      count(a, 'decisionsOutsideRange');
      continue;
    }
    if (mine.has(dec.decisionId)) {
      count(a, 'duplicateDecisions');
      continue;
    }
    if (dec.x.length !== d) {
      count(a, 'dimensionMismatch');
      continue;
    }
    mine.set(dec.decisionId, dec);
  }

  // Events: those naming one of our decisions join directly; those naming none wait for the user's timeline.
  const joined = new Map<string, Joined>();
  const pending: LakeEvent[] = [];
  const pendingUsers = new Set<string>();
  const accept = (dec: LakeDecision, e: LakeEvent) => {
    const ev = e.event;
    if (ev.userId !== dec.userId || (ev.actionId !== undefined && !dec.chosen.includes(ev.actionId))) {
      count(a, 'mismatchedEvents');
      return;
    }
    let j = joined.get(dec.decisionId);
    if (!j) {
      j = { eventIds: new Set(), rewards: new Map(), reached: new Set() };
      joined.set(dec.decisionId, j);
    }
    if (j.eventIds.has(ev.eventId)) {
      count(a, 'duplicateEvents');
      return;
    }
    j.eventIds.add(ev.eventId);
    const r = rewardsForEvent(dec, ev, eventTime(ev, e.receivedAt));
    if (r.late) {
      count(a, 'lateEvents');
      return;
    }
    // A stage move is worth V(to) − V(from): without the user's previous stage it cannot be valued here.
    if (ev.type === 'stage' && dec.objectives.some((o) => o.stages !== undefined)) count(a, 'stageMovesNotLearned');
    const actionId = ev.actionId ?? (dec.chosen[0] as string);
    const add = (objective: string, reward: number) => {
      let byAction = j.rewards.get(objective);
      if (!byAction) {
        byAction = new Map();
        j.rewards.set(objective, byAction);
      }
      const acc = byAction.get(actionId) ?? [0, 0];
      acc[0] += reward;
      acc[1] += 1;
      byAction.set(actionId, acc);
    };
    if (r.global !== undefined) add(DEFAULT_OBJECTIVE, r.global);
    for (const [objective, reward] of r.perObjective) {
      add(objective, reward);
      if (reward > 0) j.reached.add(objective);
    }
    count(a, r.global === undefined && r.perObjective.size === 0 ? 'ignoredEvents' : 'rewardEvents');
  };
  for (const e of records.events) {
    const id = e.event.decisionId;
    if (id !== undefined) {
      const dec = mine.get(id);
      if (dec) accept(dec, e);
    } else {
      pending.push(e);
      pendingUsers.add(e.event.userId);
    }
  }
  if (pending.length > 0) {
    const timeline = new Map<string, { at: number; id: string }[]>();
    const seen = new Set<string>();
    const add = (dec: LakeDecision) => {
      if (!pendingUsers.has(dec.userId) || seen.has(dec.decisionId)) return;
      seen.add(dec.decisionId);
      const list = timeline.get(dec.userId) ?? [];
      list.push({ at: dec.at, id: dec.decisionId });
      timeline.set(dec.userId, list);
    };
    for (const dec of records.decisions) add(dec);
    for (const dec of records.lookahead) add(dec);
    for (const e of pending) {
      let best: { at: number; id: string } | undefined;
      for (const c of timeline.get(e.event.userId) ?? []) {
        if (c.at <= e.receivedAt && (!best || c.at > best.at || (c.at === best.at && c.id > best.id))) best = c;
      }
      const dec = best && mine.get(best.id);
      if (dec) accept(dec, e);
    }
  }

  const rule = run.weighting;
  const holdout: HoldoutRound[] = [];
  const x = new Float64Array(d);
  for (const dec of mine.values()) {
    for (let i = 0; i < d; i++) x[i] = dec.x[i] as number;
    const segment = dec.at >= holdoutMs ? 'holdout' : 'train';
    const w = decisionWeight(rule, dec.propensity > 0 ? dec.propensity : undefined, dec.candidates.length);
    const j = joined.get(dec.decisionId);
    for (const objective of [DEFAULT_OBJECTIVE, ...dec.objectives.map((o) => o.name)]) {
      const byAction = j?.rewards.get(objective);
      for (const actionId of dec.chosen) {
        const acc = byAction?.get(actionId);
        addWeighted(slot(a, segment, objective, actionId, d), x, acc?.[0] ?? 0, w, acc?.[1] ?? 0);
      }
    }
    for (const o of dec.objectives) {
      const reached = j?.reached.has(o.name) ?? false;
      addWeighted(slot(a, segment, intentObjective(o.name), INTENT_ACTION, d), x, reached ? 1 : 0, w, reached ? 1 : 0);
    }
    const b = bucketOf(dec.at);
    a.impressions.set(b, (a.impressions.get(b) ?? 0) + dec.chosen.length);
    dec.chosen.forEach((actionId, i) => {
      const f = dec.chosenFeatures[i];
      if (f !== undefined && f.length === run.actionDim && !a.features.has(actionId)) a.features.set(actionId, f);
    });
    count(a, 'decisionsUsed');
    if (w.clipped) count(a, 'clippedWeights');
    if (w.missingPropensity) count(a, 'missingPropensity');
    if (segment === 'holdout') {
      count(a, 'holdoutDecisions');
      const chosenIndex = dec.candidates.indexOf(dec.chosen[0] as string);
      if (chosenIndex < 0) {
        count(a, 'holdoutChosenNotCandidate');
        continue;
      }
      const first = j?.rewards.get(DEFAULT_OBJECTIVE)?.get(dec.chosen[0] as string);
      holdout.push({
        id: dec.decisionId,
        rank: murmur3_32(dec.decisionId, HOLDOUT_HASH_SEED),
        x: dec.x,
        candidates: dec.candidates,
        chosenIndex,
        propensity: dec.propensity,
        reward: first?.[0] ?? 0,
      });
    }
  }
  a.holdout = capRounds(holdout, run.maxEvalRounds);
  return a;
}

export interface MapPartitionDeps {
  blobs: BlobStore;
  /** Objects read at once. */
  readConcurrency?: number;
}

export interface MapPartitionResult {
  itemId: string;
  key: string;
  decisions: number;
  rewardEvents: number;
}

/** The map step with its I/O: reads the item's lake objects, aggregates, writes the partial. */
export async function mapPartition(input: WorkerInput, deps: MapPartitionDeps): Promise<MapPartitionResult> {
  const { run, item } = input;
  const concurrency = deps.readConcurrency ?? 8;
  let bytes = 0;
  let invalid = 0;
  const read = async (keys: readonly string[]) => {
    const parsed = await mapLimit(keys, concurrency, async (key) => {
      const body = await deps.blobs.get(key);
      // Listed by the plan moments ago: a missing object means the lake lost data, not a race worth hiding.
      if (!body) throw new ArtifactError(`lake object ${key} listed by the plan is gone`);
      bytes += body.byteLength;
      const p = parseLakeObject(body);
      invalid += p.invalid;
      return p;
    });
    return parsed;
  };
  const decisionFiles = await read(item.decisionKeys);
  const eventFiles = await read(item.eventKeys);
  const events = eventFiles.flatMap((p) => p.events);
  // Lookahead decisions only matter for events that name no decision.
  const needLookahead = events.some((e) => e.event.decisionId === undefined);
  const lookaheadFiles = needLookahead ? await read(item.lookaheadKeys) : [];
  const a = aggregateRecords(run, item, {
    decisions: decisionFiles.flatMap((p) => p.decisions),
    events,
    lookahead: lookaheadFiles.flatMap((p) => p.decisions),
  });
  count(a, 'invalidLines', invalid);
  count(a, 'bytesRead', bytes);
  count(a, 'objectsRead', item.decisionKeys.length + item.eventKeys.length + lookaheadFiles.length);
  const key = partialKey(run, item.id);
  await deps.blobs.put(key, encodeAggregate(a, run.contextDim), 'application/gzip');
  return { itemId: item.id, key, decisions: a.counters.decisionsUsed ?? 0, rewardEvents: a.counters.rewardEvents ?? 0 };
}
