/**
 * The promotion gate judges the policy that will serve. With objectives in intent mode, serving follows the
 * intent-selected objective's posterior, which can prefer other actions than the global (`default`) posterior
 * trained on the same log: the gate must evaluate the former.
 *
 * The world (pure, from a seeded generator): three actions with the same features, shown uniformly at random
 * (propensity 1/3); A earns an install (objective `install`, worth 1) with probability 0.7, B and C a purchase
 * (objective `purchase`, worth 1) with probability 0.45 each; both objectives weigh 1, so the global reward, which
 * the held-out rounds carry, is install + purchase. Under the logging policy a decision reaches `purchase` with
 * probability 2 × 0.45 / 3 = 0.3 and `install` with 0.7 / 3 ≈ 0.233, so intent mode serves every user from the
 * `purchase` posterior (0.3 × 1 × 1 > 0.233 × 1 × 1), which prefers B or C: worth 0.45 per decision, while the
 * `default` posterior prefers A, worth 0.7. Expected values below follow from these rates alone.
 */
import { describe, expect, it } from 'vitest';
import { evaluateCandidate } from '../../shared/app/retrain/evaluate.ts';
import { fitModel } from '../../shared/app/retrain/fit.ts';
import { aggregateRecords } from '../../shared/app/retrain/join-bucket.ts';
import { HOUR_MS, type LakeDecision, type LakeEvent } from '../../shared/app/retrain/lake.ts';
import { createRng } from '../../shared/core/random.ts';
import { DAY, lakeDecision, runParams, T0 } from './support.ts';

const D0 = T0 / DAY;
const EPSILON = 0.05;
const INSTALL = 0.7;
const PURCHASE = 0.45;
const UNIFORM_VALUE = (INSTALL + 2 * PURCHASE) / 3;
/** Serving: B or C (either is worth 0.45) except for the ε share, which is uniform. */
const SERVING_VALUE = (1 - EPSILON) * PURCHASE + EPSILON * UNIFORM_VALUE;
/** What Thompson sampling over the `default` posterior would be worth: A except for the ε share. */
const DEFAULT_POSTERIOR_VALUE = (1 - EPSILON) * INSTALL + EPSILON * UNIFORM_VALUE;

const objectives: LakeDecision['objectives'] = [
  { name: 'install', events: { app_install: 1 }, attributionWindowSeconds: 3600, weight: 1 },
  { name: 'purchase', events: { purchase: 1 }, attributionWindowSeconds: 3600, weight: 1 },
];
const run = runParams({
  cutoffBucket: D0 + 2,
  holdoutFromBucket: D0 + 1,
  exploration: { epsilon: EPSILON, scale: 1 },
  objectives: objectives.map((o) => ({ name: o.name, weight: o.weight })),
  combine: { mode: 'intent', minOutcomes: 30 },
  minEvalRounds: 200,
});

/** `n` uniformly logged decisions on day `day`, and the events they earn. */
function log(day: number, n: number, seed: number): { decisions: LakeDecision[]; events: LakeEvent[] } {
  const rng = createRng(seed);
  const decisions: LakeDecision[] = [];
  const events: LakeEvent[] = [];
  for (let i = 0; i < n; i++) {
    const id = `d${day}-${i}`;
    const at = day * DAY + HOUR_MS + i;
    const chosen = (['A', 'B', 'C'] as const)[rng.int(3)]!;
    decisions.push(
      lakeDecision(id, at, { candidates: ['A', 'B', 'C'], chosen: [chosen], propensity: 1 / 3, objectives }),
    );
    const earned = chosen === 'A' ? rng.next() < INSTALL && 'app_install' : rng.next() < PURCHASE && 'purchase';
    if (earned) {
      events.push({
        kind: 'event',
        event: { eventId: `e-${id}`, userId: `u-${id}`, decisionId: id, type: earned },
        receivedAt: at + 1000,
      });
    }
  }
  return { decisions, events };
}

const train = log(D0, 3000, 1);
const holdout = log(D0 + 1, 6000, 2);
const reduced = aggregateRecords(run, {
  decisions: [...train.decisions, ...holdout.decisions],
  events: [...train.events, ...holdout.events],
});
const { model } = fitModel(run, reduced, []);
const value = (r: { estimates: Record<string, { value: number } | null>; recommended: string } | null) =>
  r?.estimates[r.recommended]?.value ?? Number.NaN;

describe('the promotion gate evaluates the serving policy (intent mode)', () => {
  it('refuses a candidate whose served policy is worse than the current one, though its global posterior is better', () => {
    // Current: nothing learned yet, so every action is alike and it serves uniformly (worth ≈ 0.533).
    const e = evaluateCandidate({ run }, model, reduced.holdout, { catalog: [], online: [], active: undefined });
    expect(reduced.holdout).toHaveLength(6000);
    expect(e.promote).toBe(false);
    expect(e.reasons).toEqual([expect.stringMatching(/lower bound .* is below the current model's estimated value/)]);
    // The candidate is judged as it would serve: ≈ 0.454, not the ≈ 0.692 of its global posterior.
    expect(Math.abs(value(e.candidate) - SERVING_VALUE)).toBeLessThan(0.03);
    expect(Math.abs(value(e.current) - UNIFORM_VALUE)).toBeLessThan(0.03);
    expect(DEFAULT_POSTERIOR_VALUE - SERVING_VALUE).toBeGreaterThan(0.2); // the two readings are far apart
  });

  it('judges the current model as it serves too: its online statistics per objective, intent models included', () => {
    // The current model learned online what the candidate learned offline (every objective, days before the slice).
    const online = [...model.objectives].flatMap(([objective, o]) =>
      [...o.evaluation].map(([actionId, stats]) => ({ objective, actionId, bucket: D0, slot: 1, stats })),
    );
    const e = evaluateCandidate({ run }, model, reduced.holdout, { catalog: [], online, active: undefined });
    expect(Math.abs(value(e.current) - SERVING_VALUE)).toBeLessThan(0.03);
    expect(Math.abs(value(e.current) - value(e.candidate))).toBeLessThan(1e-9); // the same statistics, the same policy
  });
});
