/**
 * The policy the promotion gate evaluates is the policy `decide` serves. For a fixed model with objectives (an active
 * offline model plus online statistics, in the in-memory state store), the frequency with which decide() picks each
 * slot-1 action over many draws matches, within binomial tolerance, the probabilities the gate's target policies
 * (current and candidate) give the same context and candidates, in weighted mode, in intent mode (per context) and in
 * intent mode's fallback to the global policy.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../shared/adapters/memory/state-store.ts';
import { CatalogService } from '../../shared/app/catalog/catalog.ts';
import { DecisionService } from '../../shared/app/decide/decide.ts';
import { ModelCache } from '../../shared/app/decide/model-cache.ts';
import { currentModelInput, gatePolicies } from '../../shared/app/retrain/evaluate.ts';
import type { OfflineModel } from '../../shared/app/retrain/fit.ts';
import { scoreInto } from '../../shared/core/bandit/score.ts';
import { type ActionStats, addObservation, emptyStats, mergeStats } from '../../shared/core/bandit/stats.ts';
import { argmaxProbabilities } from '../../shared/core/bandit/thompson.ts';
import { BUCKET_MS, DEFAULT_OBJECTIVE, INTENT_ACTION, intentObjective } from '../../shared/core/domain.ts';
import type { Round } from '../../shared/core/evaluation/types.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { compoundEventObjectives } from '../../shared/core/feedback/reward.ts';
import { explorationFloor } from '../../shared/core/policy/serving-policy.ts';
import { createRng } from '../../shared/core/random.ts';
import type { DecisionPointSettingsInput } from '../../shared/core/schemas.ts';
import { runParams } from '../retrain/support.ts';
import { catalogResolver } from '../support/catalog-resolver.ts';
import { recordingStream, statsItemOf } from '../support/records.ts';

const D = 4;
const NOW = 1_700_000_000_000;
const CUTOFF = Math.floor(NOW / BUCKET_MS) - 3;
const ACTIONS = ['a', 'b', 'c'] as const;
const SEGMENTS = ['buyer', 'installer'] as const;
type Segment = (typeof SEGMENTS)[number];
const xOf = (segment: Segment) => encodeFeatures({ segment }, D);

/**
 * Observations per segment and action, with the share that earned the objective's reward. `p` (a purchase worth 5)
 * and `q` (a click worth 1, weight 3) pull different ways. The global policy's statistics are other data on purpose
 * (as after a change of weights, when it learned Σ w_k r_k under the old ones), so a target built from the global
 * posterior alone would be told apart from the serving policy.
 */
const WORLD: Record<string, { value: number; rate: Record<Segment, Record<(typeof ACTIONS)[number], number>> }> = {
  p: { value: 5, rate: { buyer: { a: 0.1, b: 0.4, c: 0.25 }, installer: { a: 0.05, b: 0.1, c: 0.05 } } },
  q: { value: 1, rate: { buyer: { a: 0.5, b: 0.1, c: 0.3 }, installer: { a: 0.6, b: 0.2, c: 0.5 } } },
  [DEFAULT_OBJECTIVE]: {
    value: 5,
    rate: { buyer: { a: 0.3, b: 0.2, c: 0.3 }, installer: { a: 0.05, b: 0.1, c: 0.05 } },
  },
};
/** Share of decisions that reached each objective, per segment (the intent models' labels). */
const REACHED: Record<string, Record<Segment, number>> = {
  p: { buyer: 0.3, installer: 0.05 },
  q: { buyer: 0.2, installer: 0.5 },
};
const PER_SEGMENT = 12;
const INTENT_DECISIONS = 100;

function observations(n: number, x: Float64Array, rate: number, value: number): ActionStats {
  const s = emptyStats(D);
  const hits = Math.round(rate * n);
  for (let i = 0; i < n; i++) addObservation(s, x, i < hits ? value : 0);
  return s;
}

/** The served statistics, per objective and action, split by segment (buyers' in the offline model, installers' online). */
function served(segment: Segment): Map<string, Map<string, ActionStats>> {
  const out = new Map<string, Map<string, ActionStats>>();
  for (const [objective, w] of Object.entries(WORLD)) {
    out.set(
      objective,
      new Map(ACTIONS.map((id) => [id, observations(PER_SEGMENT, xOf(segment), w.rate[segment][id], w.value)])),
    );
  }
  for (const [objective, r] of Object.entries(REACHED)) {
    out.set(
      intentObjective(objective),
      new Map([[INTENT_ACTION, observations(INTENT_DECISIONS, xOf(segment), r[segment], 1)]]),
    );
  }
  return out;
}

const baseSettings: DecisionPointSettingsInput = {
  contextDim: D,
  actionDim: 4,
  exploration: { epsilon: 0.1, scale: 1 },
  objectives: [
    { name: 'p', events: { purchase: 5 } },
    { name: 'q', events: { click: 1 }, weight: 3 },
  ],
};

/** A decision point serving the fixed model: an active offline model, online statistics after its cutoff, and a day before the cutoff that both serving and the gate must ignore. */
async function fixture(combine: DecisionPointSettingsInput['combine']) {
  const state = new MemoryStateStore();
  const models = new ModelCache(state, { refreshMs: Number.POSITIVE_INFINITY, now: () => NOW });
  const catalog = new CatalogService(state, models, () => NOW);
  const { decisionPoint: dp } = await catalog.putDecisionPoint('dp', { ...baseSettings, combine });
  for (const id of ACTIONS) await catalog.putAction('dp', id, { features: { k: id } });
  const base = served('buyer');
  const online = served('installer');
  // A day before the offline model's cutoff (counted in the model already), all for action a: if serving or the gate
  // read it, a would win everywhere.
  const ignored = served('buyer');
  for (const objective of Object.keys(WORLD)) {
    mergeStats(ignored.get(objective)!.get('a')!, observations(200, xOf('buyer'), 1, WORLD[objective]!.value));
  }
  await state.putBaseStats(
    [...base].flatMap(([objective, t]) =>
      [...t].map(([actionId, stats]) => ({
        decisionPoint: 'dp',
        version: 'm1',
        objective,
        actionId,
        stats,
        updatedAt: NOW,
      })),
    ),
  );
  await state.putActiveModel(
    {
      decisionPoint: 'dp',
      version: 'm1',
      cutoffBucket: CUTOFF,
      promotedAt: NOW,
      history: [],
      itemVersion: 1,
      updatedAt: NOW,
    },
    undefined,
  );
  for (const [bucket, stats] of [
    [CUTOFF + 1, online],
    [CUTOFF - 1, ignored],
  ] as const) {
    for (const [objective, t] of stats) {
      for (const [actionId, s] of t) {
        await state.putStats(statsItemOf({ objective, actionId, bucket, stats: s, at: NOW }), undefined);
      }
    }
  }
  const { records, stream } = recordingStream();
  const service = new DecisionService({
    models,
    stream,
    rng: createRng(11),
    now: () => NOW,
  });
  // The gate's view of the same model: the current model (held-out slice after every online day) and a candidate
  // whose statistics are those that serve.
  const s = dp.settings;
  const run = runParams({
    decisionPoint: 'dp',
    contextDim: s.contextDim,
    actionDim: s.actionDim,
    priors: s.priors,
    exploration: s.exploration,
    compoundEvents: compoundEventObjectives(s),
    objectives: s.objectives.map((o) => ({ name: o.name, weight: o.weight })),
    combine: s.combine,
    cutoffBucket: CUTOFF + 3,
    holdoutFromBucket: CUTOFF + 2,
  });
  const sum = new Map<string, Map<string, ActionStats>>();
  for (const t of [base, online]) {
    for (const [objective, byAction] of t) {
      const into = sum.get(objective) ?? new Map<string, ActionStats>();
      sum.set(objective, into);
      for (const [id, st] of byAction) {
        const acc = into.get(id) ?? emptyStats(D);
        mergeStats(acc, st);
        into.set(id, acc);
      }
    }
  }
  const candidate: OfflineModel = {
    version: 'm2',
    decisionPoint: 'dp',
    cutoffBucket: CUTOFF + 3,
    holdoutFromBucket: CUTOFF + 2,
    d: D,
    objectives: new Map([...sum].map(([name, m]) => [name, { final: m, evaluation: m }])),
    features: new Map(),
    diagnostics: {},
    carriedOverBuckets: [],
    extensions: {},
  };
  const policies = gatePolicies(run, candidate, [], currentModelInput(await state.loadChanges('dp', 0)));
  return { service, models, records, policies, candidatesOf: catalogResolver() };
}

const N = 4000;

/** Draws N decisions for one context; the slot-1 frequencies next to the gate's probabilities for the logged round. */
async function compare(f: Awaited<ReturnType<typeof fixture>>, segment: Segment) {
  f.records.length = 0;
  const counts = new Map<string, number>();
  let objective = '';
  for (let i = 0; i < N; i++) {
    const d = await f.service.decide({ decisionPoint: 'dp', userId: `u${i}`, context: { segment }, slots: 1 });
    counts.set(d.chosen[0]!, (counts.get(d.chosen[0]!) ?? 0) + 1);
    objective = d.objective;
  }
  const logged = f.records[0]!;
  // Each record read as retraining reads it: a catalog reference resolved by a version an earlier record declared.
  const candidates = f.records.map(f.candidatesOf)[0]!;
  const round: Round = {
    context: Float64Array.from(logged.x),
    candidates: candidates.map((id) => ({ id })),
    chosenIndex: 0,
    reward: 0,
  };
  const k = round.candidates.length;
  const current = new Float64Array(k);
  const candidate = new Float64Array(k);
  f.policies.current.distribution(round, current);
  const { currentScale: scale, currentPriorScale: priorScale } = f.policies;
  f.policies.candidateAt({ scale, priorScale }).distribution(round, candidate);
  // What the gate evaluated before: Thompson sampling over the global posterior alone.
  const model = await f.models.get('dp');
  const idx = Int32Array.from(candidates, (id) => model.posterior.index.get(id)!);
  const mean = new Float64Array(k);
  const sd = new Float64Array(k);
  const globalOnly = new Float64Array(k);
  scoreInto(
    model.posterior,
    round.context as Float64Array,
    idx,
    model.decisionPoint.settings.exploration.scale ?? 1,
    mean,
    sd,
  );
  argmaxProbabilities(
    mean,
    sd,
    k,
    model.decisionPoint.settings.exploration.epsilon ??
      explorationFloor(model.decisions, k, model.decisionPoint.settings.objectives.length),
    globalOnly,
  );
  const freq = candidates.map((id) => (counts.get(id) ?? 0) / N);
  return { objective, freq, current, candidate, globalOnly };
}

/** 4.5 binomial standard deviations of a frequency over N draws (plus the quadrature's error). */
const tolerance = (p: number) => 4.5 * Math.sqrt((p * (1 - p)) / N) + 1e-6;

function expectSamePolicy(r: Awaited<ReturnType<typeof compare>>, label: string) {
  r.freq.forEach((f, i) => {
    expect(Math.abs(f - r.current[i]!), `${label}: current, action ${i}`).toBeLessThan(tolerance(r.current[i]!));
    expect(Math.abs(r.candidate[i]! - r.current[i]!), `${label}: candidate = current`).toBeLessThan(1e-9);
  });
  expect(
    r.freq.some((f, i) => Math.abs(f - r.globalOnly[i]!) > tolerance(r.globalOnly[i]!)),
    `${label}: the global posterior alone would be told apart`,
  ).toBe(true);
}

describe('the gate evaluates the policy decide serves', () => {
  it('weighted mode: decide’s slot-1 frequencies match the gate’s probabilities', async () => {
    const f = await fixture({ mode: 'weighted' });
    for (const segment of SEGMENTS) {
      const r = await compare(f, segment);
      expect(r.objective).toBe('weighted');
      expectSamePolicy(r, `weighted, ${segment}`);
    }
  });

  it('intent mode: per context the intent-selected objective serves, and the gate evaluates that policy', async () => {
    const f = await fixture({ mode: 'intent', minOutcomes: 10 });
    // P(reach k) × value per outcome (k's total reward ÷ its outcomes: 60/35 for p, 26/70 for q) × weight: buyers
    // ≈ 0.3 × 1.7 × 1 for p against ≈ 0.2 × 0.37 × 3 for q; installers ≈ 0.05 × 1.7 against ≈ 0.5 × 0.37 × 3.
    const expected: Record<Segment, string> = { buyer: 'p', installer: 'q' };
    for (const segment of SEGMENTS) {
      const r = await compare(f, segment);
      expect(r.objective, segment).toBe(expected[segment]);
      expectSamePolicy(r, `intent, ${segment}`);
    }
  });

  it('intent mode without enough outcomes: the global policy serves, and the gate evaluates that', async () => {
    const f = await fixture({ mode: 'intent', minOutcomes: 1_000_000 });
    const r = await compare(f, 'buyer');
    expect(r.objective).toBe(DEFAULT_OBJECTIVE);
    r.freq.forEach((f, i) => {
      expect(Math.abs(f - r.current[i]!), `fallback: action ${i}`).toBeLessThan(tolerance(r.current[i]!));
      expect(Math.abs(r.candidate[i]! - r.globalOnly[i]!)).toBeLessThan(1e-9);
    });
  });
});

describe('the gate evaluates the slots decide serves', () => {
  it("each lower slot's conditional probability in the gate is the propensity decide logged for it", async () => {
    const f = await fixture({ mode: 'weighted' });
    f.records.length = 0;
    for (let i = 0; i < 40; i++) {
      await f.service.decide({
        decisionPoint: 'dp',
        userId: `s${i}`,
        context: { segment: SEGMENTS[i % 2]! },
        slots: 3,
      });
    }
    const candidates = f.records.map(f.candidatesOf);
    f.records.forEach((logged, i) => {
      const ids = candidates[i]!;
      const round: Round = {
        context: Float64Array.from(logged.x),
        candidates: ids.map((id) => ({ id })),
        chosenIndex: 0,
        reward: 0,
      };
      const out = new Float64Array(ids.length);
      const chosen = logged.chosen.map((id) => ids.indexOf(id));
      expect(logged.slotPropensities).toHaveLength(3);
      chosen.forEach((c, j) => {
        f.policies.current.nextSlot!(round, chosen.slice(0, j), out);
        expect(Math.abs(out[c]! - logged.slotPropensities![j]!), `decision ${i}, slot ${j + 1}`).toBeLessThan(1e-9);
        for (const above of chosen.slice(0, j)) expect(out[above]).toBe(0);
      });
    });
  });
});
