/**
 * The last phase of a batch: contributions (impressions, rewards, late events) summed per statistics item and
 * written with one conditional read-modify-write per item.
 *
 * Each statistics item stores, per shard, the highest sequence number whose contributions it includes (its
 * high-water mark), in the same conditional write as the statistics: contributions at or below it are skipped, so
 * an overlapping redelivered batch changes nothing twice, and the write is conditional on the item version, so two
 * updaters racing on one item lose no update (the loser re-reads and re-applies). Only contributions below the
 * batch's lowest failure are written: a mark moved past a failed record would make its redelivery skip the record's
 * own contribution to the same item.
 *
 * The same writes keep the decision point's learning series (docs/ARCHITECTURE.md §10): one item per minute and per
 * hour of decision time and writer partition, whose additive counters take a contribution per decision (`impressions`), per global
 * reward and per late event (`series`), under each shard's own high-water mark.
 */
import { type ActionStats, addObservation, addReward, emptyStats } from '../../core/bandit/stats.ts';
import {
  bucketOf,
  DEFAULT_OBJECTIVE,
  emptySeriesCounters,
  INTENT_ACTION,
  intentObjective,
  SERIES_RESOLUTIONS,
  type SeriesCounters,
  type SeriesKey,
  type StatsItem,
  type StatsKey,
  type StoredDecision,
  seriesWindowOf,
} from '../../core/domain.ts';
import { VersionConflictError } from '../../core/errors.ts';
import { murmur3_32 } from '../../core/features/encode.ts';
import type { StateStore } from '../../core/ports.ts';
import { settleLimit } from '../concurrency.ts';

/** What an impression needs of a decision. */
export type Impressed = Pick<
  StoredDecision,
  'decisionPoint' | 'at' | 'x' | 'chosen' | 'objectives' | 'propensity' | 'candidateCount'
>;

/**
 * What a decision or an event adds to its windows of the learning series. `weight` is the decision's uniform weight
 * (`uniformWeight`), undefined when its candidate count is unknown (and, for a reward, when it is not slot 1's).
 */
export type SeriesContribution =
  | { kind: 'decision'; propensity: number; weight: number | undefined }
  | { kind: 'reward'; reward: number; weight: number | undefined; delayMs: number }
  | { kind: 'late' };

/** The uniform policy's importance weight of a decision's slot-1 action, when its candidate count is known. */
export const uniformWeight = (d: Pick<StoredDecision, 'propensity' | 'candidateCount'>): number | undefined =>
  d.candidateCount && d.propensity > 0 ? 1 / d.candidateCount / d.propensity : undefined;

export type Contribution =
  | { kind: 'impression'; x: number[] }
  | { kind: 'reward'; x: number[]; reward: number }
  /** A late event: counted on the action; `d` lets it create the item when nothing else has. */
  | { kind: 'late'; d: number };

interface Pending {
  key: StatsKey;
  contributions: (Contribution & { seq: bigint })[];
}

interface PendingSeries {
  key: SeriesKey;
  contributions: (SeriesContribution & { seq: bigint })[];
}

/** Adds one contribution to a window's counters. */
function addToSeries(c: SeriesCounters, x: SeriesContribution): void {
  if (x.kind === 'decision') {
    c.decisions += 1;
    c.randomness += 1 - x.propensity;
    if (x.weight !== undefined) {
      c.weighted += 1;
      c.weightSum += x.weight;
    }
  } else if (x.kind === 'reward') {
    c.reward += x.reward;
    c.rewardEvents += 1;
    c.delayMs += x.delayMs;
    if (x.weight !== undefined) c.weightedReward += x.reward * x.weight;
  } else c.lateEvents += 1;
}

export interface StatisticsWriterOptions {
  /** The shard every contribution of this batch comes from. */
  shardId: string;
  /** Writer partitions per action: the shard's hash picks one. */
  partitions: number;
  now: () => number;
  maxConflictRetries: number;
}

const CONCURRENCY = 16;

export class StatisticsWriter {
  private readonly pending = new Map<string, Pending>();
  private readonly pendingSeries = new Map<string, PendingSeries>();
  private readonly partition: number;

  constructor(
    private readonly state: StateStore,
    private readonly opts: StatisticsWriterOptions,
  ) {
    this.partition = (murmur3_32(opts.shardId, 0) >>> 0) % Math.max(1, opts.partitions);
  }

  /**
   * F1: one impression of each chosen action in every policy, in the slot it was shown in; one intent observation
   * per objective.
   */
  impressions(d: Impressed, seq: bigint): void {
    const c: Contribution = { kind: 'impression', x: d.x };
    d.chosen.forEach((actionId, i) => {
      this.contribute(d, DEFAULT_OBJECTIVE, actionId, i + 1, seq, c);
      for (const o of d.objectives) this.contribute(d, o.name, actionId, i + 1, seq, c);
    });
    for (const o of d.objectives) this.contribute(d, intentObjective(o.name), INTENT_ACTION, 1, seq, c);
    this.series(d, seq, { kind: 'decision', propensity: d.propensity, weight: uniformWeight(d) });
  }

  /** Adds a contribution of the record at `seq` to the series windows (minute and hour) of the decision. */
  series(d: Pick<StoredDecision, 'decisionPoint' | 'at'>, seq: bigint, c: SeriesContribution): void {
    const entry = { ...c, seq };
    for (const resolution of SERIES_RESOLUTIONS) {
      const window = seriesWindowOf(d.at, resolution);
      const key: SeriesKey = { decisionPoint: d.decisionPoint, resolution, window, partition: this.partition };
      const id = `${key.decisionPoint}\u0000${resolution}\u0000${window}`;
      let p = this.pendingSeries.get(id);
      if (!p) {
        p = { key, contributions: [] };
        this.pendingSeries.set(id, p);
      }
      p.contributions.push(entry);
    }
  }

  /** Adds a contribution of the record at `seq` to the item of the decision's day and the action's slot. */
  contribute(
    d: Pick<StoredDecision, 'decisionPoint' | 'at'>,
    objective: string,
    actionId: string,
    slot: number,
    seq: bigint,
    c: Contribution,
  ): void {
    const key: StatsKey = {
      decisionPoint: d.decisionPoint,
      objective,
      actionId,
      bucket: bucketOf(d.at),
      partition: this.partition,
      slot,
    };
    const id = `${key.decisionPoint}\u0000${objective}\u0000${actionId}\u0000${key.bucket}\u0000${slot}`;
    let p = this.pending.get(id);
    if (!p) {
      p = { key, contributions: [] };
      this.pending.set(id, p);
    }
    p.contributions.push({ ...c, seq });
  }

  /** Writes every item's contributions below `lowestFailure`; reports items it could not write through `fail`. */
  async apply(
    lowestFailure: bigint | undefined,
    fail: (seq: bigint) => void,
  ): Promise<{ statsWrites: number; alreadyApplied: number; conflictRetries: number; decisionPoints: Set<string> }> {
    const below = <T extends { seq: bigint }>(cs: T[]) =>
      cs.filter((c) => lowestFailure === undefined || c.seq < lowestFailure);
    const items = [...this.pending.values()]
      .map((p) => ({ key: p.key, contributions: below(p.contributions) }))
      .filter((p) => p.contributions.length > 0);
    const series = [...this.pendingSeries.values()]
      .map((p) => ({ key: p.key, contributions: below(p.contributions) }))
      .filter((p) => p.contributions.length > 0);
    const totals = { statsWrites: 0, alreadyApplied: 0, conflictRetries: 0, decisionPoints: new Set<string>() };
    const [written, seriesWritten] = await Promise.all([
      settleLimit(items, CONCURRENCY, (p) => this.applyToItem(p)),
      settleLimit(series, CONCURRENCY, (p) => this.applyToSeries(p)),
    ]);
    seriesWritten.forEach((result, i) => {
      if (result.status === 'rejected') for (const c of series[i]!.contributions) fail(c.seq);
      else totals.conflictRetries += result.value;
    });
    written.forEach((result, i) => {
      if (result.status === 'rejected') {
        for (const c of items[i]!.contributions) fail(c.seq);
        return;
      }
      // Written now or by an earlier delivery: either way its model must be published (a redelivery after a crash
      // between the write and the publish finds everything applied and must still publish).
      totals.decisionPoints.add(items[i]!.key.decisionPoint);
      totals.statsWrites += result.value.wrote ? 1 : 0;
      totals.alreadyApplied += result.value.skipped;
      totals.conflictRetries += result.value.retries;
    });
    return totals;
  }

  private async applyToItem(p: Pending): Promise<{ wrote: boolean; skipped: number; retries: number }> {
    const shardId = this.opts.shardId;
    for (let attempt = 0; ; attempt++) {
      const current = await this.state.getStats(p.key);
      const mark = current?.highWaterMarks[shardId];
      const applied = mark === undefined ? -1n : BigInt(mark);
      const fresh = p.contributions.filter((c) => c.seq > applied);
      if (fresh.length === 0) return { wrote: false, skipped: p.contributions.length, retries: attempt };
      const stats: ActionStats = current ? current.stats : emptyStats(dimensionOf(fresh[0]!));
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
      const t = this.opts.now();
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
        await this.state.putStats(next, current?.version);
        return { wrote: true, skipped: p.contributions.length - fresh.length, retries: attempt };
      } catch (err) {
        await retryAfterConflict(err, attempt, this.opts.maxConflictRetries);
      }
    }
  }

  /**
   * The series counterpart of `applyToItem`: the contributions above this shard's mark, added in one write that is
   * conditional on that mark only, so updaters of other shards sharing the item never conflict with it.
   */
  private async applyToSeries(p: PendingSeries): Promise<number> {
    const shardId = this.opts.shardId;
    for (let attempt = 0; ; attempt++) {
      const current = await this.state.getSeries(p.key);
      const mark = current?.highWaterMarks[shardId];
      const applied = mark === undefined ? -1n : BigInt(mark);
      const fresh = p.contributions.filter((c) => c.seq > applied);
      if (fresh.length === 0) return attempt;
      const delta = emptySeriesCounters();
      let top = applied;
      for (const c of fresh) {
        if (c.seq > top) top = c.seq;
        addToSeries(delta, c);
      }
      try {
        await this.state.addSeries(p.key, shardId, mark, top.toString(), delta, this.opts.now());
        return attempt;
      } catch (err) {
        await retryAfterConflict(err, attempt, this.opts.maxConflictRetries);
      }
    }
  }
}

function retryAfterConflict(err: unknown, attempt: number, maxRetries: number): Promise<void> {
  if (!(err instanceof VersionConflictError) || attempt >= maxRetries) throw err;
  // Another updater wrote this item since we read it: back off with jitter, re-read, re-apply.
  return new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 5 * 2 ** attempt)));
}

const dimensionOf = (c: Contribution): number => (c.kind === 'late' ? c.d : c.x.length);
