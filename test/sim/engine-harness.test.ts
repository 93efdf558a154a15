import { describe, expect, it } from 'vitest';
import { runChurnModel, sharePerSeed } from '../../bench/sim/churn.bench.ts';
import { ObjectivesWorld, runObjectiveConfig } from '../../bench/sim/objectives.bench.ts';
import { emptyStats, mergeStats } from '../../shared/core/bandit/stats.ts';
import { assertNoCollisions, EngineHarness } from '../../sim/engine-harness.ts';
import { SimOptionError } from '../../sim/errors.ts';

const settings = { contextDim: 4, actionDim: 4, rewards: { click: 1 } };

async function impressions(h: EngineHarness): Promise<number> {
  const total = emptyStats(4);
  for (const item of await h.state.listStats(h.decisionPoint)) mergeStats(total, item.stats);
  return total.n;
}

describe('EngineHarness', () => {
  it('delivers the stream to the updater every `deliverEvery` decisions, with the feedback sent meanwhile', async () => {
    const h = await EngineHarness.create({ settings, deliverEvery: 5, statsPartitions: 1 });
    await h.putAction('a', { features: { k: 'a' } });
    for (let i = 0; i < 4; i++) {
      const d = await h.decide(`u${i}`, { s: 'x' });
      await h.feedback([{ userId: `u${i}`, decisionId: d.decisionId, type: 'click' }]);
    }
    expect(await impressions(h)).toBe(0);
    await h.decide('u4', { s: 'x' });
    expect(await impressions(h)).toBe(5);
    expect(h.totals).toMatchObject({ decisions: 5, rewards: 4, deadLettered: 0 });
    expect(h.stream.pending).toBe(0);
  });

  it('serves a catalog change only after the decision container refreshes, within refreshMs', async () => {
    const h = await EngineHarness.create({ settings, msPerDecision: 100, refreshMs: 1000 });
    await h.putAction('old', { features: { k: 'old' } });
    expect((await h.decide('u', {})).chosen).toEqual(['old']);
    await h.putAction('new', { features: { k: 'new' } });
    await h.retireAction('old');
    const served: string[] = [];
    for (let i = 0; i < 12; i++) served.push((await h.decide('u', {})).chosen[0]!);
    // The cache refreshed at decision 0; the next refresh is 1 s = 10 decisions later.
    expect(served.slice(0, 9).every((id) => id === 'old')).toBe(true);
    expect(served.slice(10).every((id) => id === 'new')).toBe(true);
  });

  it('rejects features that would collide under hashing', () => {
    expect(() => assertNoCollisions([{ segment: 'x', engagement: 1 }], 4, 'world')).toThrow(SimOptionError);
    expect(() => assertNoCollisions([{ interest: 'sports', engagement: 1 }], 8, 'world')).not.toThrow();
  });
});

describe('objectives through the engine (small world)', () => {
  it('weighted earns more objective value than the same engine trained on clicks alone', async () => {
    const world = new ObjectivesWorld(7, 500);
    const clicks = await runObjectiveConfig(world, 'clicks only', 3000);
    const weighted = await runObjectiveConfig(world, 'weighted', 3000);
    expect(weighted.expected).toBeGreaterThan(clicks.expected + 0.1);
    expect(weighted.purchasesPerDecision).toBeGreaterThan(clicks.purchasesPerDecision);
  });

  it('weighted sends users who never buy to an action they click (issue 13: at least 60% of their decisions)', async () => {
    // 2,000 users, 12,000 decisions (6 per user), a world the objectives benchmark does not report (seed 7). Over the
    // last 20% of decisions, non-buyers' share that went to an action worth ≥ 90% of their best: 0.912 here; 0.590
    // when the purchase objective counted in full for them (its linear posterior leaks buyers' value to them).
    const world = new ObjectivesWorld(7, 2000);
    const weighted = await runObjectiveConfig(world, 'weighted', 12_000);
    expect(weighted.nearBestShareNonBuyers).toBeGreaterThanOrEqual(0.6);
  });
});

describe('cold start under churn (small world)', () => {
  it('gives a strong newcomer more of its users than a weak one, and more than a per-action-only model does', async () => {
    const opts = { churnEvery: 600, churns: 3, users: 500 };
    const hybrid = await runChurnModel('hybrid', 3, opts);
    const perAction = await runChurnModel('per-action only', 3, opts);
    const result = { seeds: [3], churnEvery: 600, churns: 3, decisions: 3000, users: 500, runs: [hybrid, perAction] };
    const strong = sharePerSeed(result, 'hybrid', 'strong', 1)[0]!;
    const weak = sharePerSeed(result, 'hybrid', 'weak', 1)[0]!;
    expect(strong).toBeGreaterThan(0.5);
    expect(weak).toBeLessThan(0.1);
    expect(strong).toBeGreaterThan(sharePerSeed(result, 'per-action only', 'strong', 1)[0]! + 0.2);
  });
});
