/** The retraining steps' rules, on hand-made records: the join, the cutoff, the plan, completeness and the gate. */
import { describe, expect, it } from 'vitest';
import type { Aggregate } from '../../shared/app/retrain/aggregate.ts';
import { evaluateCandidate } from '../../shared/app/retrain/evaluate.ts';
import { estimatedStageValues, fitModel } from '../../shared/app/retrain/fit.ts';
import { aggregateRecords } from '../../shared/app/retrain/join-bucket.ts';
import { HOUR_MS, type LakeEvent, parseLakeKey } from '../../shared/app/retrain/lake.ts';
import { planItems, runIdOf } from '../../shared/app/retrain/plan.ts';
import type { RunContext } from '../../shared/app/retrain/run-context.ts';
import { emptyStats } from '../../shared/core/bandit/stats.ts';
import { DEFAULT_OBJECTIVE } from '../../shared/core/domain.ts';
import { DAY, lakeDecision, runParams, T0 } from './support.ts';

const D0 = T0 / DAY;
const run = runParams({ cutoffBucket: D0 + 2, holdoutFromBucket: D0 + 1 });

function event(eventId: string, receivedAt: number, e: Partial<LakeEvent['event']>): LakeEvent {
  return { kind: 'event', event: { eventId, userId: 'u', type: 'click', ...e }, receivedAt };
}

const stats = (a: Aggregate, seg: 'train' | 'holdout', action: string) =>
  a.segments[seg].get(DEFAULT_OBJECTIVE)?.get(action);

describe('aggregateRecords (the join step: the updater’s rules over a user’s history)', () => {
  const t = T0 + 3 * HOUR_MS;

  it('counts a decision and each of its events once, however often the lake holds them', () => {
    const d = lakeDecision('d1', t, { rewards: { click: 2 } });
    const e = event('e1', t + 1000, { userId: 'u-d1', decisionId: 'd1', value: 2 });
    const a = aggregateRecords(run, { decisions: [d, d, d], events: [e, e] });
    const s = stats(a, 'train', 'A')!;
    expect(s.decisions).toBe(1);
    expect(s.rewardEvents).toBe(1);
    expect(s.stats.sumR).toBeCloseTo(2 * 1); // weight (1/2)/0.5 = 1
    expect(a.counters).toMatchObject({ duplicateDecisions: 2, duplicateEvents: 1, decisionsUsed: 1 });
  });

  it('leaves out what the online learner also leaves out: late events, other users, unchosen actions, other decision points', () => {
    const d = lakeDecision('d1', t);
    const a = aggregateRecords(run, {
      decisions: [d, lakeDecision('other', t, { decisionPoint: 'elsewhere' })],
      events: [
        event('late', t + 3601_000, { userId: 'u-d1', decisionId: 'd1' }),
        event('stranger', t + 1000, { userId: 'someone-else', decisionId: 'd1' }),
        event('unchosen', t + 1000, { userId: 'u-d1', decisionId: 'd1', actionId: 'B' }),
        event('ok', t + 1000, { userId: 'u-d1', decisionId: 'd1', actionId: 'A' }),
      ],
    });
    expect(stats(a, 'train', 'A')!.stats.sumR).toBe(1);
    expect(a.counters).toMatchObject({
      lateEvents: 1,
      'refused:another-user': 1,
      'refused:action-not-chosen': 1,
      rewardEvents: 1,
      decisionsUsed: 1,
    });
    expect(stats(a, 'train', 'B')).toBeUndefined();
  });

  it('learns what the online learner learns per objective: global and objective rewards, and the intent to reach it', () => {
    const purchase = {
      name: 'purchase',
      events: { purchase: 50, add_to_cart: 5 },
      attributionWindowSeconds: 3600,
      weight: 0.5,
    };
    const d = lakeDecision('d1', t, { objectives: [purchase] });
    const a = aggregateRecords(run, {
      decisions: [d, lakeDecision('d2', t, { objectives: [purchase] })],
      events: [
        event('cart', t + 1000, { userId: 'u-d1', decisionId: 'd1', type: 'add_to_cart' }),
        event('buy', t + 2000, { userId: 'u-d1', decisionId: 'd1', type: 'purchase' }),
        event('click', t + 3000, { userId: 'u-d1', decisionId: 'd1', type: 'click' }),
      ],
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

  it('learns stage moves as the updater does: V(to) − V(from), from the stage the user was in (F6)', () => {
    const ladder = {
      name: 'lifecycle',
      events: {},
      stages: ['lead', 'customer', 'loyal'],
      stageValues: { lead: 0, customer: 40, loyal: 90 },
      attributionWindowSeconds: 3600,
      weight: 1,
    };
    const stage = (id: string, at: number, to: string) =>
      event(id, at, { userId: 'u-d1', decisionId: 'd1', type: 'stage', stage: to });
    const a = aggregateRecords(run, {
      decisions: [lakeDecision('d1', t, { objectives: [ladder] })],
      // The first move is from an unknown stage (earns nothing); the stale one (older than the current stage) moves
      // nothing; the rest telescope: 40 − 0, then 90 − 40.
      events: [
        stage('s1', t + 1000, 'lead'),
        stage('s2', t + 2000, 'customer'),
        event('s0', t + 3000, {
          userId: 'u-d1',
          decisionId: 'd1',
          type: 'stage',
          stage: 'lead',
          timestamp: new Date(t + 500).toISOString(),
        }),
        stage('s3', t + 4000, 'loyal'),
      ],
    });
    const of = (objective: string) => a.segments.train.get(objective)?.get('A');
    expect(of('lifecycle')!.stats.sumR).toBeCloseTo(90);
    expect(a.counters.stageMoveRewards).toBe(2);
  });

  it('estimates stage values from the users’ histories: target value strictly after entering a stage (F6)', () => {
    const ladder = {
      name: 'lifecycle',
      events: { purchase: 50 },
      stages: ['lead', 'customer', 'loyal'],
      attributionWindowSeconds: 3600,
      weight: 1,
    };
    const r = runParams({
      ...run,
      asOf: t + DAY,
      objectives: [{ name: 'lifecycle', weight: 1, stages: ladder.stages, events: ladder.events, windowSeconds: 3600 }],
    });
    const move = (id: string, at: number, to: string) =>
      event(id, at, { userId: 'u-d1', decisionId: 'd1', type: 'stage', stage: to });
    const buy = (id: string, at: number) => event(id, at, { userId: 'u-d1', decisionId: 'd1', type: 'purchase' });
    const a = aggregateRecords(r, {
      decisions: [lakeDecision('d1', t, { objectives: [ladder] })],
      events: [
        move('m1', t + 1000, 'lead'),
        move('m2', t + 2000, 'customer'),
        buy('p1', t + 2000),
        buy('p2', t + 3000),
        move('m3', t + 4000, 'loyal'),
      ],
    });
    // lead (t+1 s): both purchases follow within the hour; customer (t+2 s): only the later one (the one at the same
    // instant made the customer: it is the event's own reward); loyal: nothing after.
    expect(estimatedStageValues(r, a).lifecycle).toEqual({
      lead: { value: 100, visits: 1, standardError: null },
      customer: { value: 50, visits: 1, standardError: null },
      loyal: { value: 0, visits: 1, standardError: null },
    });
  });

  it('gives an event without a decision id to the user’s latest decision before it (F2b)', () => {
    const mine = lakeDecision('d1', t, { userId: 'u' });
    const later = lakeDecision('d2', t + 60_000, { userId: 'u', decisionPoint: 'another-dp' });
    const e = event('e', t + 120_000, { userId: 'u' });
    // The later decision (another decision point's) is the latest: not ours to count.
    const theirs = aggregateRecords(run, { decisions: [mine, later], events: [e] });
    expect(stats(theirs, 'train', 'A')!.stats.sumR).toBe(0);
    // Unless the event names our decision point.
    const named = aggregateRecords(run, {
      decisions: [mine, later],
      events: [{ ...e, event: { ...e.event, decisionPoint: 'dp' } }],
    });
    expect(stats(named, 'train', 'A')!.stats.sumR).toBe(1);
    // Without a later decision, it is ours.
    const ours = aggregateRecords(run, { decisions: [mine], events: [e] });
    expect(stats(ours, 'train', 'A')!.stats.sumR).toBe(1);
    // A decision made after the event is its target only within the clock-skew allowance (5 s).
    const early = aggregateRecords(run, { decisions: [mine], events: [event('early', t - 1000, { userId: 'u' })] });
    expect(stats(early, 'train', 'A')!.stats.sumR).toBe(1);
    const tooEarly = aggregateRecords(run, {
      decisions: [mine],
      events: [event('early', t - 10_000, { userId: 'u' })],
    });
    expect(stats(tooEarly, 'train', 'A')!.stats.sumR).toBe(0);
    expect(tooEarly.counters['refused:no-decision']).toBe(1);
  });

  it('fits only decisions before the cutoff, and holds out the most recent days before it for the evaluation', () => {
    const a = aggregateRecords(run, {
      decisions: [
        lakeDecision('train', T0 + HOUR_MS),
        lakeDecision('held', T0 + DAY + HOUR_MS),
        lakeDecision('after', T0 + 2 * DAY + 1),
      ],
      events: [],
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

  it('cuts every lake hour up to asOf (both kinds) into items of about the target size, each object in one item', () => {
    const decisions = [0, 1, 2, 3, 30, 50].map((h) => ({ key: key('decision', T0 + h * HOUR_MS), size: 100 }));
    const events = [0, 2, 4, 49].map((h) => ({ key: key('event', T0 + h * HOUR_MS), size: 10 }));
    const items = planItems([...decisions, ...events], { untilMs: T0 + 49 * HOUR_MS, targetBytes: 250 });
    const hours = (i: { keys: string[] }) => [
      ...new Set(i.keys.map((k) => (parseLakeKey(k)!.hourStart - T0) / HOUR_MS)),
    ];
    expect(items.map(hours)).toEqual([
      [0, 1],
      [2, 3, 4],
      [30, 49],
    ]);
    expect(items.map((i) => i.bytes)).toEqual([210, 220, 110]);
    // Every object up to asOf is in exactly one item; hour 50 is after asOf.
    const planned = items.flatMap((i) => i.keys).sort();
    expect(planned).toEqual(
      [...decisions, ...events]
        .map((e) => e.key)
        .filter((k) => !k.includes('hour=02/') || true)
        .filter((k) => parseLakeKey(k)!.hourStart <= T0 + 49 * HOUR_MS)
        .sort(),
    );
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
    return { objective: DEFAULT_OBJECTIVE, actionId: 'A', bucket, slot: 1, stats: s };
  };

  it('carries over days the lake does not hold at all, and flags days it holds only in part', () => {
    const reduced = aggregateRecords(run, {
      decisions: Array.from({ length: 10 }, (_, i) => lakeDecision(`d${i}`, T0 + DAY + i)),
      events: [],
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
  const reduced = aggregateRecords(run, { decisions: [], events: [] });
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
          stageValues: {},
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
      expect.stringMatching(/1 of 4 map items \(split items or user buckets\) failed/),
      expect.stringMatching(/held-out slice .*holds no decisions: nothing can be certified.*--holdout-fraction/),
    ]);
  });

  it('never lets --force promote a candidate trained on no decisions', () => {
    const fitOf = (trainDecisions: number, holdoutDecisions: number) => ({
      key: 'k',
      objectives: [],
      actions: 0,
      trainDecisions,
      holdoutDecisions,
      carriedOverBuckets: [],
      incompleteBuckets: [],
      stageValues: {},
    });
    const forced = (f: ReturnType<typeof fitOf>) =>
      evaluateCandidate({ ...ctx(), run: { ...run, force: true }, fit: f }, model, [], {
        catalog: [],
        online: [],
        active: undefined,
      });
    const empty = forced(fitOf(0, 0));
    expect(empty.promote).toBe(false);
    expect(empty.reasons.join(' ')).toContain('empty model, which no --force can promote');
    // With data, --force does what it says (past a gate that found nothing held out), and says so.
    const some = forced(fitOf(50, 0));
    expect(some.promote).toBe(true);
    expect(some.forced).toBe(true);
    expect(some.warnings.join(' ')).toMatch(/promotion forced despite: the held-out slice/);
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
