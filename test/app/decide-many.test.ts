/**
 * Specification (`DecisionService.decideMany`, README "`:batch`"): each item of a `POST /v1/decisions:batch` is
 * decided as `POST /v1/decisions` would decide it alone. Under the latency budget, that includes the user's stage:
 * an item is not decided without it merely because other items of the same call used the budget before it.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../shared/adapters/memory/state-store.ts';
import { CatalogService } from '../../shared/app/catalog/catalog.ts';
import { DecisionService } from '../../shared/app/decide/decide.ts';
import { ModelCache } from '../../shared/app/decide/model-cache.ts';
import { createRng } from '../../shared/core/random.ts';
import { recordingStream } from '../support/records.ts';

describe('decisions in one :batch call', () => {
  it('each item reads its stage within the budget, as a single decision does, whatever the items before it', async () => {
    const state = new MemoryStateStore();
    const cache = new ModelCache(state, { refreshMs: Number.POSITIVE_INFINITY });
    const catalog = new CatalogService(state, cache, () => Date.now());
    await catalog.putDecisionPoint('dp', {
      objectives: [
        { name: 'life', events: {}, stages: ['prospect', 'lead', 'customer'], stageValues: { lead: 1, customer: 5 } },
      ],
    });
    for (const id of ['a', 'b', 'c']) await catalog.putAction('dp', id, { features: { id } });
    const { stream, records } = recordingStream();
    const service = new DecisionService({
      models: cache,
      stream,
      // A stage read takes 20 ms: 100 of them one after another would take 2 s, the budget is 300 ms.
      users: { getUserStage: () => new Promise((r) => setTimeout(() => r('lead'), 20)) },
      rng: createRng(1),
      resilience: { budgetMs: 300, modelWaitMs: 100 },
    });
    await cache.get('dp');
    const items = Array.from({ length: 100 }, (_, i) => ({ decisionPoint: 'dp', userId: `u${i}`, context: {} }));
    const answer = await service.decideMany(items, { pseudonymise: (u) => u });
    expect(answer.decided).toBe(100);
    expect(records).toHaveLength(100);
    expect(records.filter((r) => r.stage !== 'lead').map((r) => r.userId)).toEqual([]);
  });
});
