/**
 * Specification (issue 16, item 1; core/bandit/thompson.ts): a decision with several slots answers, per slot, the
 * probability that the serving policy put that action in that slot given the actions in the slots above. Monte Carlo
 * check at a fixed model: over many decisions of the same request, among those whose slots above are the same, each
 * action's frequency in the next slot matches the propensity the decisions reported for it, within sampling error;
 * for K = 3, 20 and 100 live actions, 1 to 5 slots, with an ε floor and an eligibility rule that leaves some out.
 * And the catalog's rules hold for every slot, not only the first (item 4): a new action's traffic cap bounds the share
 * of decisions that show it in any slot, and `exclude` keeps an action out of every slot.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../shared/adapters/memory/state-store.ts';
import { CatalogService } from '../../shared/app/catalog/catalog.ts';
import { DecisionService } from '../../shared/app/decide/decide.ts';
import { ModelCache } from '../../shared/app/decide/model-cache.ts';
import { addObservation, emptyStats } from '../../shared/core/bandit/stats.ts';
import { bucketOf } from '../../shared/core/domain.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { createRng } from '../../shared/core/random.ts';
import type { DecisionRecord } from '../../shared/core/schemas.ts';
import { statsItemOf } from '../support/records.ts';

const NOW = Date.UTC(2026, 10, 30);

/** K actions, every fourth eligible only for segment s0, with learned statistics that make them differ. */
async function fixedModel(k: number, epsilon: number) {
  const state = new MemoryStateStore();
  const cache = new ModelCache(state, { refreshMs: Number.POSITIVE_INFINITY, now: () => NOW });
  const catalog = new CatalogService(state, cache, () => NOW);
  await catalog.putDecisionPoint('dp', { exploration: { epsilon } });
  for (let a = 0; a < k; a++) {
    await catalog.putAction('dp', `a${a}`, {
      features: { kind: `k${a % 5}` },
      ...(a % 4 === 3 && { eligibility: [{ attribute: 'context.segment', op: 'eq', value: 's0' }] }),
    });
  }
  const d = (await state.getDecisionPoint('dp'))!.settings.contextDim;
  const rng = createRng(k);
  for (let a = 0; a < k; a++) {
    const stats = emptyStats(d);
    for (let n = 0; n < 15; n++) {
      addObservation(stats, encodeFeatures({ segment: `s${n % 2}` }, d), rng.next() < 0.1 + (a % 6) * 0.12 ? 1 : 0);
    }
    await state.putStats(statsItemOf({ actionId: `a${a}`, bucket: bucketOf(NOW), stats, at: NOW }), undefined);
  }
  return { models: cache, state };
}

interface Group {
  n: number;
  /** action → times chosen in the next slot */
  count: Map<string, number>;
  /** action → the propensity decisions reported for it in the next slot (one value per action: the model is fixed) */
  reported: Map<string, number>;
}

describe('several slots, each with its exact propensity', () => {
  for (const { k, slots, epsilon, draws } of [
    { k: 3, slots: 3, epsilon: 0.1, draws: 12_000 },
    { k: 20, slots: 5, epsilon: 0.05, draws: 12_000 },
    { k: 100, slots: 4, epsilon: 0.2, draws: 6_000 },
    { k: 20, slots: 1, epsilon: 0, draws: 6_000 },
  ]) {
    it(`K = ${k}, ${slots} slot(s), ε = ${epsilon}: each slot's frequency given the slots above is its reported propensity`, async () => {
      const { models } = await fixedModel(k, epsilon);
      const records: DecisionRecord[] = [];
      const service = new DecisionService({
        models,
        stream: {
          put: async (rs) => {
            for (const r of rs) if (r.kind === 'decision') records.push(r);
            return [];
          },
        },
        rng: createRng(`slots-${k}-${slots}`),
        now: () => NOW,
      });
      const groups = new Map<string, Group>();
      const eligible = new Set<string>();
      for (let i = 0; i < draws; i++) {
        const d = await service.decide({ decisionPoint: 'dp', userId: `u${i}`, context: { segment: 's1' }, slots });
        expect(d.slots.map((s) => s.actionId)).toEqual(d.chosen);
        expect(new Set(d.chosen).size).toBe(d.chosen.length);
        for (const e of d.ranking) eligible.add(e.actionId);
        // Slot 1's propensity is the logged one, and the slate's probabilities are what the record keeps.
        const record = records.at(-1)!;
        expect(record.propensity).toBe(d.slots[0]!.propensity);
        expect(record.slotPropensities).toEqual(slots > 1 ? d.slots.map((s) => s.propensity) : undefined);
        d.slots.forEach((s, slot) => {
          const key = `${slot}|${d.chosen.slice(0, slot).join(',')}`;
          const g = groups.get(key) ?? { n: 0, count: new Map(), reported: new Map() };
          groups.set(key, g);
          g.n++;
          g.count.set(s.actionId, (g.count.get(s.actionId) ?? 0) + 1);
          const before = g.reported.get(s.actionId);
          if (before !== undefined) expect(s.propensity).toBeCloseTo(before, 12);
          g.reported.set(s.actionId, s.propensity);
        });
      }
      // The eligibility rule left every fourth action out of these requests, and nothing ineligible was chosen.
      expect(eligible.size).toBe(k - Math.floor(k / 4));
      for (const g of groups.values()) for (const a of g.count.keys()) expect(eligible.has(a)).toBe(true);
      let checked = 0;
      for (const [key, g] of groups) {
        if (g.n < 300) continue;
        checked++;
        let mass = 0;
        for (const [a, p] of g.reported) {
          mass += p;
          const freq = (g.count.get(a) ?? 0) / g.n;
          const sd = Math.sqrt((p * (1 - p)) / g.n);
          expect(Math.abs(freq - p), `${key} → ${a}: ${freq} over ${g.n}, reported ${p}`).toBeLessThan(4.5 * sd + 1e-9);
        }
        // The actions never drawn next in this group hold little probability between them: each less than 6/n (at
        // 6/n, an action goes undrawn in n draws with probability e⁻⁶).
        const unseen = eligible.size - Number(key.split('|')[0]) - g.reported.size;
        expect(mass, key).toBeGreaterThan(1 - (unseen * 6) / g.n - 1e-9);
        expect(mass, key).toBeLessThan(1 + 1e-6);
      }
      // Every slot was checked in at least one group of identical slots above.
      const slotsChecked = new Set([...groups].filter(([, g]) => g.n >= 300).map(([key]) => key.split('|')[0]));
      expect(slotsChecked.size).toBe(Math.min(slots, eligible.size));
      expect(checked).toBeGreaterThan(0);
    });
  }

  it('a traffic cap and exclude hold for every slot: a capped new action shows in at most its share of decisions', async () => {
    const { models, state } = await fixedModel(5, 0.1);
    const catalog = new CatalogService(state, models, () => NOW);
    await catalog.putAction('dp', 'launch', {
      features: { kind: 'launch' },
      trafficCapWhileNew: { maxShare: 0.1, untilImpressions: 100_000 },
    });
    models.invalidate('dp');
    const service = new DecisionService({ models, stream: { put: async () => [] }, rng: createRng(3), now: () => NOW });
    const n = 4000;
    let shown = 0;
    for (let i = 0; i < n; i++) {
      const d = await service.decide({ decisionPoint: 'dp', userId: `u${i}`, context: {}, slots: 3, exclude: ['a1'] });
      expect(d.chosen).not.toContain('a1');
      if (d.chosen.includes('launch')) shown++;
    }
    // Uncapped, one of 5 candidates in 3 of 5 slots would show in ≈ 60% of decisions.
    expect(shown / n).toBeLessThan(0.1 + 4 * Math.sqrt((0.1 * 0.9) / n));
    expect(shown / n).toBeGreaterThan(0.05);
  });
});
