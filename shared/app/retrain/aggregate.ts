/**
 * The partial aggregate a map worker produces and the reducer merges: importance-weighted statistics per segment
 * (train / holdout), objective and action, raw impression counts per day (to check the lake against the online
 * learner), a bounded sample of held-out rounds for the evaluation, and counters. Every part merges by addition or
 * by a deterministic selection, so partials combine in any order, and a worker retried after a crash writes the same
 * partial again.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { decodeStats, encodeStats } from '../../core/bandit/stats.ts';
import { mergeStageVisitSums, type StageVisitSums } from '../../core/feedback/stage-values.ts';
import { emptyWeighted, mergeWeighted, type WeightedStats } from '../../core/retrain/weighting.ts';
import { ArtifactError } from './errors.ts';

export type Segment = 'train' | 'holdout';
export const SEGMENTS: readonly Segment[] = ['train', 'holdout'];

/** One held-out decision as the evaluation reads it (slot 1 only: that is what the propensity is for). */
export interface HoldoutRound {
  id: string;
  /** Hash rank of the decision id: the sample keeps the smallest ranks, i.e. a uniform sample. */
  rank: number;
  x: number[];
  candidates: string[];
  chosenIndex: number;
  /** 0 when not logged. */
  propensity: number;
  reward: number;
  /**
   * With several slots whose propensities were logged: each slot's candidate index, its propensity given the slots
   * above and what its action earned (slot 1 first, the same as above), for the slate evaluation.
   */
  slots?: { chosenIndex: number; propensity: number; reward: number }[];
}

export interface Aggregate {
  /** segment → objective → action → statistics */
  segments: Record<Segment, Map<string, Map<string, WeightedStats>>>;
  /** bucket → impressions (every chosen slot of every decision used). */
  impressions: Map<number, number>;
  holdout: HoldoutRound[];
  /** Encoded features of actions as logged with their decisions (for actions the catalog no longer describes). */
  features: Map<string, number[]>;
  /** Per objective with a stage ladder: visit sums of its stages (`stageVisitSums`), to estimate stage values. */
  stageVisits: Map<string, StageVisitSums>;
  counters: Record<string, number>;
}

export function emptyAggregate(): Aggregate {
  return {
    segments: { train: new Map(), holdout: new Map() },
    impressions: new Map(),
    holdout: [],
    features: new Map(),
    stageVisits: new Map(),
    counters: {},
  };
}

export function count(a: Aggregate, name: string, by = 1): void {
  a.counters[name] = (a.counters[name] ?? 0) + by;
}

/**
 * An aggregate's key for an action's statistics in a slot: the action id for slot 1 (as before slots were kept
 * apart), `{id}#S{slot}` below it (action ids never hold `#`). The fit collapses the slots (core/bandit/position.ts).
 */
export const slotCell = (actionId: string, slot: number): string => (slot === 1 ? actionId : `${actionId}#S${slot}`);

export function parseSlotCell(key: string): { actionId: string; slot: number } {
  const at = key.lastIndexOf('#S');
  return at === -1 ? { actionId: key, slot: 1 } : { actionId: key.slice(0, at), slot: Number(key.slice(at + 2)) };
}

export function statsOf(a: Aggregate, segment: Segment, objective: string, actionId: string, d: number): WeightedStats {
  let byAction = a.segments[segment].get(objective);
  if (!byAction) {
    byAction = new Map();
    a.segments[segment].set(objective, byAction);
  }
  let s = byAction.get(actionId);
  if (!s) {
    s = emptyWeighted(d);
    byAction.set(actionId, s);
  }
  return s;
}

/** Keeps the `cap` rounds of smallest rank (ties by id), sorted. */
export function capRounds(rounds: HoldoutRound[], cap: number): HoldoutRound[] {
  rounds.sort((p, q) => p.rank - q.rank || (p.id < q.id ? -1 : p.id > q.id ? 1 : 0));
  const out: HoldoutRound[] = [];
  let last: string | undefined;
  for (const r of rounds) {
    if (r.id === last) continue;
    last = r.id;
    out.push(r);
    if (out.length >= cap) break;
  }
  return out;
}

/** into += from; the held-out sample stays the `cap` smallest ranks of the union. */
export function mergeAggregate(into: Aggregate, from: Aggregate, cap: number, d: number): void {
  for (const seg of SEGMENTS) {
    for (const [objective, byAction] of from.segments[seg]) {
      for (const [actionId, s] of byAction) mergeWeighted(statsOf(into, seg, objective, actionId, d), s);
    }
  }
  for (const [b, n] of from.impressions) into.impressions.set(b, (into.impressions.get(b) ?? 0) + n);
  into.holdout = capRounds([...into.holdout, ...from.holdout], cap);
  for (const [id, f] of from.features) if (!into.features.has(id)) into.features.set(id, f);
  for (const [objective, sums] of from.stageVisits) {
    const acc = into.stageVisits.get(objective) ?? {};
    mergeStageVisitSums(acc, sums);
    into.stageVisits.set(objective, acc);
  }
  for (const [k, v] of Object.entries(from.counters)) count(into, k, v);
}

// -------------------------------------------------------------------------------------------------------------
// Serialized form (gzipped JSON; statistics as base64 of the engine's binary stats encoding)

const weightedSchema = z.object({
  stats: z.string(),
  sumW: z.number(),
  sumW2: z.number(),
  decisions: z.number(),
  clipped: z.number(),
  missingPropensity: z.number(),
  rewardEvents: z.number(),
});
const byObjectiveSchema = z.record(z.string(), z.record(z.string(), weightedSchema));
const holdoutRoundSchema = z.object({
  id: z.string(),
  rank: z.number(),
  x: z.array(z.number()),
  candidates: z.array(z.string()),
  chosenIndex: z.number().int().min(0),
  propensity: z.number().min(0).max(1),
  reward: z.number(),
  slots: z
    .array(z.object({ chosenIndex: z.number().int().min(0), propensity: z.number().min(0).max(1), reward: z.number() }))
    .optional(),
});
const aggregateFileSchema = z.object({
  v: z.literal(1),
  d: z.number().int().min(1),
  segments: z.object({ train: byObjectiveSchema, holdout: byObjectiveSchema }),
  impressions: z.record(z.string(), z.number()),
  holdout: z.array(holdoutRoundSchema),
  features: z.record(z.string(), z.array(z.number())),
  stageVisits: z.record(z.string(), z.record(z.string(), z.tuple([z.number(), z.number(), z.number()]))).default({}),
  counters: z.record(z.string(), z.number()),
});

const b64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

export function encodeAggregate(a: Aggregate, d: number): Uint8Array {
  const segs = {} as Record<Segment, Record<string, Record<string, z.infer<typeof weightedSchema>>>>;
  for (const seg of SEGMENTS) {
    const out: Record<string, Record<string, z.infer<typeof weightedSchema>>> = {};
    for (const [objective, byAction] of a.segments[seg]) {
      const o: Record<string, z.infer<typeof weightedSchema>> = {};
      for (const [actionId, s] of byAction) o[actionId] = { ...s, stats: b64(encodeStats(s.stats)) };
      out[objective] = o;
    }
    segs[seg] = out;
  }
  const file: z.infer<typeof aggregateFileSchema> = {
    v: 1,
    d,
    segments: segs,
    impressions: Object.fromEntries([...a.impressions].map(([b, n]) => [String(b), n])),
    holdout: a.holdout,
    features: Object.fromEntries(a.features),
    stageVisits: Object.fromEntries(a.stageVisits),
    counters: a.counters,
  };
  return gzipSync(JSON.stringify(file));
}

/** Reads an aggregate written by {@link encodeAggregate}; `what` names it in errors. */
export function decodeAggregate(bytes: Uint8Array, d: number, what: string): Aggregate {
  let parsed: z.infer<typeof aggregateFileSchema>;
  try {
    parsed = aggregateFileSchema.parse(JSON.parse(gunzipSync(bytes).toString('utf8')));
  } catch (cause) {
    throw new ArtifactError(`${what} is not a readable aggregate`, { cause });
  }
  if (parsed.d !== d) throw new ArtifactError(`${what} holds statistics for d = ${parsed.d}, expected ${d}`);
  const a = emptyAggregate();
  for (const seg of SEGMENTS) {
    for (const [objective, byAction] of Object.entries(parsed.segments[seg])) {
      const m = new Map<string, WeightedStats>();
      for (const [actionId, w] of Object.entries(byAction)) {
        m.set(actionId, { ...w, stats: decodeStats(Buffer.from(w.stats, 'base64'), d) });
      }
      a.segments[seg].set(objective, m);
    }
  }
  for (const [b, n] of Object.entries(parsed.impressions)) a.impressions.set(Number(b), n);
  a.holdout = parsed.holdout;
  for (const [id, f] of Object.entries(parsed.features)) a.features.set(id, f);
  for (const [objective, sums] of Object.entries(parsed.stageVisits)) a.stageVisits.set(objective, sums);
  a.counters = parsed.counters;
  return a;
}
