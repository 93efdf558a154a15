/**
 * The join step (second Distributed Map): one worker takes one user bucket, that is every record of its users the
 * split step dealt out, and joins each user's history with the updater's own rules: the same pure fold
 * (`core/feedback/join.ts`, rules F1–F3 and F6 of docs/ARCHITECTURE.md §3) and the same rewards
 * (`rewardsForEvent`, F4–F5). Then it aggregates the run's decisions into importance-weighted statistics.
 *
 * **Order.** The lake does not carry stream positions, so a user's records are folded in the order they reached the
 * stream as far as their times tell: a decision at its `at`, an event at its `receivedAt` plus the clock-skew
 * allowance S of F2b (the clocks that stamp the two may disagree by that much, and an event is only ever sent after
 * the decision it answers was logged), a decision before an event at the same instant, then as the lake writer wrote
 * them. This is stream order except for a decision whose log record reached the stream more than S late (a deferred
 * decision log) and a user's first decision made within S after an event: online such a decision cannot answer an
 * event that names no decision and came before it (F2b), offline it can. Everything else (duplicates, retries, held
 * events, stage moves, windows) is the same.
 *
 * **What counts.** A decision counts if it belongs to the run's decision point, lies before the cutoff
 * (`bucketOf(at) < cutoffBucket`: the serving model takes later days from the online statistics) and has the run's
 * context dimension. Every chosen slot becomes one observation of the `default` bandit and of each objective's bandit
 * with the decision's total reward for that action, kept apart per slot (`slotCell`; the fit puts them in slot-1
 * units, core/bandit/position.ts), and each objective's intent model one observation per decision
 * (reached or not), all weighted by the decision's importance weight (`core/retrain/weighting.ts`). Decisions in
 * [holdoutFromBucket, cutoffBucket) go to the `holdout` segment (evaluated, then also trained on); the held-out rounds
 * for the evaluation are a uniform sample: the `maxEvalRounds` smallest hashes of the decision id.
 */
import { BUCKET_MS, bucketOf, DEFAULT_OBJECTIVE, INTENT_ACTION, intentObjective } from '../../core/domain.ts';
import { murmur3_32 } from '../../core/features/encode.ts';
import { type Application, type JoinInput, joinBatch } from '../../core/feedback/join.ts';
import { CLOCK_SKEW_MS, rewardsForEvent } from '../../core/feedback/reward.ts';
import { stageVisitSums } from '../../core/feedback/stage-values.ts';
import { addWeighted, decisionWeight } from '../../core/retrain/weighting.ts';
import type { EventRecord } from '../../core/schemas.ts';
import { mapLimit } from '../concurrency.ts';
import {
  type Aggregate,
  capRounds,
  count,
  emptyAggregate,
  encodeAggregate,
  type HoldoutRound,
  slotCell,
  statsOf,
} from './aggregate.ts';
import { ArtifactError } from './errors.ts';
import { partialKey, shufflePrefix } from './keys.ts';
import { decodeLakeObject, type LakeDecision, type LakeEvent, lakeDecisionSchema, lakeEventSchema } from './lake.ts';
import type { BlobStore } from './ports.ts';
import type { JoinInput as JoinStepInput, RunParams } from './run-context.ts';
import type { ShuffledRecord } from './split.ts';

/** Seed of the hash that ranks decisions for the held-out sample (fixed: the sample must not depend on the run). */
export const HOLDOUT_HASH_SEED = 0x0b5e_4e11;
/** Seed of the hash that puts a decision in a fraction hold-out (independent of the sampling rank above). */
export const HOLDOUT_SHARE_SEED = 0x5ba2_e001;

/** Whether a decision is in the evaluation slice: by day, or by a hash of its id when the run holds out a share. */
export function heldOut(
  run: Pick<RunParams, 'holdoutFromBucket' | 'holdoutFraction'>,
  dec: { decisionId: string; at: number },
): boolean {
  if (run.holdoutFraction !== undefined) {
    return murmur3_32(dec.decisionId, HOLDOUT_SHARE_SEED) / 2 ** 32 < run.holdoutFraction;
  }
  return dec.at >= run.holdoutFromBucket * BUCKET_MS;
}

/** What one decision learned from its feedback. */
export interface JoinedDecision {
  decision: LakeDecision;
  /** objective → action → [reward sum, rewarded events] (`default` included). */
  rewards: Map<string, Map<string, [number, number]>>;
  /** Objectives the decision reached (F5). */
  reached: Set<string>;
  /** What its counted events came to. */
  events: { rewarded: number; late: number; ignored: number; stageMoves: number };
}

/** Time order (see the module header); stable for records of the same time, kind, object and line. */
export function lakeOrder(a: ShuffledRecord, b: ShuffledRecord): number {
  return a.t - b.t || a.k - b.k || (a.o < b.o ? -1 : a.o > b.o ? 1 : 0) || a.l - b.l;
}

/** What a user's counted events were, for stage values: the stage moves and the target events, with their times. */
export interface UserHistory {
  moves: { t: number; stage: string }[];
  events: { t: number; type: string; value: number | undefined }[];
}

/**
 * Joins records (any users, any order: they are sorted here) with the updater's rules; returns every decision
 * created, with what it learned, and each user's counted history; counts what happened to the rest in `counters`.
 */
export function joinLake(
  records: ShuffledRecord[],
  counters: Record<string, number>,
): { decisions: JoinedDecision[]; users: Map<string, UserHistory> } {
  const bump = (name: string, by = 1) => {
    counters[name] = (counters[name] ?? 0) + by;
  };
  records.sort(lakeOrder);
  const inputs: JoinInput[] = [];
  const lakeDecisions = new Map<string, LakeDecision>();
  for (const rec of records) {
    const pos = { shardId: 'lake', seq: BigInt(inputs.length) };
    if (rec.k === 0) {
      const d = lakeDecisionSchema.safeParse(rec.r);
      if (!d.success) {
        bump('invalidLines');
        continue;
      }
      bump('decisionsRead');
      if (!lakeDecisions.has(d.data.decisionId)) lakeDecisions.set(d.data.decisionId, d.data);
      const { candidates: _, kind: __, ...decision } = d.data;
      inputs.push({ pos, record: { kind: 'decision', decision: { ...decision, modelVersion: '' } } });
    } else {
      const e = lakeEventSchema.safeParse(rec.r);
      if (!e.success) {
        bump('invalidLines');
        continue;
      }
      const record = {
        kind: 'event',
        v: 1,
        event: e.data.event,
        receivedAt: e.data.receivedAt,
        ...(e.data.scope ? { scope: e.data.scope } : {}),
      } as EventRecord;
      inputs.push({ pos, record: { kind: 'event', record } });
    }
  }
  const { outcomes } = joinBatch(inputs, { user: () => null, decision: () => null, claim: () => null });
  const joined = new Map<string, JoinedDecision>();
  const users = new Map<string, UserHistory>();
  const credit = (a: Application) => {
    const e0 = a.record.event;
    const h = users.get(e0.userId) ?? { moves: [], events: [] };
    users.set(e0.userId, h);
    if (a.move) h.moves.push({ t: a.t, stage: a.move.to });
    else if (e0.type !== 'stage') h.events.push({ t: a.t, type: e0.type, value: e0.value });
    const d = a.decision;
    if (!d) {
      bump('stageOnlyEvents');
      return;
    }
    const j = joined.get(d.decisionId);
    if (!j) throw new Error(`decision ${d.decisionId} was credited before it was created`);
    const e = a.record.event;
    const r = rewardsForEvent(d, e, a.t, a.move);
    if (r.late) {
      j.events.late++;
      return;
    }
    if (r.global === undefined && r.perObjective.size === 0) {
      j.events.ignored++;
      return;
    }
    j.events.rewarded++;
    if (e.type === 'stage') j.events.stageMoves++;
    const actionId = e.actionId ?? d.chosen[0]!;
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
  };
  const waiting = new Set<string>();
  outcomes.forEach((o, i) => {
    switch (o.kind) {
      case 'decision':
        joined.set(o.decision.decisionId, {
          decision: lakeDecisions.get(o.decision.decisionId)!,
          rewards: new Map(),
          reached: new Set(),
          events: { rewarded: 0, late: 0, ignored: 0, stageMoves: 0 },
        });
        for (const a of o.applications) {
          waiting.delete(a.claim);
          credit(a);
        }
        for (const h of o.duplicateHeld) waiting.delete(h.claim);
        bump('duplicateEvents', o.duplicateHeld.length);
        for (const r of o.refusedHeld) {
          waiting.delete(r.held.claim);
          bump(`refused:${r.code}`);
        }
        return;
      case 'event':
        credit(o.application);
        return;
      case 'duplicate':
        bump(inputs[i]!.record.kind === 'decision' ? 'duplicateDecisions' : 'duplicateEvents');
        return;
      case 'held':
        waiting.add(`lake/${inputs[i]!.pos.seq}`);
        return;
      case 'dead':
        bump(`refused:${o.code}`);
        return;
      default:
        return;
    }
  });
  // Events that name a decision the lake never shows (the named decision never came, or came for another user).
  if (waiting.size > 0) bump('heldEvents', waiting.size);
  return { decisions: [...joined.values()], users };
}

/**
 * The importance-weighted aggregate of the run's decisions among `joined` (see the module header), and the stage
 * visits of `users` for each of the run's objectives with a ladder: a user's trajectory is their stage moves and
 * the objective's target events (value: the event's `value`, else the objective's), observed until `asOf`.
 */
export function aggregateJoined(
  run: RunParams,
  { decisions: joined, users }: ReturnType<typeof joinLake>,
  counters: Record<string, number> = {},
): Aggregate {
  const a = emptyAggregate();
  for (const o of run.objectives) {
    if (!o.stages) continue;
    const events = o.events ?? {};
    const trajectories = [...users.values()]
      .filter((h) => h.moves.length > 0)
      .map((h) => ({
        events: [
          ...h.moves.map((m) => ({ at: m.t, stage: m.stage })),
          ...h.events
            .filter((e) => events[e.type] !== undefined)
            .map((e) => ({ at: e.t, value: e.value ?? events[e.type]! })),
        ],
        observedUntil: run.asOf,
      }));
    a.stageVisits.set(
      o.name,
      stageVisitSums(o.stages, trajectories, { horizonMs: (o.windowSeconds ?? run.windowSeconds) * 1000 }),
    );
  }
  for (const [k, v] of Object.entries(counters)) count(a, k, v);
  const d = run.contextDim;
  const cutoffMs = run.cutoffBucket * BUCKET_MS;
  const rule = run.weighting;
  const holdout: HoldoutRound[] = [];
  const x = new Float64Array(d);
  for (const j of joined) {
    const dec = j.decision;
    if (dec.decisionPoint !== run.decisionPoint) continue;
    if (dec.at >= cutoffMs) {
      count(a, 'decisionsOutsideRange');
      continue;
    }
    if (dec.x.length !== d) {
      count(a, 'dimensionMismatch');
      continue;
    }
    const candidates = dec.candidates;
    if (!candidates) {
      count(a, 'unresolvedCandidates');
      continue;
    }
    for (let i = 0; i < d; i++) x[i] = dec.x[i] as number;
    const segment = heldOut(run, dec) ? 'holdout' : 'train';
    const w = decisionWeight(rule, dec.propensity > 0 ? dec.propensity : undefined, candidates.length);
    for (const objective of [DEFAULT_OBJECTIVE, ...dec.objectives.map((o) => o.name)]) {
      const byAction = j.rewards.get(objective);
      dec.chosen.forEach((actionId, i) => {
        const acc = byAction?.get(actionId);
        addWeighted(statsOf(a, segment, objective, slotCell(actionId, i + 1), d), x, acc?.[0] ?? 0, w, acc?.[1] ?? 0);
      });
    }
    for (const o of dec.objectives) {
      const reached = j.reached.has(o.name);
      addWeighted(
        statsOf(a, segment, intentObjective(o.name), INTENT_ACTION, d),
        x,
        reached ? 1 : 0,
        w,
        reached ? 1 : 0,
      );
    }
    const b = bucketOf(dec.at);
    a.impressions.set(b, (a.impressions.get(b) ?? 0) + dec.chosen.length);
    dec.chosen.forEach((actionId, i) => {
      const f = dec.chosenFeatures[i];
      if (f !== undefined && f.length === run.actionDim && !a.features.has(actionId)) a.features.set(actionId, f);
    });
    count(a, 'decisionsUsed');
    count(a, 'rewardEvents', j.events.rewarded);
    count(a, 'lateEvents', j.events.late);
    count(a, 'ignoredEvents', j.events.ignored);
    count(a, 'stageMoveRewards', j.events.stageMoves);
    if (w.clipped) count(a, 'clippedWeights');
    if (w.missingPropensity) count(a, 'missingPropensity');
    if (segment === 'holdout') {
      count(a, 'holdoutDecisions');
      const chosenIndex = candidates.indexOf(dec.chosen[0] as string);
      if (chosenIndex < 0) {
        count(a, 'holdoutChosenNotCandidate');
        continue;
      }
      const earned = (id: string) => j.rewards.get(DEFAULT_OBJECTIVE)?.get(id)?.[0] ?? 0;
      const sp = dec.slotPropensities;
      const slots =
        dec.chosen.length > 1 && sp?.length === dec.chosen.length
          ? dec.chosen.map((id, i) => ({ chosenIndex: candidates.indexOf(id), propensity: sp[i]!, reward: earned(id) }))
          : undefined;
      holdout.push({
        id: dec.decisionId,
        rank: murmur3_32(dec.decisionId, HOLDOUT_HASH_SEED),
        x: dec.x,
        candidates,
        chosenIndex,
        propensity: dec.propensity,
        reward: earned(dec.chosen[0] as string),
        ...(slots?.every((s) => s.chosenIndex >= 0) && { slots }),
      });
    }
  }
  a.holdout = capRounds(holdout, run.maxEvalRounds);
  return a;
}

export interface JoinBucketResult {
  bucket: number;
  key: string;
  decisions: number;
  rewardEvents: number;
}

/** The join step with its I/O: reads the bucket's shuffled records, joins, aggregates, writes the partial. */
export async function joinBucket(input: JoinStepInput, deps: { blobs: BlobStore }): Promise<JoinBucketResult> {
  const { run, bucket } = input;
  const objects = await deps.blobs.list(shufflePrefix(run, bucket));
  const records: ShuffledRecord[] = [];
  const counters: Record<string, number> = {};
  await mapLimit(objects, 8, async ({ key }) => {
    const body = await deps.blobs.get(key);
    if (!body) throw new ArtifactError(`shuffle object ${key} listed moments ago is gone`);
    for (const line of decodeLakeObject(body).split('\n')) {
      if (line.trim() !== '') records.push(JSON.parse(line) as ShuffledRecord);
    }
  });
  const a = aggregateJoined(run, joinLake(records, counters), counters);
  const key = partialKey(run, bucket);
  await deps.blobs.put(key, encodeAggregate(a, run.contextDim), 'application/gzip');
  return { bucket, key, decisions: a.counters.decisionsUsed ?? 0, rewardEvents: a.counters.rewardEvents ?? 0 };
}

/**
 * The join and the aggregate over records already parsed (tests, benchmarks, a single-process import): decisions
 * and events in any order, joined in the lake's time order as the join step does.
 */
export function aggregateRecords(
  run: RunParams,
  records: { decisions: readonly LakeDecision[]; events: readonly LakeEvent[] },
): Aggregate {
  const shuffled: ShuffledRecord[] = [
    ...records.decisions.map((r, l): ShuffledRecord => ({ t: r.at, k: 0, o: '', l, r })),
    ...records.events.map((r, l): ShuffledRecord => ({ t: r.receivedAt + CLOCK_SKEW_MS, k: 1, o: '', l, r })),
  ];
  const counters: Record<string, number> = {};
  return aggregateJoined(run, joinLake(shuffled, counters), counters);
}
