import { describe, expect, it } from 'vitest';
import { addObservation, emptyStats, scaleStats, statsEqual } from '../../shared/core/bandit/index.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { DEFAULT_CLIP } from '../../shared/core/importance.ts';
import { decisionPointSettingsSchema } from '../../shared/core/schemas.ts';
import type { HistoryLine, OnlineRound } from '../../sim/formats.ts';
import type { Policy, PolicyContext } from '../../sim/policies.ts';
import { type SimulationResult, simulate } from '../../sim/simulate.ts';
import { warmStart, warmStartWeight } from '../../sim/warm-start.ts';
import { generateWorld } from '../../sim/world.ts';

const numbered = <T>(xs: T[]) => xs.map((value, i) => ({ value, line: i + 1 }));
const withoutRate = ({ roundsPerSecond: _, ...rest }: SimulationResult) => rest;

describe('simulation', () => {
  const world = generateWorld({ seed: 5, rounds: 3000, historyRounds: 1000, churnEvery: 1000 });
  const settings = decisionPointSettingsSchema.parse(world.config);
  const ws = warmStart(numbered(world.history), settings);

  it('is reproducible: same world and seed, same result and curve', () => {
    for (const policy of ['hybrid', 'lints-disjoint', 'egreedy', 'uniform'] as const) {
      const a = simulate(world.online, { settings, policy, seed: 9, warmStart: ws });
      const b = simulate(world.online, { settings, policy, seed: 9, warmStart: ws });
      expect(withoutRate(b.result())).toEqual(withoutRate(a.result()));
      expect(b.curve(10)).toEqual(a.curve(10));
    }
    const other = simulate(world.online, { settings, policy: 'hybrid', seed: 10, warmStart: ws }).result();
    const first = simulate(world.online, { settings, policy: 'hybrid', seed: 9, warmStart: ws }).result();
    expect(other.meanExpectedReward).not.toBe(first.meanExpectedReward);
  });

  it('reports the oracle and uniform figures exactly', () => {
    const rounds: OnlineRound[] = [0, 1, 2, 3, 4].map((t) => ({
      t,
      context: [t],
      actions: [
        { id: 'a', features: [1] },
        { id: 'b', features: [0] },
      ],
      rewards: { a: 1, b: 0 },
      expected: { a: 0.1 * t, b: 0.5 },
    }));
    const s = decisionPointSettingsSchema.parse({ contextDim: 2, actionDim: 2 });
    const r = simulate(rounds, { settings: s, policy: 'uniform' }).result();
    expect(r.rounds).toBe(5);
    // Oracle: max(0.1 t, 0.5) = 0.5, 0.5, 0.5, 0.5, 0.5; uniform: (0.1 t + 0.5) / 2.
    expect(r.oracle?.meanExpectedReward).toBeCloseTo(0.5, 12);
    expect(r.uniform?.meanExpectedReward).toBeCloseTo((0.2 + 0.5) / 2, 12);
    // Last 20% of 5 rounds is round 4 alone.
    expect(r.uniform?.lastWindowMeanExpectedReward).toBeCloseTo((0.4 + 0.5) / 2, 12);
  });

  it('reports exact oracle and uniform figures over more rounds than one storage chunk (65,536)', () => {
    const n = 70_001;
    const e = (t: number) => (t % 7) / 10;
    const actions = [
      { id: 'a', features: [1] },
      { id: 'b', features: [0] },
    ];
    function* rounds(): Generator<OnlineRound> {
      for (let t = 0; t < n; t++)
        yield { t, context: [1], actions, rewards: { a: 0, b: 0 }, expected: { a: e(t), b: 0.3 } };
    }
    const s = decisionPointSettingsSchema.parse({ contextDim: 2, actionDim: 2 });
    const r = simulate(rounds(), { settings: s, policy: 'uniform' }).result();
    let oracle = 0;
    let oracleLast = 0;
    let uniformLast = 0;
    const from = Math.floor(0.8 * n);
    for (let t = 0; t < n; t++) {
      oracle += Math.max(e(t), 0.3);
      if (t >= from) {
        oracleLast += Math.max(e(t), 0.3);
        uniformLast += (e(t) + 0.3) / 2;
      }
    }
    expect(r.rounds).toBe(n);
    expect(r.oracle?.meanExpectedReward).toBeCloseTo(oracle / n, 12);
    expect(r.oracle?.lastWindowMeanExpectedReward).toBeCloseTo(oracleLast / (n - from), 12);
    expect(r.uniform?.lastWindowMeanExpectedReward).toBeCloseTo(uniformLast / (n - from), 12);
  });

  it('counts the impression at decision time and delivers a delayed reward k rounds later', () => {
    const calls: string[] = [];
    let round = 0;
    const spy = (_ctx: PolicyContext): Policy => ({
      name: 'spy',
      warmStart() {},
      choose: () => 0,
      impression: (_x, a) => {
        calls.push(`r${round} impression ${a}`);
      },
      reward: (x, a, r) => {
        calls.push(`r${round} reward ${a} ${r} x1=${x[1]}`);
      },
      endRound: () => {
        round++;
      },
    });
    const s = decisionPointSettingsSchema.parse({ contextDim: 2, actionDim: 2, rewards: { click: 1, purchase: 5 } });
    const mk = (t: number, extra: Partial<OnlineRound>): OnlineRound => ({
      t,
      context: [t],
      actions: [{ id: 'a', features: [1] }],
      rewards: { a: 0.5 },
      ...extra,
    });
    const sim = simulate(
      [
        mk(0, { delay: 2, events: { a: { click: 1, purchase: 1 } } }),
        mk(1, {}),
        mk(2, { events: {} }),
        mk(3, { events: { a: { view: 3 } } }),
      ],
      { settings: s, policy: spy },
    );
    expect(calls).toEqual([
      'r0 impression 0',
      'r1 impression 0',
      'r1 reward 0 0.5 x1=1',
      'r2 impression 0',
      'r2 reward 0 0 x1=2',
      // Round 0's reward (click 1 + purchase 5, scored by the settings) arrives at the end of round 2, with round 0's x.
      'r2 reward 0 6 x1=0',
      'r3 impression 0',
      // An event type the settings do not list is worth nothing.
      'r3 reward 0 0 x1=3',
    ]);
    expect(sim.result().meanReward).toBeCloseTo((6 + 0.5 + 0 + 0) / 4, 12);
  });

  it('learns: 5,000 rounds of the world put hybrid far above uniform and near the oracle', () => {
    // Seed and thresholds fixed in advance; over seeds 1–12 hybrid reaches 72–90% of the oracle at 5,000 rounds and
    // uniform 29–44%. The same check applied to the uniform policy fails, so the check can fail.
    const w = generateWorld({ seed: 7, rounds: 5000, historyRounds: 2000 });
    const s = decisionPointSettingsSchema.parse(w.config);
    const start = warmStart(numbered(w.history), s);
    const passes = (r: SimulationResult) => {
      const oracle = r.oracle?.lastWindowMeanExpectedReward as number;
      const uniform = r.uniform?.lastWindowMeanExpectedReward as number;
      const own = r.lastWindowMeanExpectedReward as number;
      return own >= 0.75 * oracle && own - uniform >= 0.3 * oracle;
    };
    const hybrid = simulate(w.online, { settings: s, policy: 'hybrid', seed: 7, warmStart: start }).result();
    expect(passes(hybrid)).toBe(true);
    const uniform = simulate(w.online, { settings: s, policy: 'uniform', seed: 7, warmStart: start }).result();
    expect(passes(uniform)).toBe(false);
  });
});

describe('warm start', () => {
  const settings = { contextDim: 3, actionDim: 2, rewards: { click: 1, purchase: 5 } };
  const line = (
    chosen: string,
    propensity: number,
    context: number[],
    extra: Partial<HistoryLine> = {},
  ): HistoryLine => ({
    context,
    actions: [
      { id: 'a', features: [1] },
      { id: 'b', features: [0] },
    ],
    chosen,
    propensity,
    reward: 1,
    ...extra,
  });

  it("weights each observation by retraining's rule min(clip, 1/(K·p)), with retraining's default clip", () => {
    expect(warmStartWeight(2, 0.5)).toBe(1);
    expect(warmStartWeight(2, 0.8)).toBeCloseTo(0.625, 12);
    expect(warmStartWeight(2, 0.1)).toBeCloseTo(5, 12);
    expect(warmStartWeight(2, 0.001)).toBe(DEFAULT_CLIP);
    expect(warmStartWeight(2, 0.1, 3)).toBe(3);
    expect(warmStartWeight(2, 0.1, 10)).toBeCloseTo(5, 12);
  });

  it('builds exactly the weighted statistics rescaled to their effective sample size, scoring events with the reward settings', () => {
    const ws = warmStart(
      numbered([
        line('a', 0.8, [1, 2]),
        line('a', 0.5, [0, 1], { events: { click: 1, purchase: 1 }, reward: 99 }),
        line('b', 0.2, [2, 0]),
      ]),
      settings,
    );
    expect(ws.actions.map((a) => a.id)).toEqual(['a', 'b']);
    expect(ws.lines).toBe(3);
    // a: line 1 at weight 1/(2·0.8) = 0.625, then line 2 at weight 1 with reward 1 + 5 from its events (not 99);
    // Σw = 1.625, Σw² = 1.390625, so the sums are rescaled by Σw/Σw² and count (Σw)²/Σw² = 2.640625/1.390625.
    const expectA = emptyStats(3);
    addObservation(expectA, encodeFeatures([1, 2], 3), 1);
    scaleStats(expectA, 0.625);
    addObservation(expectA, encodeFeatures([0, 1], 3), 6);
    scaleStats(expectA, 1.625 / 1.390625);
    expect(statsEqual(ws.actions[0]!.stats, expectA, 1e-12)).toBe(true);
    expect(ws.actions[0]!.stats.n).toBeCloseTo(2.640625 / 1.390625, 12);
    // b: line 3, under-represented (1/(2·0.2) = 2.5): one observation is worth one whatever its weight, so the
    // rare action gets no more confidence than the log holds.
    const expectB = emptyStats(3);
    addObservation(expectB, encodeFeatures([2, 0], 3), 1);
    expect(statsEqual(ws.actions[1]!.stats, expectB, 1e-12)).toBe(true);
    expect(ws.totalWeight).toBeCloseTo(2.640625 / 1.390625 + 1, 12);
  });

  it('names the history line whose features do not fit', () => {
    expect(() => warmStart(numbered([line('a', 0.5, [1, 2, 3])]), settings, { source: 'history.jsonl' })).toThrow(
      'history.jsonl line 1: 3 dense features do not fit',
    );
  });
});
