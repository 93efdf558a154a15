/**
 * Specification: rules C2–C3 of core/catalog/catalog-version.ts (docs/ARCHITECTURE.md §6.1). Whatever the stream
 * refuses, every decision the log accepted can be read back, from the log alone and in its order, with exactly the
 * candidates the decision chose among (the ranking it answered); and at K = 1,000 live actions a decision record
 * no longer carries the candidate list.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../shared/adapters/memory/state-store.ts';
import { CatalogService } from '../../shared/app/catalog/catalog.ts';
import { DecisionService } from '../../shared/app/decide/decide.ts';
import { ModelCache } from '../../shared/app/decide/model-cache.ts';
import type { EventStream } from '../../shared/core/ports.ts';
import { createRng } from '../../shared/core/random.ts';
import type { DecisionRecord } from '../../shared/core/schemas.ts';
import { catalogResolver } from '../support/catalog-resolver.ts';

/** A stream that refuses a share of the records it is given (a whole put, or some records of it), seeded. */
function lossyStream(seed: number, refuse: number) {
  const rng = createRng(seed);
  const accepted: DecisionRecord[] = [];
  const stream: EventStream = {
    put: async (records) => {
      if (rng.next() < refuse) throw new Error('injected: the stream is unavailable');
      const failed: number[] = [];
      records.forEach((r, i) => {
        if (rng.next() < refuse) failed.push(i);
        else if (r.kind === 'decision') accepted.push(r);
      });
      return failed;
    },
  };
  return { stream, accepted };
}

async function engine(actions: number, rules = true) {
  const state = new MemoryStateStore();
  const models = new ModelCache(state, { refreshMs: 0 });
  const catalog = new CatalogService(state, models, () => Date.now());
  await catalog.putDecisionPoint('dp', {});
  await catalog.importActions(
    'dp',
    Array.from({ length: actions }, (_, i) => ({
      actionId: `offer-${String(i).padStart(4, '0')}`,
      features: { group: `g${i % 4}` },
      // A third of the actions are for one segment only: eligibility omits them from other requests.
      ...(rules && i % 3 === 0 && { eligibility: [{ attribute: 'context.segment', op: 'eq', value: `s${i % 2}` }] }),
    })),
  );
  return { state, models, catalog };
}

describe('decision records name the live catalog instead of listing it', () => {
  it('C3: every accepted decision reads back, from the log alone, with exactly the candidates it ranked, whatever the stream refused', async () => {
    for (const seed of [1, 2, 3]) {
      const { models, catalog } = await engine(30);
      const { stream, accepted } = lossyStream(seed, 0.3);
      const service = new DecisionService({ models, stream, rng: createRng(seed) });
      const ranked = new Map<string, string[]>();
      const rng = createRng(100 + seed);
      for (let round = 0; round < 6; round++) {
        // The catalog changes between rounds: a retirement and a new action make new catalog versions.
        if (round > 0 && round % 2 === 0) await catalog.retireAction('dp', `offer-${String(round).padStart(4, '0')}`);
        if (round % 2 === 1) await catalog.putAction('dp', `new-${round}`, { features: { group: 'g9' } });
        for (let i = 0; i < 40; i++) {
          const req = {
            decisionPoint: 'dp',
            userId: `u${i}`,
            context: { segment: `s${rng.int(3)}` },
            ...(rng.next() < 0.2 && { exclude: ['offer-0001', 'offer-0002'] }),
            ...(rng.next() < 0.1 && { candidates: ['offer-0001', 'offer-0004', 'offer-0005'] }),
            slots: 1 + rng.int(2),
          };
          if (rng.next() < 0.3) {
            const items = [req, { ...req, userId: `v${i}` }];
            const answer = await service.decideMany(items, { pseudonymise: (u) => u, ranking: true });
            for (const r of answer.results) {
              if (r.status === 'decided') ranked.set(r.decisionId, r.ranking!.map((e) => e.actionId).sort());
            }
          } else {
            const d = await service.decide(req).catch(() => undefined);
            if (d) ranked.set(d.decisionId, d.ranking.map((e) => e.actionId).sort());
          }
        }
      }
      const candidatesOf = catalogResolver();
      const forms = { listed: 0, declared: 0, referenced: 0 };
      for (const r of accepted) {
        forms[r.candidates ? 'listed' : r.catalog?.ids ? 'declared' : 'referenced']++;
        // Throws for a reference to a version no earlier accepted record declared.
        expect([...candidatesOf(r)].sort(), r.decisionId).toEqual(ranked.get(r.decisionId));
      }
      expect(accepted.length).toBe(ranked.size);
      // All three forms occurred, and most records referenced a version declared before them.
      expect(forms.listed).toBeGreaterThan(0);
      expect(forms.declared).toBeGreaterThan(3);
      expect(forms.referenced).toBeGreaterThan(accepted.length / 2);
    }
  });

  it('at K = 1,000 live actions a decision record is under 2 KB, once the version is declared', async () => {
    const { models } = await engine(1000, false);
    const records: DecisionRecord[] = [];
    const stream: EventStream = {
      put: async (rs) => {
        for (const r of rs) if (r.kind === 'decision') records.push(r);
        return [];
      },
    };
    const service = new DecisionService({ models, stream, rng: createRng(1) });
    for (let i = 0; i < 20; i++) {
      await service.decide({ decisionPoint: 'dp', userId: `u${i}`, context: { segment: 's0' }, slots: 1 });
    }
    const sizes = records.map((r) => Buffer.byteLength(JSON.stringify(r)));
    // The first record declares the version (the ids: ≈ 11 KB); the others name it.
    expect(sizes[0]).toBeGreaterThan(10_000);
    expect(Math.max(...sizes.slice(1))).toBeLessThan(2_000);
  });
});
