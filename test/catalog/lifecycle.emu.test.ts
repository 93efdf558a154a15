/**
 * The action lifecycle through the real services over DynamoDB (dynalite): two warm decision containers, each with its
 * own model cache, and an admin that changes the catalog. One clock drives everything, so the staleness bound is
 * checked exactly rather than by sleeping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogService } from '../../shared/app/catalog/catalog.ts';
import { summarizeAction } from '../../shared/app/catalog/model-summary.ts';
import { DecisionService } from '../../shared/app/decide/decide.ts';
import { ModelCache } from '../../shared/app/decide/model-cache.ts';
import { addObservation, emptyStats } from '../../shared/core/bandit/stats.ts';
import { bucketOf, type CatalogAction, DEFAULT_OBJECTIVE } from '../../shared/core/domain.ts';
import { ValidationError } from '../../shared/core/errors.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { createRng } from '../../shared/core/random.ts';
import type { DecisionRequest } from '../../shared/core/schemas.ts';
import { catalogResolver } from '../support/catalog-resolver.ts';
import { startTestStores, type TestStores, uniqueName } from '../support/emulators.ts';
import { recordingStream } from '../support/records.ts';

const REFRESH_MS = 1000;
let s: TestStores;
beforeAll(async () => {
  s = await startTestStores();
});
afterAll(async () => {
  await s.emulators.close();
});

/** A warm decision container: its own model cache and decision service, sharing the clock and the store. */
function container(clock: { now: number }, refreshMs = REFRESH_MS, seed = 1) {
  const { records, stream } = recordingStream();
  const models = new ModelCache(s.state, { refreshMs, now: () => clock.now });
  const service = new DecisionService({
    models,
    stream,
    users: s.decisions,
    rng: createRng(seed),
    now: () => clock.now,
  });
  const decide = (dp: string, req: Partial<DecisionRequest> = {}) =>
    service.decide({ decisionPoint: dp, userId: 'u', context: {}, slots: 1, ...req });
  const ranked = async (dp: string, req: Partial<DecisionRequest> = {}) =>
    (await decide(dp, req)).ranking.map((r) => r.actionId).sort();
  return { models, decide, ranked, records };
}

async function setup(actions: string[]) {
  const clock = { now: 1_800_000_000_000 };
  const admin = new CatalogService(s.state, new ModelCache(s.state, { refreshMs: 0 }), () => clock.now);
  const dp = uniqueName();
  await admin.putDecisionPoint(dp, { contextDim: 4, actionDim: 4 });
  for (const id of actions) await admin.putAction(dp, id, { features: { kind: id } });
  return { clock, admin, dp };
}

/** Writes learned statistics for an action, as the updater would. */
async function learn(dp: string, actionId: string, at: number, impressions: number, rewardRate: number) {
  const stats = emptyStats(4);
  const rng = createRng(actionId);
  for (let i = 0; i < impressions; i++) addObservation(stats, encodeFeatures({}, 4), rng.next() < rewardRate ? 1 : 0);
  await s.state.putStats(
    {
      decisionPoint: dp,
      objective: DEFAULT_OBJECTIVE,
      actionId,
      bucket: bucketOf(at),
      partition: 0,
      slot: 1,
      stats,
      counters: { rewardEvents: stats.sumR, lateEvents: 0 },
      highWaterMarks: {},
      version: 1,
      updatedAt: at,
      lastLearnedAt: at,
    },
    undefined,
  );
}

describe('retirement reaches every warm container within refreshMs', () => {
  it('stops serving a retired action in two other containers at their first refresh, at most refreshMs after the retire', async () => {
    const { clock, admin, dp } = await setup(['a', 'b', 'c']);
    const b = container(clock, REFRESH_MS, 1);
    const c = container(clock, REFRESH_MS, 2);
    expect(await b.ranked(dp)).toEqual(['a', 'b', 'c']);
    clock.now += 400;
    expect(await c.ranked(dp)).toEqual(['a', 'b', 'c']);

    clock.now += 1;
    const retiredAt = clock.now;
    await admin.retireAction(dp, 'a');

    // Until its refresh is due, a container may still serve the model it has: that is the documented staleness.
    clock.now = retiredAt + REFRESH_MS - 402;
    expect(await b.ranked(dp)).toContain('a');
    // Container b refreshed REFRESH_MS after its last refresh, i.e. less than REFRESH_MS after the retire.
    clock.now = retiredAt + REFRESH_MS - 401;
    expect(await b.ranked(dp)).toEqual(['b', 'c']);
    expect(await c.ranked(dp)).toContain('a');
    clock.now = retiredAt + REFRESH_MS - 1;
    expect(await c.ranked(dp)).toEqual(['b', 'c']);

    // From then on it is never served again, not even when a caller names it.
    for (let i = 0; i < 100; i++) {
      const r = await b.decide(dp, { candidates: ['a', 'b'], userId: `u${i}` });
      expect(r.chosen).toEqual(['b']);
      expect((await c.decide(dp, { userId: `u${i}`, slots: 3 })).chosen).not.toContain('a');
    }
    for (const records of [b.records, c.records]) {
      const candidatesOf = catalogResolver();
      for (const r of records) {
        const candidates = candidatesOf(r);
        if (r.at >= retiredAt + REFRESH_MS - 1) expect(candidates).not.toContain('a');
      }
    }
  });

  it('applies a catalog-only change without rebuilding the posteriors, and rebuilds when features change', async () => {
    const { clock, admin, dp } = await setup(['a', 'b']);
    await learn(dp, 'a', clock.now, 30, 0.3);
    const b = container(clock);
    const before = await b.models.get(dp);
    clock.now += 1;
    await admin.retireAction(dp, 'b');
    await admin.putAction(dp, 'a', {
      features: { kind: 'a' },
      metadata: { title: 'A' },
      endsAt: '2100-01-01T00:00:00Z',
    });
    clock.now += REFRESH_MS;
    const retired = await b.models.get(dp);
    expect(retired.posterior).toBe(before.posterior);
    expect(Array.from(retired.live, (i) => retired.posterior.ids[i])).toEqual(['a']);
    expect(retired.catalog.get('a')!.metadata).toEqual({ title: 'A' });
    expect(retired.version).not.toBe(before.version);
    clock.now += 1;
    await admin.putAction(dp, 'a', { features: { kind: 'a2' } });
    clock.now += REFRESH_MS;
    expect((await b.models.get(dp)).posterior).not.toBe(before.posterior);
  });

  it('serves a new action on the first decision after the refresh', async () => {
    const { clock, admin, dp } = await setup(['a']);
    const b = container(clock);
    await b.decide(dp);
    clock.now += 10;
    await admin.putAction(dp, 'fresh', { features: { kind: 'fresh' } });
    // Not known to this container yet: naming it is an unknown candidate until the refresh.
    await expect(b.decide(dp, { candidates: ['fresh'] })).rejects.toThrow(ValidationError);
    clock.now += REFRESH_MS;
    expect((await b.decide(dp, { candidates: ['fresh'] })).chosen).toEqual(['fresh']);
  });
});

describe('a returning action keeps its statistics', () => {
  it('keeps impressions, rewards and estimate through retirement and comes back with them', async () => {
    const { clock, admin, dp } = await setup(['seasonal', 'staple']);
    await learn(dp, 'seasonal', clock.now, 60, 0.5);
    await learn(dp, 'staple', clock.now, 80, 0.1);
    const b = container(clock);
    await b.decide(dp);
    const before = summarizeAction(await b.models.get(dp), 'seasonal', clock.now)!;
    expect(before.impressions).toBe(60);
    expect(before.objectives.default!.rewardSum).toBeGreaterThan(15);

    clock.now += 1;
    await admin.retireAction(dp, 'seasonal');
    clock.now += REFRESH_MS;
    expect(await b.ranked(dp)).toEqual(['staple']);
    const whileRetired = summarizeAction(await b.models.get(dp), 'seasonal', clock.now)!;
    expect(whileRetired.status).toBe('retired');
    expect(whileRetired.impressions).toBe(60);

    // Next season: the same id is put again and resumes from what it had learned.
    clock.now += 86_400_000 * 90;
    const back = await admin.putAction(dp, 'seasonal', { features: { kind: 'seasonal' } });
    expect(back.created).toBe(false);
    expect(back.action.status).toBe('live');
    clock.now += REFRESH_MS;
    expect(await b.ranked(dp)).toEqual(['seasonal', 'staple']);
    const after = summarizeAction(await b.models.get(dp), 'seasonal', clock.now)!;
    expect(after.status).toBe('live');
    expect(after.impressions).toBe(60);
    expect(after.rewardSum).toBe(before.rewardSum);
    expect(after.estimate.mean).toBeCloseTo(before.estimate.mean, 12);
    expect(after.estimate.sd).toBeCloseTo(before.estimate.sd, 12);
    expect(after.lastLearnedAt).toBe(before.lastLearnedAt);
    expect((await s.state.listStats(dp)).filter((i) => i.actionId === 'seasonal')).toHaveLength(1);
  });
});

describe('schedules and rules on the decision path', () => {
  it('ends and starts serving on the request clock, without a refresh or a write', async () => {
    const { clock, admin, dp } = await setup(['always']);
    const t = clock.now;
    const iso = (ms: number) => new Date(ms).toISOString();
    await admin.putAction(dp, 'flash', { features: {}, endsAt: iso(t + 5000) });
    await admin.putAction(dp, 'later', { features: {}, startsAt: iso(t + 3000) });
    const b = container(clock, 3_600_000);
    expect(await b.ranked(dp)).toEqual(['always', 'flash']);
    clock.now = t + 2999;
    expect(await b.ranked(dp)).toEqual(['always', 'flash']);
    clock.now = t + 3000;
    expect(await b.ranked(dp)).toEqual(['always', 'flash', 'later']);
    clock.now = t + 4999;
    expect(await b.ranked(dp)).toEqual(['always', 'flash', 'later']);
    clock.now = t + 5000;
    expect(await b.ranked(dp)).toEqual(['always', 'later']);
    expect((await admin.listActions(dp, { status: 'expired' })).map((a) => a.actionId)).toEqual(['flash']);
  });

  it('serves an action with rules only to requests that satisfy them', async () => {
    const { clock, admin, dp } = await setup(['general']);
    await admin.putAction(dp, 'fr-young', {
      features: {},
      eligibility: [
        { attribute: 'context.country', op: 'eq', value: 'FR' },
        { attribute: 'context.age', op: 'range', gte: 18, lt: 30 },
      ],
    });
    const b = container(clock);
    expect(await b.ranked(dp, { context: { country: 'FR', age: 22 } })).toEqual(['fr-young', 'general']);
    expect(await b.ranked(dp, { context: { country: 'FR', age: 35 } })).toEqual(['general']);
    expect(await b.ranked(dp, { context: { age: 22 } })).toEqual(['general']);
    await expect(b.decide(dp, { candidates: ['fr-young'], context: { country: 'DE' } })).rejects.toThrow(
      'no eligible candidate: fr-young: its eligibility rules exclude this request',
    );
  });

  it('reads the user stage for rules on it, even without stage ladders', async () => {
    const { clock, admin, dp } = await setup(['general']);
    await admin.putAction(dp, 'trial-tip', {
      features: {},
      eligibility: [{ attribute: 'stage', op: 'in', values: ['trial'] }],
    });
    const user = uniqueName('user');
    await s.decisions.putUser(
      {
        userId: user,
        state: { recent: [], stages: { [dp]: { stage: 'trial', at: clock.now } }, held: [], through: {} },
        version: undefined,
      },
      undefined,
    );
    const b = container(clock);
    expect(await b.ranked(dp, { userId: user })).toEqual(['general', 'trial-tip']);
    expect(await b.ranked(dp, { userId: uniqueName('stranger') })).toEqual(['general']);
    // The stage was read for the rule only: it is not a context feature of this decision point.
    expect(b.records.at(-1)!.stage).toBeUndefined();
  });
});

describe('new-action traffic cap on the decision path', () => {
  it('keeps a new action within its share of decisions while every logged propensity stays exact', async () => {
    const { clock, admin, dp } = await setup(['x', 'y']);
    await admin.putAction(dp, 'launch', {
      features: { kind: 'launch' },
      trafficCapWhileNew: { maxShare: 0.1, untilImpressions: 1000 },
    });
    const b = container(clock);
    const n = 3000;
    let chosen = 0;
    let candidate = 0;
    let chosenWhenCandidate = 0;
    const candidatesOf = catalogResolver();
    for (let i = 0; i < n; i++) {
      const r = await b.decide(dp, { userId: `u${i}` });
      const rec = b.records.at(-1)!;
      expect(rec.decisionId).toBe(r.decisionId);
      // The ranking is exactly the logged candidate set, and the logged propensity is the chosen action's probability in it.
      const logged = candidatesOf(rec);
      expect(r.ranking.map((e) => e.actionId).sort()).toEqual([...logged].sort());
      expect(rec.propensity).toBe(r.ranking.find((e) => e.actionId === r.chosen[0])!.probability);
      if (logged.includes('launch')) {
        candidate++;
        if (r.chosen[0] === 'launch') chosenWhenCandidate++;
      }
      if (r.chosen[0] === 'launch') chosen++;
    }
    const tol = 4 * Math.sqrt((0.1 * 0.9) / n);
    expect(Math.abs(candidate / n - 0.1)).toBeLessThan(tol);
    expect(chosen / n).toBeLessThan(0.1 + tol);
    // Where it is a candidate, the policy treats it as any other cold action (about 1/3 among three).
    expect(chosenWhenCandidate / candidate).toBeGreaterThan(0.2);
  });
});

describe('bulk import', () => {
  it('applies the valid items, rejects the invalid ones with reasons and reports write failures, item by item', async () => {
    const { admin, dp, clock } = await setup(['kept', 'same']);
    await admin.putAction(dp, 'same', { features: { kind: 'same' }, metadata: { title: 'Same' } });
    // A store whose listing is followed by a concurrent admin write to `contested`: a real lost race.
    const racing = Object.create(s.state) as typeof s.state;
    const other = new CatalogService(s.state, new ModelCache(s.state, { refreshMs: 0 }), () => clock.now);
    racing.listActions = async (name: string) => {
      const listed = await s.state.listActions(name);
      await other.putAction(name, 'contested', { features: { by: 'someone else' } });
      return listed;
    };
    await admin.putAction(dp, 'contested', { features: { by: 'first' } });
    const importer = new CatalogService(racing, new ModelCache(s.state, { refreshMs: 0 }), () => clock.now);

    const r = await importer.importActions(dp, [
      { actionId: 'new-1', features: { kind: 'n1' }, metadata: { title: 'New 1' } },
      { actionId: 'kept', features: { kind: 'changed' } },
      { actionId: 'bad-rule', eligibility: [{ attribute: 'context.age', op: 'range', gt: 9, lt: 3 }] },
      { actionId: 'has space', features: {} },
      { features: {} },
      'not an object',
      { actionId: 'new-1', features: { kind: 'again' } },
      { actionId: 'same', features: { kind: 'same' }, metadata: { title: 'Same' } },
      { actionId: 'contested', features: { by: 'importer' } },
      { actionId: 'late', endsAt: '2020-01-01T00:00:00' },
    ]);
    expect(r).toMatchObject({ created: 1, updated: 1, unchanged: 1, rejected: 6, failed: 1 });
    expect(r.results.map((x) => x.status)).toEqual([
      'created',
      'updated',
      'rejected',
      'rejected',
      'rejected',
      'rejected',
      'rejected',
      'unchanged',
      'failed',
      'rejected',
    ]);
    expect(r.results[2]!.error).toBe('eligibility.0: context.age range: the range is empty (> 9 and < 3)');
    expect(r.results[3]!.error).toMatch(/actionId "has space"/);
    expect(r.results[4]!.error).toMatch(/actionId: required/);
    expect(r.results[5]!.error).toMatch(/must be an object/);
    expect(r.results[6]!.error).toBe('actionId new-1 repeats item 0');
    expect(r.results[8]!.error).toMatch(/changed while it was being written; retry/);
    expect(r.results[9]!.error).toMatch(/^endsAt: must be an ISO-8601/);

    const stored = new Map((await s.state.listActions(dp)).map((a): [string, CatalogAction] => [a.actionId, a]));
    expect(stored.get('new-1')!.features).toEqual({ kind: 'n1' });
    expect(stored.get('new-1')!.metadata).toEqual({ title: 'New 1' });
    expect(stored.get('kept')!.features).toEqual({ kind: 'changed' });
    expect(stored.get('same')!.version).toBe(2);
    expect(stored.get('contested')!.features).toEqual({ by: 'someone else' });
    for (const id of ['bad-rule', 'late', 'has space']) expect(stored.has(id)).toBe(false);
  });

  it('imports 1,000 actions in one call', async () => {
    const { admin, dp } = await setup([]);
    const items = Array.from({ length: 1000 }, (_, i) => ({
      actionId: `sku-${i}`,
      features: { cat: `c${i % 37}`, price: i % 90 },
    }));
    const r = await admin.importActions(dp, items);
    expect(r.created).toBe(1000);
    expect(await admin.listActions(dp, { status: 'live' })).toHaveLength(1000);
    expect((await admin.importActions(dp, items)).unchanged).toBe(1000);
    await expect(admin.importActions(dp, [...items, { actionId: 'one-too-many' }])).rejects.toThrow(/at most 1000/);
  });
});
