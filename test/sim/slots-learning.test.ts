import { describe, expect, it } from 'vitest';
import { mean, runSlotsLearning } from '../../bench/sim/slots-learning.bench.ts';

/*
 * Issue 16, item 2, through the whole engine: the world and the three fixed position rules compared with the
 * engine's are in bench/sim/slots-learning.bench.ts (written from the position-based click model, not from the
 * engine); the benchmark runs them on 10 seeds and both catalogs (BENCHMARKS.md "Several slots: learning").
 */
function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

describe('several slots: learning from every slot in slot-1 units', () => {
  it('slot-aware learning earns more of the best page than learning from slot 1 only', async () => {
    const r = await runSlotsLearning({ seeds: [1, 2, 3], newcomer: false, rules: ['slot-aware', 'slot 1 only'] });
    const aware = mean(r.rules['slot-aware']!.share);
    const first = mean(r.rules['slot 1 only']!.share);
    console.log(`fixed catalog, page share: slot-aware ${aware.toFixed(3)}, slot 1 only ${first.toFixed(3)}`);
    expect(aware).toBeGreaterThan(first + 0.05);
  }, 300_000);

  it('learns how much attention the lower slots get from the traffic the engine itself placed (median over 10 worlds)', async () => {
    // One world's κ is only as good as its overlap, and the engine rarely shows slot 1's winner lower: on seed 15 it
    // did so 22 times in 1,600 decisions and κ₂ came out 1.00 (the code before the λs interval rule too, whose
    // per-seed check here passed on seeds 1–3 by luck). So κ is checked as an estimator is, over independent worlds:
    // the median within 0.1 of the world's (1, 0.5, 0.25), which pooled slots (κ = 1) or slot 1 alone (κ = 0) miss by
    // far. That it corrects the bias of who is shown lower, which this world makes small (the raw click-rate ratio's
    // median is 0.44 / 0.17), is test/core/bandit/position.test.ts's job, on a world where that bias is large.
    const seeds = Array.from({ length: 10 }, (_, i) => i + 1);
    const { kappa } = (await runSlotsLearning({ seeds, newcomer: false, rules: ['slot-aware'] })).rules['slot-aware']!;
    console.log(`κ per world: ${kappa.map((k) => k.map((v) => v.toFixed(2)).join('/')).join('; ')}`);
    for (const k of kappa) expect(k[0]).toBe(1);
    expect(Math.abs(median(kappa.map((k) => k[1]!)) - 0.5)).toBeLessThan(0.1);
    expect(Math.abs(median(kappa.map((k) => k[2]!)) - 0.25)).toBeLessThan(0.1);
  }, 300_000);

  it('a strong newcomer, first shown below the established actions, is not held down by its lower slots as pooling them does', async () => {
    // Per seed the newcomer's share of slot 1 is nearly all or nothing (0.00 to 0.90 on the same rule), so the mean
    // needs a dozen seeds: over 6 the margin moved by 0.1 with the last bits of the coverage rule's arithmetic.
    const seeds = Array.from({ length: 12 }, (_, i) => i + 1);
    const r = await runSlotsLearning({ seeds, newcomer: true, rules: ['slot-aware', 'pooled'] });
    const top = (k: string) => mean(r.rules[k]!.newcomerTop);
    console.log(`newcomer in slot 1: slot-aware ${top('slot-aware').toFixed(3)}, pooled ${top('pooled').toFixed(3)}`);
    expect(top('slot-aware')).toBeGreaterThan(top('pooled') + 0.1);
  }, 300_000);
});
