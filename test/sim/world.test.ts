import { describe, expect, it } from 'vitest';
import { decisionPointSettingsSchema } from '../../shared/core/schemas.ts';
import { parseHistoryLine, parseOnlineLine } from '../../sim/formats.ts';
import { outcomeReward } from '../../sim/outcome.ts';
import { generateWorld, WORLD_REWARDS } from '../../sim/world.ts';

describe('generateWorld', () => {
  const options = { seed: 11, rounds: 1200, historyRounds: 300, churnEvery: 400, churnCount: 3 };

  it('is deterministic: the same options give the same world, another seed another one', () => {
    const a = generateWorld(options);
    const b = generateWorld(options);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    const c = generateWorld({ ...options, seed: 12 });
    expect(JSON.stringify(c.online)).not.toBe(JSON.stringify(a.online));
  });

  it('writes valid settings, history and online lines', () => {
    const w = generateWorld(options);
    const settings = decisionPointSettingsSchema.parse(w.config);
    expect(settings.contextDim).toBe(10);
    expect(settings.actionDim).toBe(7);
    w.history.forEach((h, i) => {
      parseHistoryLine(JSON.stringify(h), i + 1, 'history.jsonl');
      expect((h.context as number[]).length).toBe(settings.contextDim - 1);
    });
    w.online.forEach((r, i) => {
      parseOnlineLine(JSON.stringify(r), i + 1, 'online.jsonl');
    });
  });

  it('logs the history with a skewed policy whose propensities are recorded', () => {
    const w = generateWorld({ ...options, historyRounds: 3000 });
    const counts = new Map<string, number>();
    for (const h of w.history) counts.set(h.chosen, (counts.get(h.chosen) ?? 0) + 1);
    const shares = [...counts.values()].map((c) => c / w.history.length).sort((a, b) => b - a);
    // Far from uniform (1/20 each): the top three actions take a large share.
    expect((shares[0] ?? 0) + (shares[1] ?? 0) + (shares[2] ?? 0)).toBeGreaterThan(0.4);
    for (const h of w.history) {
      expect(h.propensity).toBeGreaterThanOrEqual(0.05 / 20 - 1e-6);
      expect(h.reward).toBe(outcomeReward(WORLD_REWARDS, h.events, 0));
    }
  });

  it('churns actions every churnEvery rounds, and new actions come with features once', () => {
    const w = generateWorld(options);
    const idsAt = (t: number) => new Set(w.online[t]?.actions.map((a) => a.id));
    expect(idsAt(399)).toEqual(idsAt(0));
    const before = idsAt(399);
    const after = idsAt(400);
    expect(after.size).toBe(20);
    expect([...after].filter((id) => !before.has(id))).toHaveLength(3);
    const described = new Set<string>();
    for (const r of w.online) {
      for (const a of r.actions) {
        if (a.features !== undefined) {
          expect(described.has(a.id)).toBe(false);
          described.add(a.id);
        } else expect(described.has(a.id)).toBe(true);
      }
    }
  });

  it('delays some rewards and gives every candidate a reward consistent with its events', () => {
    const w = generateWorld(options);
    const delayed = w.online.filter((r) => r.delay !== undefined);
    expect(delayed.length / w.online.length).toBeGreaterThan(0.2);
    expect(delayed.length / w.online.length).toBeLessThan(0.4);
    for (const r of w.online.slice(0, 200)) {
      for (const a of r.actions) {
        expect(r.rewards[a.id]).toBe(outcomeReward(WORLD_REWARDS, r.events?.[a.id] ?? {}, 0));
        expect(r.expected?.[a.id]).toBeGreaterThan(0);
      }
    }
  });

  it('makes context matter: the best action differs between users', () => {
    const w = generateWorld(options);
    const best = new Set<string>();
    for (const r of w.online.slice(0, 399)) {
      const e = r.expected as Record<string, number>;
      best.add(Object.keys(e).reduce((a, b) => ((e[a] as number) >= (e[b] as number) ? a : b)));
    }
    expect(best.size).toBeGreaterThanOrEqual(4);
  });

  describe('variants leave everything else as it was', () => {
    const base = { seed: 5, rounds: 600, historyRounds: 200, churnEvery: 0 };

    it('rewardScale multiplies the configured, realized and expected rewards and nothing else', () => {
      const a = generateWorld(base);
      const b = generateWorld({ ...base, rewardScale: 50 });
      expect(b.config.rewards).toEqual({ click: 50, purchase: 250 });
      expect(b.config.rewardBounds).toEqual({ min: 0, max: 300 });
      expect(b.history.map((h) => h.reward)).toEqual(a.history.map((h) => 50 * h.reward));
      for (let t = 0; t < a.online.length; t++) {
        const ra = a.online[t]!;
        const rb = b.online[t]!;
        expect(rb.context).toEqual(ra.context);
        expect(rb.events).toEqual(ra.events);
        for (const act of ra.actions) {
          expect(rb.rewards[act.id]).toBe(50 * (ra.rewards[act.id] as number));
          expect(rb.expected?.[act.id]).toBeCloseTo(50 * (ra.expected?.[act.id] as number), 4);
        }
      }
    });

    it('extraFeatures appends distractor features to the same users and widens contextDim', () => {
      const a = generateWorld(base);
      const b = generateWorld({ ...base, extraFeatures: 6 });
      expect(b.config.contextDim).toBe(16);
      expect(decisionPointSettingsSchema.parse(b.config).contextDim).toBe(16);
      for (const [x, y] of [
        [a.history[3]!.context, b.history[3]!.context],
        [a.online[7]!.context, b.online[7]!.context],
      ] as [number[], number[]][]) {
        expect(y).toHaveLength(15);
        expect(y.slice(0, 9)).toEqual(x);
      }
      expect(b.online.map((r) => r.expected)).toEqual(a.online.map((r) => r.expected));
    });

    it('rewardNoise adds zero-mean noise of that sd to realized rewards, drops events and keeps expected rewards', () => {
      const a = generateWorld(base);
      const b = generateWorld({ ...base, rewardNoise: 2 });
      const diffs: number[] = [];
      for (let t = 0; t < a.online.length; t++) {
        const ra = a.online[t]!;
        const rb = b.online[t]!;
        expect(rb.events).toBeUndefined();
        expect(rb.expected).toEqual(ra.expected);
        for (const act of ra.actions) diffs.push((rb.rewards[act.id] as number) - (ra.rewards[act.id] as number));
      }
      const mean = diffs.reduce((s, v) => s + v, 0) / diffs.length;
      const sd = Math.sqrt(diffs.reduce((s, v) => s + (v - mean) ** 2, 0) / diffs.length);
      // 12,000 draws: the mean's standard error is 2/√12000 ≈ 0.018.
      expect(Math.abs(mean)).toBeLessThan(0.08);
      expect(sd).toBeGreaterThan(1.9);
      expect(sd).toBeLessThan(2.1);
      for (const h of b.history) expect(h.events).toBeUndefined();
    });

    it('refuses a non-positive reward scale, negative noise and a fractional feature count', () => {
      expect(() => generateWorld({ ...base, rewardScale: 0 })).toThrow(/rewardScale/);
      expect(() => generateWorld({ ...base, rewardNoise: -1 })).toThrow(/rewardNoise/);
      expect(() => generateWorld({ ...base, extraFeatures: 1.5 })).toThrow(/extraFeatures/);
    });
  });
});
