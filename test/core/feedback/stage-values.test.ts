import { describe, expect, it } from 'vitest';
import { estimateStageValues, type Trajectory } from '../../../shared/core/feedback/stage-values.ts';
import { createRng } from '../../../shared/core/random.ts';

/**
 * A chain with a known answer. Each step is one hour. A prospect always becomes a lead after one step and earns
 * nothing. Each step as a lead: a purchase worth 10 with probability 0.5 a minute into the step, then the user becomes
 * a customer with probability 0.5 (expected 2 steps as a lead). Customers earn nothing more.
 * So V(customer) = 0, V(lead) = 2 × 0.5 × 10 = 10, V(prospect) = V(lead) = 10.
 */
function chain(seed: number, users: number): Trajectory[] {
  const rng = createRng(seed);
  const hour = 3_600_000;
  const out: Trajectory[] = [];
  for (let u = 0; u < users; u++) {
    let t = 0;
    const events: Trajectory['events'][number][] = [{ at: t, stage: 'prospect' }];
    t += hour;
    events.push({ at: t, stage: 'lead' });
    for (;;) {
      if (rng.next() < 0.5) events.push({ at: t + 60_000, value: 10 });
      t += hour;
      if (rng.next() < 0.5) {
        events.push({ at: t, stage: 'customer' });
        break;
      }
    }
    out.push({ events, observedUntil: t + 1000 * hour });
  }
  return out;
}

describe('estimateStageValues', () => {
  it('recovers the known values of a synthetic stage chain', () => {
    const est = estimateStageValues(['prospect', 'lead', 'customer'], chain(1, 20_000));
    expect(est.values.customer).toBe(0);
    expect(est.values.lead).toBeCloseTo(10, 0);
    expect(Math.abs(est.values.lead! - 10)).toBeLessThan(4 * est.standardErrors.lead!);
    expect(Math.abs(est.values.prospect! - 10)).toBeLessThan(4 * est.standardErrors.prospect!);
    expect(est.visits.prospect).toBe(20_000);
  });

  it('leaves out censored visits instead of undervaluing them', () => {
    const hour = 3_600_000;
    // Observed for only one hour after becoming a lead: with a 10-hour horizon that visit must not count.
    const censored: Trajectory = { events: [{ at: 0, stage: 'lead' }], observedUntil: hour };
    const full: Trajectory = {
      events: [
        { at: 0, stage: 'lead' },
        { at: 2 * hour, value: 7 },
      ],
      observedUntil: 20 * hour,
    };
    const est = estimateStageValues(['lead', 'customer'], [censored, full], { horizonMs: 10 * hour });
    expect(est.visits.lead).toBe(1);
    expect(est.values.lead).toBe(7);
  });

  it('counts what follows a stage change, not what happened at the same instant (it is the event’s own reward)', () => {
    const hour = 3_600_000;
    const t: Trajectory = {
      events: [
        { at: 0, stage: 'lead' },
        { at: hour, value: 50 },
        { at: hour, stage: 'customer' },
        { at: 2 * hour, value: 20 },
      ],
      observedUntil: 100 * hour,
    };
    const est = estimateStageValues(['lead', 'customer'], [t]);
    // The purchase that made the customer is in V(lead) (after entering lead), not in V(customer).
    expect(est.values).toEqual({ lead: 70, customer: 20 });
  });

  it('falls back to configured values for stages never observed', () => {
    const est = estimateStageValues(['a', 'b', 'c'], [], { fallback: { b: 5 } });
    expect(est.values).toEqual({ a: 0, b: 5, c: 2 });
  });
});
