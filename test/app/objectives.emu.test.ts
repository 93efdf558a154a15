import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogService } from '../../shared/app/catalog/catalog.ts';
import { emptyStats, mergeStats } from '../../shared/core/bandit/stats.ts';
import { createRng } from '../../shared/core/random.ts';
import type { DecisionPointSettingsInput } from '../../shared/core/schemas.ts';
import { startTestStores, type TestStores, uniqueName } from '../support/emulators.ts';
import { InProcessEngine } from '../support/in-process.ts';

let s: TestStores;
beforeAll(async () => {
  s = await startTestStores();
});
afterAll(async () => {
  await s.emulators.close();
});

async function setup(settings: DecisionPointSettingsInput, actions: Record<string, Record<string, string>>) {
  const engine = new InProcessEngine(s, 7);
  const dp = uniqueName();
  const catalog = new CatalogService(s.state, engine.models, () => engine.now);
  await catalog.putDecisionPoint(dp, settings);
  for (const [id, features] of Object.entries(actions)) await catalog.putAction(dp, id, { features });
  return { engine, dp };
}

async function sumsByObjective(dp: string) {
  const out = new Map<string, { n: number; sumR: number }>();
  for (const item of await s.state.listStats(dp)) {
    const key = `${item.objective}/${item.actionId}`;
    const cur = out.get(key) ?? { n: 0, sumR: 0 };
    const st = emptyStats(item.stats.sxr.length);
    mergeStats(st, item.stats);
    out.set(key, { n: cur.n + st.n, sumR: cur.sumR + st.sumR });
  }
  return out;
}

const objectives: DecisionPointSettingsInput['objectives'] = [
  { name: 'purchase', events: { purchase: 50, add_to_cart: 5 } },
  { name: 'activation', events: { app_install: 1 }, attributionWindowSeconds: 600, weight: 10 },
  {
    name: 'lifecycle',
    events: {},
    stages: ['prospect', 'lead', 'customer', 'loyal'],
    stageValues: { customer: 20, loyal: 40 },
  },
];

describe('objectives in the updater', () => {
  it('rewards each objective from its own events, and counts the intent outcome once per decision', async () => {
    const { engine, dp } = await setup({ objectives }, { a: { k: 'a' } });
    const d = await engine.decide({ decisionPoint: dp, userId: 'u1' });
    engine.event({ eventId: 'c1', userId: 'u1', decisionId: d.decisionId, type: 'add_to_cart' });
    engine.event({ eventId: 'p1', userId: 'u1', decisionId: d.decisionId, type: 'purchase' });
    engine.event({ eventId: 'p2', userId: 'u1', decisionId: d.decisionId, type: 'purchase', value: 30 });
    engine.event({ eventId: 'p2', userId: 'u1', decisionId: d.decisionId, type: 'purchase', value: 30 }); // duplicate
    // Outside activation's 10-minute window, inside purchase's.
    engine.event({ eventId: 'i1', userId: 'u1', decisionId: d.decisionId, type: 'app_install' }, engine.now + 601_000);
    await engine.flush();
    const sums = await sumsByObjective(dp);
    expect(sums.get('purchase/a')).toEqual({ n: 1, sumR: 85 });
    expect(sums.get('activation/a')).toEqual({ n: 1, sumR: 0 });
    expect(sums.get('default/a')).toEqual({ n: 1, sumR: 85 });
    expect(sums.get('intent:purchase/*')).toEqual({ n: 1, sumR: 1 });
    expect(sums.get('intent:activation/*')).toEqual({ n: 1, sumR: 0 });
    // Redelivering the same events later changes nothing.
    engine.event({ eventId: 'p1', userId: 'u1', decisionId: d.decisionId, type: 'purchase' });
    await engine.flush();
    expect((await sumsByObjective(dp)).get('intent:purchase/*')).toEqual({ n: 1, sumR: 1 });
  });

  it('keeps each user’s stage from out-of-order stage events and rewards moves by the change in stage value', async () => {
    const { engine, dp } = await setup({ objectives }, { a: { k: 'a' } });
    // Stages are kept per decision point (F6): a stage event without a decision names its decision point.
    engine.event({
      eventId: 's0',
      userId: 'u2',
      decisionPoint: dp,
      type: 'stage',
      stage: 'prospect',
      timestamp: new Date(engine.now - 10_000).toISOString(),
    });
    await engine.flush(); // the first stage is learned without a reward (no previous stage)
    const d = await engine.decide({ decisionPoint: dp, userId: 'u2' });
    const t = (ms: number) => new Date(engine.now + ms).toISOString();
    // prospect → lead (t+1s) → customer (t+2s), delivered customer first.
    engine.event(
      { eventId: 's2', userId: 'u2', decisionId: d.decisionId, type: 'stage', stage: 'customer', timestamp: t(2000) },
      engine.now + 5000,
    );
    engine.event(
      { eventId: 's1', userId: 'u2', decisionId: d.decisionId, type: 'stage', stage: 'lead', timestamp: t(1000) },
      engine.now + 5000,
    );
    const out = await engine.flush();
    expect(out.stageChanges).toBe(1); // the lead event is stale: the user is already a customer
    expect(await s.decisions.getUserStage('u2', dp)).toBe('customer');
    const sums = await sumsByObjective(dp);
    expect(sums.get('lifecycle/a')!.sumR).toBe(20 - 0); // V(customer) − V(prospect)
    expect(sums.get('intent:lifecycle/*')!.sumR).toBe(1);
  });
});

describe('objectives in decisions', () => {
  it('intent mode serves the policy of the objective the user is likely to reach, and falls back without data', async () => {
    const { engine, dp } = await setup(
      {
        objectives: [
          { name: 'purchase', events: { purchase: 10 } },
          { name: 'install', events: { app_install: 10 } },
        ],
        combine: { mode: 'intent', minOutcomes: 20 },
      },
      { a: { k: 'a' }, b: { k: 'b' } },
    );
    const cold = await engine.decide({ decisionPoint: dp, userId: 'x', context: { segment: 'buyer' } });
    expect(cold.objective).toBe('default');
    const rng = createRng(3);
    for (let i = 0; i < 300; i++) {
      const segment = i % 2 === 0 ? 'buyer' : 'installer';
      const userId = `${segment}-${i}`;
      const d = await engine.decide({ decisionPoint: dp, userId, context: { segment } });
      if (rng.next() < 0.6) {
        engine.event({
          eventId: `e${i}`,
          userId,
          decisionId: d.decisionId,
          type: segment === 'buyer' ? 'purchase' : 'app_install',
        });
      }
      if (i % 50 === 49) await engine.flush();
    }
    await engine.flush();
    expect((await engine.decide({ decisionPoint: dp, userId: 'q1', context: { segment: 'buyer' } })).objective).toBe(
      'purchase',
    );
    expect(
      (await engine.decide({ decisionPoint: dp, userId: 'q2', context: { segment: 'installer' } })).objective,
    ).toBe('install');
  });

  it('keeps probabilities summing to 1 and matching sampling frequencies in weighted and intent modes', async () => {
    for (const mode of ['weighted', 'intent'] as const) {
      const { engine, dp } = await setup(
        {
          objectives: [
            { name: 'p', events: { purchase: 5 } },
            { name: 'q', events: { click: 1 }, weight: 3 },
          ],
          combine: { mode, minOutcomes: 1 },
        },
        { a: { k: 'a' }, b: { k: 'b' }, c: { k: 'c' } },
      );
      for (let i = 0; i < 60; i++) {
        const d = await engine.decide({ decisionPoint: dp, userId: `u${i}` });
        if (d.chosen[0] === 'b')
          engine.event({
            eventId: `e${i}`,
            userId: `u${i}`,
            decisionId: d.decisionId,
            type: i % 3 ? 'click' : 'purchase',
          });
      }
      await engine.flush();
      const n = 3000;
      const counts = new Map<string, number>();
      let probabilities = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        const d = await engine.decide({ decisionPoint: dp, userId: 'same' });
        probabilities = new Map(d.ranking.map((r) => [r.actionId, r.probability]));
        counts.set(d.chosen[0]!, (counts.get(d.chosen[0]!) ?? 0) + 1);
      }
      engine.pending.length = 0;
      const total = [...probabilities.values()].reduce((a, b) => a + b, 0);
      expect(total, mode).toBeCloseTo(1, 8);
      for (const [id, p] of probabilities) {
        const freq = (counts.get(id) ?? 0) / n;
        expect(Math.abs(freq - p), `${mode} ${id}`).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n) + 1e-3);
      }
    }
  });
});

describe('objective settings', () => {
  it('rejects invalid objectives with a message naming the problem', async () => {
    const engine = new InProcessEngine(s);
    const catalog = new CatalogService(s.state, engine.models);
    await expect(catalog.putDecisionPoint(uniqueName(), { objectives: [{ name: 'x' }] })).rejects.toThrow(
      /needs target events or a stage ladder/,
    );
    await expect(
      catalog.putDecisionPoint(uniqueName(), {
        objectives: [{ name: 'l', stages: ['a', 'b'], stageValues: { c: 1 } }],
      }),
    ).rejects.toThrow(/c is not on the stage ladder/);
    await expect(
      catalog.putDecisionPoint(uniqueName(), { objectives: [{ name: 'default', events: { a: 1 } }] }),
    ).rejects.toThrow(/reserved/);
  });
});
