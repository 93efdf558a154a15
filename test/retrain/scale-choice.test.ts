/**
 * The Thompson scale chosen offline (shared/app/retrain/evaluate.ts): when the decision point's settings leave
 * `exploration.scale` out, the run evaluates the candidate served with each scale of the grid on the held-out rounds
 * and takes the scale with the highest lower bound; the gate then judges the candidate served with that scale.
 *
 * The worlds (pure, seeded): two actions with the same features and one context, logged uniformly (propensity 1/2),
 * so a policy's value is P(A)·r_A + P(B)·r_B. The candidate is trained on three outcomes per action, so its posterior
 * is wide and the scale matters (and fewer than d = 4 observations never pass the coverage rule, so each action keeps
 * its full Thompson variance):
 * - `ranksRight`: the candidate's means rank A above B, and A is better (0.8 against 0.2): the closer to greedy, the
 *   more A, so no step up the grid gains value and plain Thompson sampling (1) loses some; the grid's two smallest
 *   scales (0.005 and 0.02) are both greedy in effect here (the draws never cross), so they tie;
 * - `misleads`: the candidate's means rank B above A, but A is better (0.9 against 0.3): the wider the draws, the
 *   more often A wins, so the largest scale is best.
 * Which scale is best follows from these facts alone; the rule (highest lower bound) is checked against the report.
 */
import { describe, expect, it } from 'vitest';
import type { HoldoutRound } from '../../shared/app/retrain/aggregate.ts';
import { type CurrentModelInput, evaluateCandidate } from '../../shared/app/retrain/evaluate.ts';
import type { OfflineModel } from '../../shared/app/retrain/fit.ts';
import { scaleChoiceHtml } from '../../shared/app/retrain/report-html.ts';
import type { ScaleChoice } from '../../shared/app/retrain/run-context.ts';
import { type ActionStats, addObservation, emptyStats } from '../../shared/core/bandit/stats.ts';
import { DEFAULT_OBJECTIVE } from '../../shared/core/domain.ts';
import { createRng } from '../../shared/core/random.ts';
import { runParams } from './support.ts';

const X = [1, 0, 0, 0];
const searched = runParams({ exploration: { epsilon: 0.05 } });
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

const estimateOf = (g: ScaleChoice['grid'][number]) => g.estimate!.value;
const best = (choice: ScaleChoice) =>
  choice.grid.reduce((b, g) => (g.lowerBound! > b.lowerBound! ? g : b), choice.grid[0]!);

describe('the Thompson scale chosen offline when the settings leave it out', () => {
  it('takes the grid’s highest lower bound, near-greedy when the candidate ranks the actions right', () => {
    const e = evaluateCandidate({ run: searched }, ranksRight.candidate, ranksRight.rounds, noCurrent);
    const choice = e.exploration;
    expect(choice.source).toBe('search');
    // The report lists every grid point, in order, each with an estimate and a lower bound.
    expect(choice.grid.map((g) => g.scale)).toEqual([0.005, 0.02, 0.1, 1]);
    for (const g of choice.grid) {
      expect(g.estimate).not.toBeNull();
      expect(g.lowerBound).not.toBeNull();
    }
    // The world says greedier is better: no step up the grid gains value, and plain Thompson sampling loses some.
    const values = choice.grid.map(estimateOf);
    for (let i = 1; i < values.length; i++) expect(values[i]!).toBeLessThanOrEqual(values[i - 1]!);
    expect(values[3]!).toBeLessThan(values[0]!);
    // 0.005 and 0.02 tie, and 0.02 serves now (the default with one objective before any promotion): a tie keeps it.
    expect(best(choice).lowerBound).toBe(choice.grid[1]!.lowerBound);
    expect(choice.scale).toBe(0.02);
    expect(choice.currentScale).toBe(0.02);
    expect(choice.why).toMatch(/tied with .*; it is the scale that serves now, which a tie keeps/);
    // Each bound takes a quarter of δ, so the chosen one is still a 1 − δ bound.
    expect(choice.delta).toBeCloseTo(searched.delta / 4, 15);
    // The gate judges exactly the chosen point: the candidate served with scale 0.02.
    expect(e.candidate!.lowerBound).toBe(best(choice).lowerBound);
    expect(e.candidate!.estimates.dr!.value).toBe(estimateOf(best(choice)));
    expect(e.promote).toBe(true);
  });

  it('takes the largest scale when the candidate’s means mislead, so wider draws find the better action', () => {
    const choice = evaluateCandidate({ run: searched }, misleads.candidate, misleads.rounds, noCurrent).exploration;
    const values = choice.grid.map(estimateOf);
    for (let i = 1; i < values.length; i++) expect(values[i]!).toBeGreaterThan(values[i - 1]!);
    expect(choice.scale).toBe(best(choice).scale);
    expect(choice.scale).toBe(1);
  });

  it('judges the current model with the scale that serves now: the active model’s', () => {
    // The current model holds the candidate's very statistics and was promoted with scale 1.
    const stats = ranksRight.candidate.objectives.get(DEFAULT_OBJECTIVE)!.evaluation;
    const current: CurrentModelInput = {
      catalog: [],
      online: [],
      active: {
        version: 'm-old',
        cutoffBucket: 0,
        itemVersion: 1,
        stats: new Map([[DEFAULT_OBJECTIVE, stats]]),
        settings: { scale: 1 },
      },
    };
    const e = evaluateCandidate({ run: searched }, ranksRight.candidate, ranksRight.rounds, current);
    expect(e.exploration.currentScale).toBe(1);
    const atOne = e.exploration.grid.find((g) => g.scale === 1)!;
    // Same statistics, same scale, same rounds: the same policy, so the same estimate.
    expect(e.current!.estimates.dr!.value).toBeCloseTo(estimateOf(atOne), 12);
    expect(e.exploration.why).toMatch(/changes the serving scale from 1 to 0\.005/);
  });

  it('keeps the scale that serves now on a tie: a candidate that knows nothing serves alike at every scale', () => {
    const blank = candidateOf(new Map());
    const current: CurrentModelInput = {
      ...noCurrent,
      active: { version: 'm-old', cutoffBucket: 0, itemVersion: 1, stats: new Map(), settings: { scale: 0.1 } },
    };
    const withActive = evaluateCandidate({ run: searched }, blank, ranksRight.rounds, current).exploration;
    expect(withActive.scale).toBe(0.1);
    expect(withActive.why).toMatch(/tied with .*; it is the scale that serves now, which a tie keeps/);
    // Before any promotion the default serves (0.02 with one objective), so it is kept.
    expect(evaluateCandidate({ run: searched }, blank, ranksRight.rounds, noCurrent).exploration.scale).toBe(0.02);
  });

  it('keeps the scale that serves now when no grid point has a lower bound (no propensities), and the gate refuses', () => {
    const rounds = heldOut({ A: 0.8, B: 0.2 }, 400, 3, false);
    const e = evaluateCandidate({ run: searched }, ranksRight.candidate, rounds, noCurrent);
    expect(e.exploration.grid.map((g) => g.lowerBound)).toEqual([null, null, null, null]);
    expect(e.exploration.scale).toBe(0.02);
    expect(e.exploration.why).toMatch(/no grid point has a lower bound/);
    expect(e.promote).toBe(false);
  });

  it('searches nothing when the settings give the scale, and says so', () => {
    const explicit = runParams({ exploration: { epsilon: 0.05, scale: 0.1 } });
    const e = evaluateCandidate({ run: explicit }, ranksRight.candidate, ranksRight.rounds, noCurrent);
    expect(e.exploration).toMatchObject({ source: 'settings', scale: 0.1, currentScale: 0.1, delta: null, grid: [] });
    expect(e.exploration.why).toMatch(/settings give exploration\.scale = 0\.1: no scale was searched/);
    // The candidate is the one served with 0.1 (the search's grid point 0.1 has the same estimate, at another δ).
    const search = evaluateCandidate({ run: searched }, ranksRight.candidate, ranksRight.rounds, noCurrent);
    const atTenth = search.exploration.grid.find((g) => g.scale === 0.1)!;
    expect(e.candidate!.estimates.dr!.value).toBeCloseTo(estimateOf(atTenth), 12);
    expect(e.candidate!.lowerBound!).toBeGreaterThan(atTenth.lowerBound!); // the full δ: a tighter bound
    expect(scaleChoiceHtml(e.exploration)).toContain('no scale was searched');
  });

  it('reports every grid point in the HTML page and marks the one chosen', () => {
    const choice = evaluateCandidate({ run: searched }, ranksRight.candidate, ranksRight.rounds, noCurrent).exploration;
    const html = scaleChoiceHtml(choice);
    expect(html.match(/<tr/g)).toHaveLength(1 + 4);
    expect(html).toContain('0.02000 (chosen)');
    for (const g of choice.grid) expect(html).toContain(g.lowerBound!.toPrecision(4));
  });
});
