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
});
