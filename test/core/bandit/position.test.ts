import { describe, expect, it } from 'vitest';
import { collapseSlots, examinationRatios, type SlotStats } from '../../../shared/core/bandit/position.ts';
import { type ActionStats, addObservation, addReward, emptyStats } from '../../../shared/core/bandit/stats.ts';
import { createRng } from '../../../shared/core/random.ts';

/*
 * Specification (shared/core/bandit/position.ts): E[r | x, a, slot j] = κ_j · xᵀw_a with κ_1 = 1; κ is estimated
 * from per-slot statistics alone, and collapsing puts every slot's observations in slot-1 units
 * (Sxx = Σ κ_j² Sxx_j, Sxr = Σ κ_j Sxr_j). The world below is written from that model, not from the code: a policy
 * that puts the better actions higher, so the raw click rate per slot confounds position with quality.
 */
const D = 4;

function world(seed: number, kappa: number[], rounds: number, unit = 1) {
  const rng = createRng(seed);
  const K = 8;
  const w = Array.from({ length: K }, (_, a) =>
    Float64Array.from({ length: D }, (_, i) => (i === 0 ? 0.15 + 0.05 * a : 0.05 * rng.normal())),
  );
  const stats: ActionStats[][] = Array.from({ length: K }, () => kappa.map(() => emptyStats(D)));
  const raw: { a: number; j: number; x: Float64Array; r: number }[] = [];
  for (let t = 0; t < rounds; t++) {
    const x = Float64Array.of(1, rng.normal(), rng.normal(), rng.normal());
    const mean = (a: number) => x.reduce((s, v, i) => s + v * w[a]![i]!, 0);
    // Better actions go higher most of the time: sort by a noisy mean.
    const order = Array.from({ length: K }, (_, a) => a)
      .map((a) => ({ a, key: mean(a) + 0.05 * rng.normal() }))
      .sort((p, q) => q.key - p.key)
      .map((o) => o.a);
    kappa.forEach((k, j) => {
      const a = order[j]!;
      const p = Math.min(1, Math.max(0, k * mean(a)));
      const r = rng.next() < p ? unit : 0;
      addObservation(stats[a]![j]!, x, 0);
      if (r !== 0) addReward(stats[a]![j]!, x, r);
      raw.push({ a, j, x, r });
    });
  }
  return { stats: stats as SlotStats[], raw };
}

describe('position effects: examination ratios from per-slot statistics', () => {
  it('recovers κ = (1, 0.6, 0.3) within 0.06 where the raw click-rate ratio per slot is biased by who is shown lower', () => {
    const truth = [1, 0.6, 0.3];
    const { stats, raw } = world(1, truth, 20000);
    const kappa = examinationRatios(stats, D);
    expect(kappa[0]).toBe(1);
    expect(Math.abs(kappa[1]! - truth[1]!)).toBeLessThan(0.06);
    expect(Math.abs(kappa[2]! - truth[2]!)).toBeLessThan(0.06);
    // The naive estimate: mean reward in slot j over mean reward in slot 1. Weaker actions sit lower, so it
    // attributes their weakness to the position.
    const rate = (j: number) => {
      const xs = raw.filter((o) => o.j === j);
      return xs.reduce((s, o) => s + o.r, 0) / xs.length;
    };
    console.log(
      `κ̂ = ${kappa.map((k) => k.toFixed(3)).join(', ')}; raw rate ratios ${(rate(1) / rate(0)).toFixed(3)}, ${(rate(2) / rate(0)).toFixed(3)}`,
    );
    expect(truth[2]! - rate(2) / rate(0)).toBeGreaterThan(0.05);
  });

  it('stays near the truth with fewer observations per action than context entries (d = 64, 60 per action)', () => {
    // A fit of every context entry per action overfits here (its κ̂ reached the clamp, 2); the spec's fit has one
    // intercept per action and context effects shared by all.
    const rng = createRng(5);
    const d = 64;
    const truth = [1, 0.5, 0.25];
    const actions: SlotStats[] = [];
    for (let a = 0; a < 100; a++) {
      const w = Float64Array.from({ length: d }, (_, i) => (i === 0 ? 0.3 : 0.05 * rng.normal()));
      const slots = truth.map(() => emptyStats(d));
      for (let t = 0; t < 60; t++) {
        const x = Float64Array.from({ length: d }, (_, i) => (i === 0 ? 1 : 0.5 * rng.normal()));
        const rho = Math.min(
          1,
          Math.max(
            0,
            x.reduce((v, xi, i) => v + xi * w[i]!, 0),
          ),
        );
        const j = rng.int(3);
        addObservation(slots[j]!, x, 0);
        if (rng.next() < truth[j]! * rho) addReward(slots[j]!, x, 1);
      }
      actions.push(slots);
    }
    const kappa = examinationRatios(actions, d);
    expect(Math.abs(kappa[1]! - 0.5)).toBeLessThan(0.1);
    expect(Math.abs(kappa[2]! - 0.25)).toBeLessThan(0.1);
  });

  it('is unit-free: rewards of 0/50 give the same κ as 0/1', () => {
    const a = examinationRatios(world(2, [1, 0.5], 4000).stats, D);
    const b = examinationRatios(world(2, [1, 0.5], 4000, 50).stats, D);
    expect(b[1]).toBeCloseTo(a[1]!, 9);
  });

  it('without lower slots, or without data in them, κ is [1]', () => {
    expect(examinationRatios(world(3, [1], 200).stats, D)).toEqual([1]);
    expect(examinationRatios([[emptyStats(D), emptyStats(D)]], D)).toEqual([1]);
  });

  it('collapsing equals the statistics of the raw observations with features κ_j x, and κ = 0 leaves a slot out', () => {
    const kappa = [1, 0.6, 0.3];
    const { stats, raw } = world(4, kappa, 500);
    const k = [1, 0.55, 0];
    for (let a = 0; a < 8; a++) {
      const expected = emptyStats(D);
      let sumR = 0;
      let sumR2 = 0;
      for (const o of raw) {
        if (o.a !== a || k[o.j] === 0) continue;
        // r ≈ κ_j xᵀw: a least-squares observation with features κ_j x and target r.
        addObservation(
          expected,
          o.x.map((v) => v * k[o.j]!),
          0,
        );
        if (o.r !== 0)
          addReward(
            expected,
            o.x.map((v) => v * k[o.j]!),
            o.r,
          );
        sumR += o.r;
        sumR2 += o.r * o.r;
      }
      const got = collapseSlots(stats[a]!, k, D);
      expect(got.n).toBe(expected.n);
      expect(got.sumR).toBeCloseTo(sumR, 9);
      expect(got.sumR2).toBeCloseTo(sumR2, 9);
      for (const [i, v] of got.sxx.entries()) expect(v).toBeCloseTo(expected.sxx[i]!, 9);
      for (const [i, v] of got.sxr.entries()) expect(v).toBeCloseTo(expected.sxr[i]!, 9);
    }
  });
});
