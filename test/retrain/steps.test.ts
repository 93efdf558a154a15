/** The retraining steps' rules, on hand-made records: the join, the cutoff, the plan, completeness and the gate. */
import { describe, expect, it } from 'vitest';
import type { Aggregate } from '../../shared/app/retrain/aggregate.ts';
import { evaluateCandidate } from '../../shared/app/retrain/evaluate.ts';
import { fitModel } from '../../shared/app/retrain/fit.ts';
import { HOUR_MS, type LakeDecision, type LakeEvent, parseLakeKey } from '../../shared/app/retrain/lake.ts';
import { aggregateRecords } from '../../shared/app/retrain/map-partition.ts';
import { planItems, runIdOf } from '../../shared/app/retrain/plan.ts';
import type { RunContext } from '../../shared/app/retrain/run-context.ts';
import { emptyStats } from '../../shared/core/bandit/stats.ts';
import { DEFAULT_OBJECTIVE } from '../../shared/core/domain.ts';
import { DAY, runParams, T0 } from './support.ts';

const D0 = T0 / DAY;
const run = runParams({ cutoffBucket: D0 + 2, holdoutFromBucket: D0 + 1 });

function decision(id: string, at: number, over: Partial<LakeDecision> = {}): LakeDecision {
  return <LakeDecision>{
    kind: 'decision',
    decisionId: id,
    decisionPoint: 'dp',
    userId: `u-${id}`,
    at,
    x: [1, 0, 0, 0],
    candidates: ['A', 'B'],
    chosen: ['A'],
    chosenFeatures: [[1, 0]],
    propensity: 0.5,
    attributionWindowSeconds: 3600,
    rewards: {},
    objectives: [],
    ...over,
  };
}

function event(eventId: string, receivedAt: number, e: Partial<LakeEvent['event']>): LakeEvent {
  return { kind: 'event', event: { eventId, userId: 'u', type: 'click', ...e }, receivedAt };
}

const all = { from: 0, to: Number.MAX_SAFE_INTEGER };
const stats = (a: Aggregate, seg: 'train' | 'holdout', action: string) =>
  a.segments[seg].get(DEFAULT_OBJECTIVE)?.get(action);

describe('aggregateRecords (the map worker’s join)', () => {
  const t = T0 + 3 * HOUR_MS;

  it('counts a decision and each of its events once, however often the lake holds them', () => {
    const d = decision('d1', t);
    const e = event('e1', t + 1000, { userId: 'u-d1', decisionId: 'd1', value: 2 });
    const a = aggregateRecords(run, all, { decisions: [d, d, d], events: [e, e], lookahead: [] });
    const s = stats(a, 'train', 'A')!;
    expect(s.decisions).toBe(1);
    expect(s.rewardEvents).toBe(1);
    expect(s.stats.sumR).toBeCloseTo(2 * 1); // weight (1/2)/0.5 = 1
    expect(a.counters).toMatchObject({ duplicateDecisions: 2, duplicateEvents: 1, decisionsUsed: 1 });
  });

  it('leaves out what the online learner also leaves out: late events, other users, unchosen actions, other decision points', () => {
    const d = decision('d1', t);
    const a = aggregateRecords(run, all, {
      decisions: [d, decision('other', t, { decisionPoint: 'elsewhere' })],
      events: [
        event('late', t + 3601_000, { userId: 'u-d1', decisionId: 'd1' }),
        event('stranger', t + 1000, { userId: 'someone-else', decisionId: 'd1' }),
        event('unchosen', t + 1000, { userId: 'u-d1', decisionId: 'd1', actionId: 'B' }),
        event('ok', t + 1000, { userId: 'u-d1', decisionId: 'd1', actionId: 'A' }),
      ],
      lookahead: [],
    });
    expect(stats(a, 'train', 'A')!.stats.sumR).toBe(1);
    expect(a.counters).toMatchObject({ lateEvents: 1, mismatchedEvents: 2, rewardEvents: 1, decisionsUsed: 1 });
    expect(stats(a, 'train', 'B')).toBeUndefined();
  });

  it('learns what the online learner learns per objective: global and objective rewards, and the intent to reach it', () => {
    const purchase = {
      name: 'purchase',
      events: { purchase: 50, add_to_cart: 5 },
      attributionWindowSeconds: 3600,
      weight: 0.5,
    };
    const d = decision('d1', t, { objectives: [purchase] });
    const a = aggregateRecords(run, all, {
      decisions: [d, decision('d2', t, { objectives: [purchase] })],
      events: [
        event('cart', t + 1000, { userId: 'u-d1', decisionId: 'd1', type: 'add_to_cart' }),
        event('buy', t + 2000, { userId: 'u-d1', decisionId: 'd1', type: 'purchase' }),
        event('click', t + 3000, { userId: 'u-d1', decisionId: 'd1', type: 'click' }),
      ],
      lookahead: [],
    });
    const of = (objective: string, action: string) => a.segments.train.get(objective)?.get(action);
    // Global reward = Σ weight × objective reward = 0.5 × (5 + 50); a click is no target event: ignored.
    expect(of(DEFAULT_OBJECTIVE, 'A')!.stats.sumR).toBeCloseTo(27.5);
    expect(of('purchase', 'A')!.stats.sumR).toBeCloseTo(55);
    expect(of('purchase', 'A')!.decisions).toBe(2);
    // The intent model learns one observation per decision: d1 reached "purchase", d2 did not.
    expect(of('intent:purchase', '*')!.stats).toMatchObject({ n: 2, sumR: 1 });
    expect(a.counters).toMatchObject({ rewardEvents: 2, ignoredEvents: 1 });
  });

  it('counts stage moves it cannot value, so the gate can refuse to drop what the online learner learned', () => {
    const ladder = {
      name: 'lifecycle',
      events: {},
      stages: ['lead', 'customer'],
      attributionWindowSeconds: 3600,
      weight: 1,
    };
    const a = aggregateRecords(run, all, {
      decisions: [decision('d1', t, { objectives: [ladder] })],
      events: [event('s', t + 1000, { userId: 'u-d1', decisionId: 'd1', type: 'stage', stage: 'customer' })],
      lookahead: [],
    });
    expect(a.counters.stageMovesNotLearned).toBe(1);
  });

  it('gives an event without a decision id to the user’s latest decision before it, even one outside this item', () => {
    const mine = decision('d1', t, { userId: 'u' });
    const later = decision('d2', t + 60_000, { userId: 'u', decisionPoint: 'another-dp' });
    const e = event('e', t + 120_000, { userId: 'u' });
    // The later decision (another item's, another decision point's) is the latest: not ours to count.
    const theirs = aggregateRecords(
      run,
      { from: t, to: t + 1 },
      { decisions: [mine], events: [e], lookahead: [later] },
    );
    expect(stats(theirs, 'train', 'A')!.stats.sumR).toBe(0);
    // Without a later decision, it is ours.
    const ours = aggregateRecords(run, { from: t, to: t + 1 }, { decisions: [mine], events: [e], lookahead: [] });
    expect(stats(ours, 'train', 'A')!.stats.sumR).toBe(1);
    // A decision made after the event was received is never its target.
    const early = event('early', t - 1000, { userId: 'u' });
    const none = aggregateRecords(run, { from: t, to: t + 1 }, { decisions: [mine], events: [early], lookahead: [] });
    expect(stats(none, 'train', 'A')!.stats.sumR).toBe(0);
  });

  it('fits only decisions before the cutoff, and holds out the most recent days before it for the evaluation', () => {
    const a = aggregateRecords(run, all, {
      decisions: [
        decision('train', T0 + HOUR_MS),
        decision('held', T0 + DAY + HOUR_MS),
        decision('after', T0 + 2 * DAY + 1),
      ],
      events: [],
      lookahead: [],
    });
    expect(stats(a, 'train', 'A')!.decisions).toBe(1);
    expect(stats(a, 'holdout', 'A')!.decisions).toBe(1);
    expect(a.holdout.map((r) => r.id)).toEqual(['held']);
    expect(a.counters.decisionsOutsideRange).toBe(1);
    expect([...a.impressions]).toEqual([
      [D0, 1],
      [D0 + 1, 1],
    ]);
  });
});

describe('planItems', () => {
  const key = (kind: string, at: number, name = 'f') => {
    const d = new Date(at);
    return `lake/kind=${kind}/dt=${d.toISOString().slice(0, 10)}/hour=${String(d.getUTCHours()).padStart(2, '0')}/${name}.jsonl.gz`;
  };

  it('cuts consecutive whole hours before the cutoff into items of about the target size, with the files their join needs', () => {
    const decisions = [0, 1, 2, 3, 30, 50].map((h) => ({ key: key('decision', T0 + h * HOUR_MS), size: 100 }));
    const events = [0, 2, 4, 49].map((h) => ({ key: key('event', T0 + h * HOUR_MS), size: 10 }));
    const items = planItems(decisions, events, {
      cutoffMs: T0 + 48 * HOUR_MS,
      windowMs: 2 * HOUR_MS,
      targetBytes: 250,
    });
    expect(items.map((i) => [i.from, i.to].map((x) => (x - T0) / HOUR_MS))).toEqual([
      [0, 2],
      [2, 4],
      [30, 31],
    ]);
    const [first, second, third] = items;
    expect(first!.decisionKeys.map((k) => parseLakeKey(k)!.hourStart)).toEqual([T0, T0 + HOUR_MS]);
    // Events from one hour before `from` to the window after `to`; look-ahead decisions within the window after `to`.
    expect(first!.eventKeys.map((k) => (parseLakeKey(k)!.hourStart - T0) / HOUR_MS)).toEqual([0, 2]);
    expect(first!.lookaheadKeys.map((k) => (parseLakeKey(k)!.hourStart - T0) / HOUR_MS)).toEqual([2, 3]);
    expect(second!.eventKeys.map((k) => (parseLakeKey(k)!.hourStart - T0) / HOUR_MS)).toEqual([2, 4]);
    expect(third!.eventKeys).toEqual([]);
    // Hour 50 is after the cutoff: never an item's, only look-ahead for events naming no decision.
    expect(items.every((i) => i.to <= T0 + 48 * HOUR_MS)).toBe(true);
  });

  it('names a run after its execution', () => {
    expect(runIdOf('arn:aws:states:eu-west-1:123:execution:Retrain:a/b c')).toBe('a-b-c');
    expect(runIdOf('arn:aws:states:eu-west-1:123:execution:Retrain:nightly-homepage')).toBe('nightly-homepage');
  });
});

describe('fitModel: completeness against the online statistics', () => {
  const online = (bucket: number, n: number) => {
    const s = emptyStats(4);
    s.n = n;
    s.sxx[0] = n;
    return { objective: DEFAULT_OBJECTIVE, actionId: 'A', bucket, stats: s };
  };

  it('carries over days the lake does not hold at all, and flags days it holds only in part', () => {
    const reduced = aggregateRecords(run, all, {
      decisions: Array.from({ length: 10 }, (_, i) => decision(`d${i}`, T0 + DAY + i)),
      events: [],
      lookahead: [],
    });
    const { model, incompleteBuckets } = fitModel(run, reduced, [
      online(D0 - 3, 50),
      online(D0 + 1, 20),
      online(D0 + 2, 99),
    ]);
    // D0-3: before the lake began, taken over as learned online; D0+1: the lake has 10 of 20 impressions;
    // D0+2: after the cutoff, the online statistics keep serving it.
    expect(model.carriedOverBuckets).toEqual([D0 - 3]);
    expect(incompleteBuckets).toEqual([{ bucket: D0 + 1, lake: 10, online: 20 }]);
    const final = model.objectives.get(DEFAULT_OBJECTIVE)!.final.get('A')!;
    expect(final.n).toBeCloseTo(10 + 50);
  });
});

describe('evaluateCandidate: the gate', () => {
  const reduced = aggregateRecords(run, all, { decisions: [], events: [], lookahead: [] });
  const { model } = fitModel(run, reduced, []);
  const ctx = (over: Partial<RunContext> = {}): RunContext => ({ run, ...over });

  it('refuses promotion when the lake is incomplete, even when forced', () => {
    const e = evaluateCandidate(
      {
        ...ctx(),
        run: { ...run, force: true },
        fit: {
          key: 'k',
          objectives: [],
          actions: 0,
          trainDecisions: 0,
          holdoutDecisions: 0,
          carriedOverBuckets: [],
          incompleteBuckets: [{ bucket: D0, lake: 1, online: 2 }],
        },
      },
      model,
      [],
      { catalog: [], online: [], active: undefined },
    );
    expect(e.promote).toBe(false);
    expect(e.forced).toBe(false);
    expect(e.reasons.join(' ')).toMatch(/lake holds 1 impressions .* online learner counted 2/);
  });

  it('refuses promotion when map items failed, and when nothing was held out', () => {
    const e = evaluateCandidate(
      ctx({ reduce: { key: 'k', itemsExpected: 4, itemsFound: 3, missingItems: ['p00002'], counters: {} } }),
      model,
      [],
      { catalog: [], online: [], active: undefined },
    );
    expect(e.promote).toBe(false);
    expect(e.reasons).toEqual([
      expect.stringMatching(/1 of 4 map items failed/),
      expect.stringMatching(/held-out slice holds no decisions/),
    ]);
  });

  it('cannot certify a candidate on decisions without propensities', () => {
    const rounds = Array.from({ length: 300 }, (_, i) => ({
      id: `r${i}`,
      rank: i,
      x: [1, 0, 0, 0],
      candidates: ['A', 'B'],
      chosenIndex: i % 2,
      propensity: 0,
      reward: i % 3 === 0 ? 1 : 0,
    }));
    const e = evaluateCandidate(ctx(), model, rounds, { catalog: [], online: [], active: undefined });
    expect(e.promote).toBe(false);
    expect(e.candidate?.lowerBound).toBeNull();
    expect(e.reasons.join(' ')).toMatch(/carry no propensities/);
  });
});
