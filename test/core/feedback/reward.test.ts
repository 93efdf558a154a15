import { describe, expect, it } from 'vitest';
import { type ObjectiveSnapshot, rewardsForEvent } from '../../../shared/core/feedback/reward.ts';

const purchase: ObjectiveSnapshot = {
  name: 'purchase',
  events: { purchase: 50, add_to_cart: 5 },
  attributionWindowSeconds: 86400,
  weight: 1,
};
const activation: ObjectiveSnapshot = {
  name: 'activation',
  events: { app_install: 1 },
  attributionWindowSeconds: 600,
  weight: 2,
};
const lifecycle: ObjectiveSnapshot = {
  name: 'lifecycle',
  events: {},
  stages: ['prospect', 'lead', 'customer', 'loyal'],
  stageValues: { customer: 20, loyal: 40 },
  attributionWindowSeconds: 86400,
  weight: 1,
};
const decision = { at: 0, attributionWindowSeconds: 3600, rewards: {}, objectives: [purchase, activation, lifecycle] };
const ev = (type: string, extra: Record<string, unknown> = {}) => ({ eventId: 'e', userId: 'u', type, ...extra });

describe('rewardsForEvent with objectives', () => {
  it('rewards each objective by its own target values and the global policy by the weighted sum', () => {
    const r = rewardsForEvent(decision, ev('purchase'), 1000);
    expect(Object.fromEntries(r.perObjective)).toEqual({ purchase: 50 });
    expect(r.global).toBe(50);
    const v = rewardsForEvent(decision, ev('purchase', { value: 80 }), 1000);
    expect(v.perObjective.get('purchase')).toBe(80);
    const i = rewardsForEvent(decision, ev('app_install'), 1000);
    expect(i.global).toBe(2);
  });

  it('applies each objective’s attribution window', () => {
    const r = rewardsForEvent(decision, ev('app_install'), 601_000);
    expect(r.perObjective.size).toBe(0);
    expect(r.late).toBe(false); // still inside other objectives' windows
    const late = rewardsForEvent(decision, ev('purchase'), 86_401_000);
    expect(late.late).toBe(true);
  });

  it('rewards a stage move by the change in stage value, and out-of-order moves telescope to the same total', () => {
    const up = rewardsForEvent(decision, ev('stage', { stage: 'customer' }), 1000, { from: 'lead', to: 'customer' });
    expect(up.perObjective.get('lifecycle')).toBe(20 - 1); // lead keeps its ladder position 1
    // prospect → lead → customer, seen in order, sums to V(customer) − V(prospect)
    const a = rewardsForEvent(decision, ev('stage'), 1, { from: 'prospect', to: 'lead' }).global!;
    const b = rewardsForEvent(decision, ev('stage'), 2, { from: 'lead', to: 'customer' }).global!;
    // The customer event arrives first, the lead event after it is stale and moves nothing.
    const direct = rewardsForEvent(decision, ev('stage'), 2, { from: 'prospect', to: 'customer' }).global!;
    expect(a + b).toBe(direct);
    expect(rewardsForEvent(decision, ev('stage'), 3, { from: 'loyal', to: 'lead' }).global).toBe(1 - 40);
  });

  it('gives no stage reward when the previous stage is unknown', () => {
    const r = rewardsForEvent(decision, ev('stage'), 1, { from: undefined, to: 'lead' });
    expect(r.perObjective.size).toBe(0);
    expect(r.global).toBeUndefined();
  });

  it('keeps the legacy semantics without objectives', () => {
    const plain = { at: 0, attributionWindowSeconds: 60, rewards: {}, objectives: [] };
    expect(rewardsForEvent(plain, ev('anything'), 1000).global).toBe(1);
    expect(rewardsForEvent(plain, ev('anything'), 61_000).late).toBe(true);
  });
});
