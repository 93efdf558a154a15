/**
 * The serving settings chosen offline (shared/app/retrain/evaluate.ts, "Settings chosen offline"): where the decision
 * point's settings leave them out, the run evaluates the candidate at every point of a cross through what serves now:
 * that point, each other Thompson scale of {0.005, 0.02, 0.1, 1} with its multipliers, and each other multiplier pair
 * on the learned (λs, λa) of (1, 1), (1/10, 1), (10, 1), (1, 1/10), (1, 10) with its scale; each point's bound at its
 * share of δ (δ/2 for the point that serves now, the other half shared by the rest); and takes the highest lower
 * bound, a tie keeping what serves now, then the earlier point. The gate judges that point.
 *
 * The reference model below restates that rule from the spec, independently of the code's grid: it learns the λs
 * once, builds each point's model with the multiplied λs given *as settings* (so not through the multiplier path
 * under test), evaluates it at the δ the spec assigns, and picks by the spec's tie rule.
 *
 * The worlds (pure, seeded): two actions with the same features and one context, logged uniformly (propensity 1/2),
 * so a policy's value is P(A)·r_A + P(B)·r_B. The candidate is trained on three outcomes per action, so its posterior
 * is wide and the settings matter (and fewer than d = 4 observations never pass the coverage rule, so each action
 * keeps its full Thompson variance):
 * - `ranksRight`: the candidate's means rank A above B, and A is better (0.8 against 0.2): the closer to greedy, the
 *   more A, so no step up the scale grid gains value and plain Thompson sampling (1) loses some; the grid's two
 *   smallest scales (0.005 and 0.02) are both greedy in effect here (the draws never cross), so they tie;
 * - `misleads`: the candidate's means rank B above A, but A is better (0.9 against 0.3): the wider the draws, the
 *   more often A wins, so the largest scale is best; and shrinking the actions' own effects harder (λa × 10) pulls
 *   the misleading means together, which also helps.
 */
import { describe, expect, it } from 'vitest';
import type { HoldoutRound } from '../../shared/app/retrain/aggregate.ts';
import {
  type CurrentModelInput,
  evaluateCandidate,
  servingModelOf,
  servingSettings,
  servingTargetPolicy,
} from '../../shared/app/retrain/evaluate.ts';
import type { OfflineModel } from '../../shared/app/retrain/fit.ts';
import { settingsChoiceHtml } from '../../shared/app/retrain/report-html.ts';
import type { RunParams, SettingsChoice } from '../../shared/app/retrain/run-context.ts';
import { type ActionStats, addObservation, emptyStats } from '../../shared/core/bandit/stats.ts';
import { DEFAULT_OBJECTIVE, type PromotedSettings } from '../../shared/core/domain.ts';
import { evaluatePolicy, type LoggedData } from '../../shared/core/evaluation/index.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { servingFits } from '../../shared/core/policy/serving-policy.ts';
import { createRng } from '../../shared/core/random.ts';
import { runParams } from './support.ts';

const X = [1, 0, 0, 0];
/** The settings give λs and λa (1 each) and leave the scale out: only the scale is searched. */
const searched = runParams({ exploration: { epsilon: 0.05 } });
/** The settings leave the scale and both λs out (the defaults): everything is searched. */
const learned = runParams({ priors: {}, exploration: { epsilon: 0.05 } });
const noCurrent: CurrentModelInput = { catalog: [], online: [], active: undefined };

/** Per-action statistics of the given 0/1 outcomes, all in the one context. */
function statsOf(outcomes: Record<string, number[]>): Map<string, ActionStats> {
  const x = Float64Array.from(X);
  return new Map(
    Object.entries(outcomes).map(([id, rs]) => {
      const s = emptyStats(X.length);
      for (const r of rs) addObservation(s, x, r);
      return [id, s] as const;
    }),
  );
}

function candidateOf(stats: Map<string, ActionStats>): OfflineModel {
  return {
    version: 'm-test',
    decisionPoint: 'dp',
    cutoffBucket: 0,
    holdoutFromBucket: 0,
    d: X.length,
    objectives: new Map([[DEFAULT_OBJECTIVE, { final: stats, evaluation: stats }]]),
    features: new Map(),
    diagnostics: {},
    carriedOverBuckets: [],
    extensions: {},
  };
}

/** `n` held-out decisions logged uniformly over the actions of `rates`, each earning 1 with its action's rate. */
function heldOut(rates: Record<string, number>, n: number, seed: number, propensity = true): HoldoutRound[] {
  const rng = createRng(seed);
  const ids = Object.keys(rates);
  return Array.from({ length: n }, (_, i) => {
    const chosenIndex = rng.int(ids.length);
    return {
      id: `r${i}`,
      rank: i,
      x: X,
      candidates: ids,
      chosenIndex,
      propensity: propensity ? 1 / ids.length : 0,
      reward: rng.next() < rates[ids[chosenIndex]!]! ? 1 : 0,
    };
  });
}

const ranksRight = {
  candidate: candidateOf(statsOf({ A: [1, 1, 1], B: [0, 0, 1] })),
  rounds: heldOut({ A: 0.8, B: 0.2 }, 4000, 1),
};
const misleads = {
  candidate: candidateOf(statsOf({ A: [0, 0, 1], B: [1, 1, 0] })),
  rounds: heldOut({ A: 0.9, B: 0.3 }, 4000, 2),
};

const estimateOf = (g: SettingsChoice['grid'][number]) => g.estimate!.value;

/** The spec's grid: multipliers (learned λs first, then each λ alone ×1/10 and ×10) × scales, in that order. */
const MULTIPLIERS = [
  [1, 1],
  [0.1, 1],
  [10, 1],
  [1, 0.1],
  [1, 10],
] as const;
const SCALES = [0.005, 0.02, 0.1, 1];

interface RefPoint {
  scale: number;
  shared: number;
  action: number;
  delta: number;
  lowerBound: number | null;
  value: number;
}

function logged(rounds: readonly HoldoutRound[]): LoggedData {
  return {
    rounds: rounds.map((r) => ({
      context: Float64Array.from(r.x),
      candidates: r.candidates.map((id) => ({ id })),
      chosenIndex: r.chosenIndex,
      reward: r.reward,
      ...(r.propensity > 0 && { propensity: r.propensity }),
    })),
  };
}

/**
 * The reference: every grid point's bound, each model built with the multiplied λs given as settings, at the δ the
 * spec assigns, and the point the spec's rule picks.
 */
function reference(
  world: { candidate: OfflineModel; rounds: HoldoutRound[] },
  run: RunParams,
  serving: { scale: number; shared: number; action: number },
): { points: RefPoint[]; chosen: RefPoint } {
  const stats = new Map([[DEFAULT_OBJECTIVE, world.candidate.objectives.get(DEFAULT_OBJECTIVE)!.evaluation]]);
  const actions = ['A', 'B'].map((id) => ({ id, features: encodeFeatures({}, run.actionDim) }));
  const fit = servingFits({ d: run.contextDim, m: run.actionDim }, run.priors, actions, [], stats).get(
    DEFAULT_OBJECTIVE,
  )!;
  const freeMultipliers = MULTIPLIERS.filter(
    ([shared, action]) =>
      (run.priors.lambdaShared === undefined || shared === 1) &&
      (run.priors.lambdaAction === undefined || action === 1),
  );
  const grid = [
    serving,
    ...(run.exploration.scale === undefined ? SCALES : [])
      .filter((scale) => scale !== serving.scale)
      .map((scale) => ({ scale, shared: serving.shared, action: serving.action })),
    ...freeMultipliers
      .filter(([shared, action]) => shared !== serving.shared || action !== serving.action)
      .map(([shared, action]) => ({ scale: serving.scale, shared, action })),
  ];
  const isServing = (p: { scale: number; shared: number; action: number }) =>
    p.scale === serving.scale && p.shared === serving.shared && p.action === serving.action;
  const data = logged(world.rounds);
  const points = grid.map((p): RefPoint => {
    const delta = isServing(p) ? run.delta / 2 : run.delta / (2 * (grid.length - 1));
    const priors = {
      ...run.priors,
      lambdaShared: fit.lambdaShared * p.shared,
      lambdaAction: fit.lambdaAction * p.action,
    };
    const model = servingModelOf({ ...run, priors }, actions, stats);
    const target = servingTargetPolicy('reference', { ...model, learned: { scale: p.scale } }, servingSettings(run));
    const report = evaluatePolicy(data, target, { delta, seed: 0 });
    return { ...p, delta, lowerBound: report.lowerBound, value: report.estimates.dr!.value };
  });
  // Highest bound; within 1e-6 (relative) of it, what serves now, else the first in grid order.
  const top = Math.max(...points.map((p) => p.lowerBound!));
  const near = points.filter((p) => top - p.lowerBound! <= 1e-6 * Math.max(1, Math.abs(top)));
  return { points, chosen: near.find(isServing) ?? near[0]! };
}

const at = (choice: SettingsChoice, p: { scale: number; shared: number; action: number }) =>
  choice.grid.find(
    (g) => g.scale === p.scale && g.priorScale!.shared === p.shared && g.priorScale!.action === p.action,
  )!;
const STATUS_QUO = { scale: 0.02, shared: 1, action: 1 };

describe('the serving settings chosen offline where the settings leave them out', () => {
  for (const [name, world] of [
    ['ranksRight', ranksRight],
    ['misleads', misleads],
  ] as const) {
    it(`${name}: every grid point's bound and the point chosen agree with the reference`, () => {
      const e = evaluateCandidate({ run: learned }, world.candidate, world.rounds, noCurrent);
      const choice = e.exploration;
      const ref = reference(world, learned, STATUS_QUO);
      expect(choice.source).toBe('search');
      expect(choice.grid.map((g) => [g.priorScale!.shared, g.priorScale!.action, g.scale])).toEqual(
        ref.points.map((p) => [p.shared, p.action, p.scale]),
      );
      for (const [i, p] of ref.points.entries()) {
        const g = choice.grid[i]!;
        expect(g.delta).toBeCloseTo(p.delta, 15);
        expect(g.lowerBound!).toBeCloseTo(p.lowerBound!, 9);
        expect(estimateOf(g)).toBeCloseTo(p.value, 9);
      }
      // The shares of δ add up to δ: the grid's bounds hold together with probability 1 − δ.
      expect(choice.grid.reduce((sum, g) => sum + g.delta!, 0)).toBeCloseTo(learned.delta, 15);
      expect([choice.scale, choice.priorScale]).toEqual([
        ref.chosen.scale,
        { shared: ref.chosen.shared, action: ref.chosen.action },
      ]);
      expect(choice.delta).toBe(at(choice, ref.chosen).delta);
      // The gate judges exactly the chosen point.
      expect(e.candidate!.lowerBound).toBe(at(choice, ref.chosen).lowerBound);
      expect(e.candidate!.estimates.dr!.value).toBe(estimateOf(at(choice, ref.chosen)));
    });
  }

  it('changes the settings where the held-out days show it pays: wider draws and more shrinkage when the means mislead', () => {
    const choice = evaluateCandidate({ run: learned }, misleads.candidate, misleads.rounds, noCurrent).exploration;
    const ref = reference(misleads, learned, STATUS_QUO);
    // The world's facts, on the reference: a larger scale and λa × 10 each gain value over what serves.
    const value = (p: { scale: number; shared: number; action: number }) =>
      ref.points.find((q) => q.scale === p.scale && q.shared === p.shared && q.action === p.action)!.value;
    expect(value({ ...STATUS_QUO, scale: 1 })).toBeGreaterThan(value(STATUS_QUO));
    expect(value({ ...STATUS_QUO, action: 10 })).toBeGreaterThan(value(STATUS_QUO));
    // So the run moves away from the status quo, to a point worth more than it even at its stricter δ.
    expect([choice.scale, choice.priorScale]).not.toEqual([0.02, { shared: 1, action: 1 }]);
    expect(at(choice, ref.chosen).lowerBound!).toBeGreaterThan(at(choice, STATUS_QUO).lowerBound!);
    expect(choice.why).toMatch(/promoting the candidate changes what serves from scale 0\.02 to scale/);
  });

  it('searches only the scale when the settings give both λs, and only the free λ when they give one', () => {
    const e = evaluateCandidate({ run: searched }, ranksRight.candidate, ranksRight.rounds, noCurrent);
    const ref = reference(ranksRight, searched, STATUS_QUO);
    expect(e.exploration.grid.map((g) => [g.scale, g.priorScale])).toEqual(
      [0.02, 0.005, 0.1, 1].map((scale) => [scale, { shared: 1, action: 1 }]),
    );
    expect(e.exploration.grid.map((g) => g.delta)).toEqual(ref.points.map((p) => p.delta));
    expect(e.exploration.scale).toBe(ref.chosen.scale);
    const sharedGiven = runParams({ priors: { lambdaShared: 1 }, exploration: { epsilon: 0.05 } });
    const partial = evaluateCandidate({ run: sharedGiven }, misleads.candidate, misleads.rounds, noCurrent).exploration;
    expect(new Set(partial.grid.map((g) => `${g.priorScale!.shared}/${g.priorScale!.action}`))).toEqual(
      new Set(['1/1', '1/0.1', '1/10']),
    );
    const refPartial = reference(misleads, sharedGiven, STATUS_QUO);
    expect([partial.scale, partial.priorScale]).toEqual([
      refPartial.chosen.scale,
      { shared: 1, action: refPartial.chosen.action },
    ]);
  });

  it('judges the current model at the point that serves now: the active model’s scale and multipliers', () => {
    // The current model holds the candidate's very statistics and was promoted with scale 1 and λa × 10.
    const stats = misleads.candidate.objectives.get(DEFAULT_OBJECTIVE)!.evaluation;
    const settings: PromotedSettings = { scale: 1, priorScale: { shared: 1, action: 10 } };
    const current: CurrentModelInput = {
      catalog: [],
      online: [],
      active: {
        version: 'm-old',
        cutoffBucket: 0,
        itemVersion: 1,
        stats: new Map([[DEFAULT_OBJECTIVE, stats]]),
        settings,
      },
    };
    const e = evaluateCandidate({ run: learned }, misleads.candidate, misleads.rounds, current);
    expect(e.exploration.currentScale).toBe(1);
    expect(e.exploration.currentPriorScale).toEqual({ shared: 1, action: 10 });
    const serving = { scale: 1, shared: 1, action: 10 };
    // Same statistics, same point, same rounds: the same policy, so the same estimate; and that point has δ/2.
    expect(e.current!.estimates.dr!.value).toBeCloseTo(estimateOf(at(e.exploration, serving)), 12);
    expect(at(e.exploration, serving).delta).toBe(learned.delta / 2);
    const ref = reference(misleads, learned, serving);
    expect([e.exploration.scale, e.exploration.priorScale]).toEqual([
      ref.chosen.scale,
      { shared: ref.chosen.shared, action: ref.chosen.action },
    ]);
    // Settings that now give λa: the promoted λa multiplier no longer applies, to the current model or the grid.
    const given = runParams({ priors: { lambdaAction: 3 }, exploration: { epsilon: 0.05 } });
    const g = evaluateCandidate({ run: given }, misleads.candidate, misleads.rounds, current).exploration;
    expect(g.currentPriorScale).toEqual({ shared: 1, action: 1 });
    expect(g.grid.every((p) => p.priorScale!.action === 1)).toBe(true);
  });

  it('keeps what serves now when every point serves alike: a candidate that knows nothing', () => {
    const blank = candidateOf(new Map());
    const current: CurrentModelInput = {
      ...noCurrent,
      active: {
        version: 'm-old',
        cutoffBucket: 0,
        itemVersion: 1,
        stats: new Map(),
        settings: { scale: 0.1, priorScale: { shared: 10, action: 1 } },
      },
    };
    const withActive = evaluateCandidate({ run: learned }, blank, ranksRight.rounds, current).exploration;
    expect([withActive.scale, withActive.priorScale]).toEqual([0.1, { shared: 10, action: 1 }]);
    // Every point serves the same uniform policy, so every estimate is the same, and what serves now has the
    // tightest bound (δ/2).
    expect(new Set(withActive.grid.map(estimateOf)).size).toBe(1);
    expect(withActive.why).toMatch(/; it is what serves now$/);
    // Before any promotion the default serves (0.02 with one objective, the learned λs), so it is kept.
    const fresh = evaluateCandidate({ run: learned }, blank, ranksRight.rounds, noCurrent).exploration;
    expect([fresh.scale, fresh.priorScale]).toEqual([0.02, { shared: 1, action: 1 }]);
  });

  it('keeps what serves now when no grid point has a lower bound (no propensities), and the gate refuses', () => {
    const rounds = heldOut({ A: 0.8, B: 0.2 }, 400, 3, false);
    const e = evaluateCandidate({ run: learned }, ranksRight.candidate, rounds, noCurrent);
    expect(e.exploration.grid).toHaveLength(8);
    expect(e.exploration.grid.every((g) => g.lowerBound === null)).toBe(true);
    expect([e.exploration.scale, e.exploration.priorScale]).toEqual([0.02, { shared: 1, action: 1 }]);
    expect(e.exploration.why).toMatch(/no grid point has a lower bound/);
    expect(e.promote).toBe(false);
  });

  it('searches nothing when the settings give the scale and both λs, and says so', () => {
    const explicit = runParams({ exploration: { epsilon: 0.05, scale: 0.1 } });
    const e = evaluateCandidate({ run: explicit }, ranksRight.candidate, ranksRight.rounds, noCurrent);
    expect(e.exploration).toMatchObject({ source: 'settings', scale: 0.1, currentScale: 0.1, delta: null, grid: [] });
    expect(e.exploration.why).toMatch(/settings give exploration\.scale = 0\.1, λs and λa: nothing was searched/);
    // The candidate is the one served with 0.1 (the search's grid point 0.1 has the same estimate, at another δ).
    const search = evaluateCandidate({ run: searched }, ranksRight.candidate, ranksRight.rounds, noCurrent);
    const atTenth = search.exploration.grid.find((g) => g.scale === 0.1)!;
    expect(e.candidate!.estimates.dr!.value).toBeCloseTo(estimateOf(atTenth), 12);
    expect(e.candidate!.lowerBound!).toBeGreaterThan(atTenth.lowerBound!); // the full δ: a tighter bound
    expect(settingsChoiceHtml(e.exploration)).toContain('nothing was searched');
    // A scale given, the λs left out: the multipliers are searched at that scale.
    const scaleGiven = runParams({ priors: {}, exploration: { epsilon: 0.05, scale: 0.1 } });
    const m = evaluateCandidate({ run: scaleGiven }, misleads.candidate, misleads.rounds, noCurrent).exploration;
    expect(m.source).toBe('search');
    expect(m.grid.map((g) => [g.scale, g.priorScale!.shared, g.priorScale!.action])).toEqual(
      MULTIPLIERS.map(([shared, action]) => [0.1, shared, action]),
    );
  });

  it('reports every grid point in the HTML page and marks the one chosen', () => {
    const choice = evaluateCandidate({ run: learned }, misleads.candidate, misleads.rounds, noCurrent).exploration;
    const html = settingsChoiceHtml(choice);
    expect(html.match(/<tr/g)).toHaveLength(1 + 8);
    expect(html.match(/\(chosen\)/g)).toHaveLength(1);
    for (const g of choice.grid) expect(html).toContain(g.lowerBound!.toPrecision(4));
  });
});
