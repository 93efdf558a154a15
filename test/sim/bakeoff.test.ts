import { describe, expect, it } from 'vitest';
import { bakeoffRounds, type ClassificationData, classActionId, standardize } from '../../sim/bakeoff.ts';
import { parseOnlineLine } from '../../sim/formats.ts';
import { parseSettings } from '../../sim/settings.ts';
import { simulate } from '../../sim/simulate.ts';

const data: ClassificationData = {
  name: 'toy',
  classes: ['a', 'b', 'c'],
  examples: [
    { features: [0, 1], label: 0 },
    { features: [1, 0], label: 1 },
    { features: [1, 1], label: 2 },
    { features: [2, 3], label: 0 },
    { features: [5, 1], label: 1 },
  ],
};

const key = (features: readonly number[]) => features.join(',');

describe('bakeoffRounds', () => {
  it('plays every example once per pass, the classes as actions, reward 1 only for the label', () => {
    const rounds = bakeoffRounds(data, { seed: 3, passes: 2 });
    expect(rounds).toHaveLength(10);
    const labelOf = new Map(data.examples.map((e) => [key(e.features), e.label]));
    for (const pass of [rounds.slice(0, 5), rounds.slice(5)]) {
      expect(pass.map((r) => key(r.context as number[])).sort()).toEqual(
        data.examples.map((e) => key(e.features)).sort(),
      );
    }
    rounds.forEach((r, t) => {
      expect(r.t).toBe(t);
      expect(r.actions.map((a) => a.id)).toEqual([0, 1, 2].map((c) => classActionId(data, c)));
      const label = labelOf.get(key(r.context as number[])) as number;
      for (let c = 0; c < 3; c++) expect(r.rewards[classActionId(data, c)]).toBe(c === label ? 1 : 0);
      expect(r.expected).toEqual(r.rewards);
      parseOnlineLine(JSON.stringify(r), t + 1, 'bakeoff');
    });
  });

  it('is deterministic in the seed and shuffles differently under another seed or pass', () => {
    const order = (seed: number) => bakeoffRounds(data, { seed, passes: 2 }).map((r) => key(r.context as number[]));
    expect(order(1)).toEqual(order(1));
    const many = new Set([1, 2, 3, 4, 5, 6].map((s) => order(s).join('|')));
    expect(many.size).toBeGreaterThan(1);
    const twoPasses = [1, 2, 3, 4, 5, 6].map(order).filter((o) => o.slice(0, 5).join('|') !== o.slice(5).join('|'));
    expect(twoPasses.length).toBeGreaterThan(0);
  });

  it('describes the class actions once, with no features, so actionDim 1 fits them', () => {
    const rounds = bakeoffRounds(data, { seed: 1 });
    expect(rounds[0]?.actions.every((a) => Array.isArray(a.features) && a.features.length === 0)).toBe(true);
    expect(rounds.slice(1).every((r) => r.actions.every((a) => a.features === undefined))).toBe(true);
    const settings = parseSettings({ contextDim: 3, actionDim: 1 }, 'test').settings;
    const result = simulate(rounds, { settings, policy: 'uniform', seed: 1 }).result();
    // The label is the oracle's choice in every round, and uniform's expected reward is exactly 1/K.
    expect(result.oracle?.meanExpectedReward).toBe(1);
    expect(result.uniform?.meanExpectedReward).toBeCloseTo(1 / 3, 12);
  });

  it('refuses labels outside the classes and examples of unequal length', () => {
    expect(() => bakeoffRounds({ ...data, examples: [{ features: [0, 0], label: 3 }] }, { seed: 1 })).toThrow(
      /label 3/,
    );
    expect(() =>
      bakeoffRounds(
        {
          ...data,
          examples: [
            { features: [0, 0], label: 0 },
            { features: [0], label: 1 },
          ],
        },
        { seed: 1 },
      ),
    ).toThrow(/1 features/);
  });
});

describe('standardize', () => {
  it('gives each feature mean 0 and standard deviation 1, and a constant feature 0', () => {
    const s = standardize({
      ...data,
      examples: [
        { features: [1, 7], label: 0 },
        { features: [3, 7], label: 1 },
        { features: [5, 7], label: 2 },
      ],
    });
    // Mean 3, population sd √(8/3).
    const z = 2 / Math.sqrt(8 / 3);
    expect(s.examples.map((e) => e.features[0])).toEqual([-z, 0, z].map((v) => Math.round(v * 1e6) / 1e6));
    expect(s.examples.map((e) => e.features[1])).toEqual([0, 0, 0]);
    expect(s.examples.map((e) => e.label)).toEqual([0, 1, 2]);
  });
});
