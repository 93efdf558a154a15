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

  it('rewards a stage move by the change in stage value (configured, else the ladder position)', () => {
    // V: prospect 0 and lead 1 (ladder positions), customer 20, loyal 40 (configured); weight 1.
    const move = (from: string, to: string) => rewardsForEvent(decision, ev('stage'), 1000, { from, to });
    expect(move('lead', 'customer').perObjective.get('lifecycle')).toBe(19);
    expect(move('prospect', 'lead').global).toBe(1);
    expect(move('lead', 'customer').global).toBe(19);
    // In order the two moves earn 1 + 19 = 20; the customer event first, the lead event is stale (no move): 20.
    expect(move('prospect', 'customer').global).toBe(20);
    expect(move('loyal', 'lead').global).toBe(-39);
  });

  it('counts an event inside [decision − S, decision + window], both edges included (F4)', () => {
    const plain = { at: 100_000, attributionWindowSeconds: 60, rewards: {}, objectives: [] };
    const at = (t: number) => rewardsForEvent(plain, ev('click'), t);
    expect(at(100_000 + 60_000).late).toBe(false);
    expect(at(100_000 + 60_001).late).toBe(true);
    // Dated before its decision: only within the clock-skew allowance (5 s) can it be the decision's effect.
    expect(at(100_000 - 5_000).late).toBe(false);
    expect(at(100_000 - 5_001).late).toBe(true);
    expect(at(100_000 - 5_001).global).toBeUndefined();
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
