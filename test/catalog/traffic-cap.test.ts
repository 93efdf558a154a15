import { describe, expect, it } from 'vitest';
import { addObservation, emptyStats } from '../../shared/core/bandit/stats.ts';
import { eligibleCandidates } from '../../shared/core/catalog/eligible.ts';
import { capAdmits } from '../../shared/core/catalog/traffic-cap.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { actionInputSchema, describeZodError } from '../../shared/core/schemas.ts';
import { action, all, idsOf, view } from './helpers.ts';

const N = 20_000;
/** 4 standard deviations of a binomial share: a correct cap fails this about once in 15,000 runs. */
const tolerance = (p: number) => 4 * Math.sqrt((p * (1 - p)) / N);

describe('capAdmits', () => {
  it('admits a share of decision keys equal to maxShare', () => {
    for (const share of [0.01, 0.1, 0.5]) {
      let admitted = 0;
      for (let i = 0; i < N; i++) if (capAdmits(`decision-${i}`, 'new-offer', share)) admitted++;
      expect(Math.abs(admitted / N - share)).toBeLessThan(tolerance(share));
    }
  });

  it('is deterministic per key and independent between actions', () => {
    expect(capAdmits('d-42', 'a', 0.3)).toBe(capAdmits('d-42', 'a', 0.3));
    let both = 0;
    for (let i = 0; i < N; i++) if (capAdmits(`d-${i}`, 'a', 0.5) && capAdmits(`d-${i}`, 'b', 0.5)) both++;
    expect(Math.abs(both / N - 0.25)).toBeLessThan(tolerance(0.25));
    expect(capAdmits('any', 'a', 1)).toBe(true);
  });
});

describe('new-action traffic cap as a candidate filter', () => {
  const capped = action('fresh', { trafficCapWhileNew: { maxShare: 0.2, untilImpressions: 50 } });
  const share = (v: ReturnType<typeof view>) => {
    let kept = 0;
    for (let i = 0; i < N; i++) {
      if (idsOf(v, eligibleCandidates(v, all(v), { context: {}, now: 0, key: `d-${i}` })).includes('fresh')) kept++;
    }
    return kept / N;
  };

  it('makes a new action a candidate in about maxShare of decisions and leaves the others untouched', () => {
    const v = view([capped, action('old')]);
    expect(Math.abs(share(v) - 0.2)).toBeLessThan(tolerance(0.2));
    for (let i = 0; i < 100; i++) {
      expect(idsOf(v, eligibleCandidates(v, all(v), { context: {}, now: 0, key: `d-${i}` }))).toContain('old');
    }
  });

  it('lifts the cap once the action has untilImpressions impressions', () => {
    const stats = emptyStats(4);
    const x = encodeFeatures({}, 4);
    for (let i = 0; i < 49; i++) addObservation(stats, x, 0);
    expect(share(view([capped], { fresh: stats }))).toBeLessThan(0.25);
    addObservation(stats, x, 0);
    expect(share(view([capped], { fresh: stats }))).toBe(1);
  });

  it('validates the cap: a share in (0, 1], a positive impression threshold defaulting to 1000', () => {
    expect(actionInputSchema.parse({ trafficCapWhileNew: { maxShare: 0.1 } }).trafficCapWhileNew).toEqual({
      maxShare: 0.1,
      untilImpressions: 1000,
    });
    for (const bad of [{ maxShare: 0 }, { maxShare: 1.5 }, { maxShare: 0.1, untilImpressions: 0 }, { share: 0.1 }]) {
      const r = actionInputSchema.safeParse({ trafficCapWhileNew: bad });
      expect(r.success, JSON.stringify(bad)).toBe(false);
      if (!r.success) expect(describeZodError(r.error)).toMatch(/^trafficCapWhileNew/);
    }
  });
});
