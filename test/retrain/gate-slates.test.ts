/**
 * The promotion gate with several slots (shared/app/retrain/evaluate.ts, "Several slots"): the whole page is
 * evaluated with RIPS from the per-slot propensities the decisions logged, and the candidate must hold on it too.
 *
 * The world (pure, from a seeded generator): four actions with the same features, three slots filled uniformly without
 * replacement (propensities 1/4, 1/3, 1/2 given the slots above); slot j's action is clicked with probability
 * κ_j · ρ(action), κ = (1, 0.5, 0.25), ρ = (0.6, 0.4, 0.2, 0.1): a position-based click model. The current model
 * knows nothing and serves uniformly: its page is worth Σ κ_j × mean ρ = 1.75 × 0.325. The expected value of any policy
 * is computed below from κ and ρ by enumerating its slates.
 */
import { describe, expect, it } from 'vitest';
import { evaluateCandidate, gatePolicies } from '../../shared/app/retrain/evaluate.ts';
import { fitModel } from '../../shared/app/retrain/fit.ts';
import { aggregateRecords } from '../../shared/app/retrain/join-bucket.ts';
import { HOUR_MS, type LakeDecision, type LakeEvent } from '../../shared/app/retrain/lake.ts';
import type { Round, TargetPolicy } from '../../shared/core/evaluation/index.ts';
import { createRng } from '../../shared/core/random.ts';
import { DAY, lakeDecision, runParams, T0 } from './support.ts';

const D0 = T0 / DAY;
const ACTIONS = ['A', 'B', 'C', 'D'];
const RHO: Record<string, number> = { A: 0.6, B: 0.4, C: 0.2, D: 0.1 };
const KAPPA = [1, 0.5, 0.25];
const UNIFORM_PAGE = (1 + 0.5 + 0.25) * ((0.6 + 0.4 + 0.2 + 0.1) / 4);
const X = [1, 0, 0, 0];

const run = runParams({
  cutoffBucket: D0 + 2,
  holdoutFromBucket: D0 + 1,
  exploration: { epsilon: 0.05, scale: 1 },
  minEvalRounds: 200,
});

function log(day: number, n: number, seed: number): { decisions: LakeDecision[]; events: LakeEvent[] } {
  const rng = createRng(seed);
  const decisions: LakeDecision[] = [];
  const events: LakeEvent[] = [];
  for (let i = 0; i < n; i++) {
    const id = `d${day}-${i}`;
    const at = day * DAY + HOUR_MS + i;
    const left = [...ACTIONS];
    const chosen: string[] = [];
    const slotPropensities: number[] = [];
    for (let j = 0; j < 3; j++) {
      slotPropensities.push(1 / left.length);
      chosen.push(left.splice(rng.int(left.length), 1)[0]!);
    }
    decisions.push(
      lakeDecision(id, at, {
        x: X,
        candidates: ACTIONS,
        chosen,
        chosenFeatures: chosen.map(() => [1, 0]),
        propensity: slotPropensities[0]!,
        slotPropensities,
        rewards: { click: 1 },
      }),
    );
    chosen.forEach((a, j) => {
      if (rng.next() < KAPPA[j]! * RHO[a]!) {
        events.push({
          kind: 'event',
          event: { eventId: `e-${id}-${j}`, userId: `u-${id}`, decisionId: id, type: 'click', actionId: a },
          receivedAt: at + 1000,
        });
      }
    });
  }
  return { decisions, events };
}

/** A policy's exact page value in this world: every ordered slate of three, by its conditionals. */
function pageValue(policy: TargetPolicy): number {
  const round: Round = {
    context: Float64Array.from(X),
    candidates: ACTIONS.map((id) => ({ id })),
    chosenIndex: 0,
    reward: 0,
  };
  const out = new Float64Array(ACTIONS.length);
  const walk = (above: number[], p: number): number => {
    const j = above.length;
    if (j === 3) return 0;
    policy.nextSlot!(round, above, out);
    const probs = Float64Array.from(out);
    let v = 0;
    for (let a = 0; a < ACTIONS.length; a++) {
      if (above.includes(a) || probs[a] === 0) continue;
      const q = p * probs[a]!;
      v += q * KAPPA[j]! * RHO[ACTIONS[a]!]! + walk([...above, a], q);
    }
    return v;
  };
  return walk([], 1);
}

const train = log(D0, 4000, 1);
const holdout = log(D0 + 1, 6000, 2);
const reduced = aggregateRecords(run, {
  decisions: [...train.decisions, ...holdout.decisions],
  events: [...train.events, ...holdout.events],
});
const { model } = fitModel(run, reduced, []);

describe('the promotion gate with several slots', () => {
  it('evaluates the whole page with RIPS: intervals cover each policy’s exact page value, and a better candidate passes', () => {
    const current = { catalog: [], online: [], active: undefined };
    const e = evaluateCandidate({ run }, model, reduced.holdout, current);
    expect(reduced.holdout[0]!.slots).toHaveLength(3);
    const policies = gatePolicies(run, model, reduced.holdout, current);
    const truth = {
      candidate: pageValue(policies.candidateAt({ scale: e.exploration.scale, priorScale: e.exploration.priorScale! })),
      current: pageValue(policies.current),
    };
    expect(truth.current).toBeCloseTo(UNIFORM_PAGE, 6);
    expect(truth.candidate).toBeGreaterThan(truth.current + 0.1);
    const pages = e.pages!;
    console.log(
      `page values, exact: candidate ${truth.candidate.toFixed(4)}, current ${truth.current.toFixed(4)}; RIPS:`,
      pages.candidate.estimate,
      pages.current.estimate,
      `candidate's bound ${pages.candidate.lowerBound?.toFixed(4)}, ESS ${pages.candidate.ess?.toFixed(0)}`,
    );
    for (const [k, p] of [
      ['candidate', pages.candidate],
      ['current', pages.current],
    ] as const) {
      expect(p.estimator).toBe('rips');
      expect(p.estimate!.lower!, k).toBeLessThanOrEqual(truth[k]);
      expect(p.estimate!.upper!, k).toBeGreaterThanOrEqual(truth[k]);
    }
    expect(pages.candidate.lowerBound!).toBeLessThanOrEqual(truth.candidate);
    expect(pages.candidate.lowerBound!).toBeGreaterThan(truth.current);
    expect(e.reasons).toEqual([]);
    expect(e.promote).toBe(true);
  });

  it('refuses a candidate whose page bound is below the current page’s estimate, naming the whole page', () => {
    // The current model learned online exactly what the candidate did: its estimate is above the candidate's bound.
    const online = [...model.objectives].flatMap(([objective, o]) =>
      [...o.evaluation].map(([actionId, stats]) => ({ objective, actionId, bucket: D0, slot: 1, stats })),
    );
    const e = evaluateCandidate({ run }, model, reduced.holdout, { catalog: [], online, active: undefined });
    expect(e.promote).toBe(false);
    expect(e.reasons).toContainEqual(
      expect.stringMatching(/lower bound on the whole page's value .* is below the current model's/),
    );
  });
});
