/**
 * A decision point with 1,000 live actions (d = 16, m = 8, the defaults) against dynalite, measuring what a warm
 * decision container pays:
 *   - bulk import of the 1,000 actions (one `importActions` call, as `POST …/actions:batch`);
 *   - cold load: the first model read of a fresh container (every item of the decision point + the full build);
 *   - refresh with nothing changed (the one Query per refreshMs), after a learning update (Query + posterior rebuild),
 *     and after a retirement (Query + catalog-only update);
 *   - decision latency through DecisionService (candidate filter + scoring + Thompson + exact propensities), and the
 *     candidate filter alone, with a catalog where some actions have windows, rules and a traffic cap;
 *   - the largest catalog and statistics item sizes, against DynamoDB's 400 KB.
 *
 * Run directly (`npx tsx bench/catalog/catalog.bench.ts [--quick]`) or import runCatalogBench.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { marshall } from '@aws-sdk/util-dynamodb';
import { startEmulatorsWithResources } from '../../local/twin/resources.ts';
import { physicalName } from '../../local/twin/template.ts';
import { DynamoStateStore } from '../../shared/adapters/dynamodb/state-store.ts';
import { CatalogService } from '../../shared/app/catalog/catalog.ts';
import { mapLimit } from '../../shared/app/concurrency.ts';
import { DecisionService } from '../../shared/app/decide/decide.ts';
import { ModelCache } from '../../shared/app/decide/model-cache.ts';
import { addObservation, emptyStats, encodeStats } from '../../shared/core/bandit/stats.ts';
import { eligibleCandidates } from '../../shared/core/catalog/eligible.ts';
import { bucketOf, DEFAULT_OBJECTIVE, type StatsItem } from '../../shared/core/domain.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { createRng } from '../../shared/core/random.ts';
import { machine, summarize } from '../lib/stats.ts';

export interface Latency {
  p50: number;
  p99: number;
  n: number;
}

export interface CatalogBenchResult {
  machine: string;
  actions: number;
  statsItems: number;
  contextDim: number;
  actionDim: number;
  importMs: number;
  /** JSON size of the import request body (the API takes at most 256 KB per request). */
  importBodyBytes: number;
  coldLoadMs: number;
  /** Milliseconds per refresh. */
  refreshUnchanged: Latency;
  refreshAfterLearning: Latency;
  refreshAfterRetire: Latency;
  /** Microseconds per decision / per filter pass over every live action. */
  decide: Latency;
  filter: Latency;
  maxActionItemBytes: number;
  statsItemBytes: number;
}

const lat = (samples: number[]): Latency => {
  const s = summarize(samples);
  return { p50: s.p50, p99: s.p99, n: s.n };
};

export async function runCatalogBench(opts: { quick?: boolean; actions?: number } = {}): Promise<CatalogBenchResult> {
  const K = opts.actions ?? 1000;
  const partitions = 4;
  const refreshes = opts.quick ? 10 : 40;
  const decisions = opts.quick ? 1000 : 5000;
  const { emulators: emu, plan } = await startEmulatorsWithResources();
  try {
    const store = new DynamoStateStore(emu.dynamo, physicalName(plan, 'StateTable'));
    // Items are written "an hour ago" so a refresh's skew-margin window re-reads only what each step changes.
    const clock = { now: Date.now() - 3_600_000 };
    const admin = new CatalogService(store, new ModelCache(store, { refreshMs: 0 }), () => clock.now);
    const seededAt = clock.now;
    const dp = 'bench-catalog';
    const { decisionPoint } = await admin.putDecisionPoint(dp, {});
    const { contextDim: d, actionDim: m } = decisionPoint.settings;
    const rng = createRng(42);
    const iso = (ms: number) => new Date(ms).toISOString();
    const items = Array.from({ length: K }, (_, i) => ({
      actionId: `offer-${String(i).padStart(4, '0')}`,
      features: { category: `c${i % 25}`, brand: `b${i % 60}`, price: 5 + (i % 100), premium: i % 7 === 0 },
      metadata: { title: `Offer ${i}`, url: `https://example.com/offers/${i}` },
      // A realistic mix: 20 % with rules, 10 % with a window, 5 % capped while new.
      ...(i % 5 === 0
        ? {
            eligibility: [
              { attribute: 'context.country', op: 'in', values: ['FR', 'DE', 'ES', 'IT'] },
              { attribute: 'context.age', op: 'range', gte: 18 },
            ],
          }
        : {}),
      ...(i % 10 === 1 ? { startsAt: iso(clock.now - 86_400_000), endsAt: iso(clock.now + 30 * 86_400_000) } : {}),
      ...(i % 20 === 2 ? { trafficCapWhileNew: { maxShare: 0.05 } } : {}),
    }));
    const t0 = performance.now();
    const imported = await admin.importActions(dp, items);
    const importMs = performance.now() - t0;
    if (imported.created !== K) throw new Error(`import created ${imported.created} of ${K}`);

    // Learned statistics: every action seen in every writer partition, ~50 impressions each.
    const stats: StatsItem[] = [];
    for (const it of items) {
      for (let p = 0; p < partitions; p++) {
        const s = emptyStats(d);
        for (let n = 0; n < 50; n++) {
          const x = encodeFeatures(
            { country: ['FR', 'DE', 'US'][rng.int(3)]!, age: 18 + rng.int(60), mobile: rng.next() < 0.5 },
            d,
          );
          addObservation(s, x, rng.next() < 0.1 ? 1 : 0);
        }
        stats.push({
          decisionPoint: dp,
          objective: DEFAULT_OBJECTIVE,
          actionId: it.actionId,
          bucket: bucketOf(clock.now),
          partition: p,
          slot: 1,
          stats: s,
          counters: { rewardEvents: s.sumR, lateEvents: 0 },
          highWaterMarks: { 'shardId-000000000000': '49650000000000000000000000000000000000000000000000000000' },
          version: 1,
          updatedAt: clock.now,
          lastLearnedAt: clock.now,
        });
      }
    }
    await mapLimit(stats, 32, (s) => store.putStats(s, undefined));

    clock.now = seededAt + 600_000;
    const cache = new ModelCache(store, { refreshMs: 1000, now: () => clock.now });
    const c0 = performance.now();
    await cache.get(dp);
    const coldLoadMs = performance.now() - c0;

    const timeRefresh = async (change: (i: number) => Promise<void>): Promise<Latency> => {
      const samples: number[] = [];
      for (let i = 0; i < refreshes; i++) {
        await change(i);
        clock.now += 1000;
        const t = performance.now();
        await cache.get(dp);
        samples.push(performance.now() - t);
      }
      return lat(samples);
    };
    const learnOne = async (i: number) => {
      const k = (i * 7919) % stats.length;
      const item = stats[k]!;
      addObservation(item.stats, encodeFeatures({ country: 'FR' }, d), 1);
      const next = { ...item, version: item.version + 1, updatedAt: clock.now, lastLearnedAt: clock.now };
      await store.putStats(next, item.version);
      stats[k] = next;
    };
    // Steady state first: recent writes move the refresh window past the seeded items (it re-reads only the last
    // skewMarginMs of writes, as under live traffic).
    for (let i = 0; i < 8; i++) {
      await learnOne(refreshes + i);
      clock.now += 1000;
      await cache.get(dp);
    }
    const refreshAfterLearning = await timeRefresh(learnOne);
    const refreshAfterRetire = await timeRefresh(async (i) => {
      await admin.retireAction(dp, items[K - 1 - i]!.actionId);
    });
    const refreshUnchanged = await timeRefresh(async () => {});

    const records: unknown[] = [];
    const service = new DecisionService({
      models: new ModelCache(store, { refreshMs: 3_600_000 }),
      stream: {
        put: async (rs) => {
          records.push(...rs);
          return [];
        },
      },
      rng: createRng(7),
    });
    const contexts = Array.from({ length: 256 }, () => ({
      country: ['FR', 'DE', 'US', 'JP'][rng.int(4)]!,
      age: 14 + rng.int(60),
      mobile: rng.next() < 0.5,
      segment: `s${rng.int(8)}`,
    }));
    const req = (i: number) => ({
      decisionPoint: dp,
      userId: `u${i}`,
      context: contexts[i % contexts.length]!,
      slots: 1,
    });
    for (let i = 0; i < 200; i++) await service.decide(req(i));
    const decideUs: number[] = [];
    for (let i = 0; i < decisions; i++) {
      const t = performance.now();
      await service.decide(req(i));
      decideUs.push((performance.now() - t) * 1000);
      if (records.length > 1000) records.length = 0;
    }
    const model = await cache.get(dp);
    const filterUs: number[] = [];
    for (let i = 0; i < decisions; i++) {
      const t = performance.now();
      eligibleCandidates(model, model.live, { context: contexts[i % contexts.length]!, now: clock.now, key: `d-${i}` });
      filterUs.push((performance.now() - t) * 1000);
    }

    const maxActionItemBytes = Math.max(
      ...(await store.listActions(dp)).map((a) => JSON.stringify(marshall(a, { removeUndefinedValues: true })).length),
    );
    return {
      machine: machine(),
      actions: K,
      statsItems: stats.length,
      contextDim: d,
      actionDim: m,
      importMs,
      importBodyBytes: Buffer.byteLength(JSON.stringify({ actions: items }), 'utf8'),
      coldLoadMs,
      refreshUnchanged,
      refreshAfterLearning,
      refreshAfterRetire,
      decide: lat(decideUs),
      filter: lat(filterUs),
      maxActionItemBytes,
      statsItemBytes: encodeStats(stats[0]!.stats).length,
    };
  } finally {
    await emu.close();
  }
}

export function formatCatalogBench(r: CatalogBenchResult): string {
  const f = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
  const row = (name: string, x: Latency, unit: string) => `| ${name} | ${f(x.p50)} | ${f(x.p99)} | ${unit} | ${x.n} |`;
  return [
    `Catalog of ${r.actions} live actions (d = ${r.contextDim}, m = ${r.actionDim}), ${r.statsItems} statistics items, dynalite; ${r.machine}`,
    '',
    `Bulk import of ${r.actions} actions (${f(r.importBodyBytes / 1024, 0)} KB body): ${f(r.importMs, 0)} ms. Cold load of a fresh container: ${f(r.coldLoadMs, 0)} ms.`,
    `Largest action item ${r.maxActionItemBytes} B, statistics blob ${r.statsItemBytes} B (DynamoDB limit 400 KB).`,
    '',
    '| step | p50 | p99 | unit | n |',
    '|------|----:|----:|------|--:|',
    row('refresh, nothing changed', r.refreshUnchanged, 'ms'),
    row('refresh after a learning update (posterior rebuild)', r.refreshAfterLearning, 'ms'),
    row('refresh after a retirement (catalog only)', r.refreshAfterRetire, 'ms'),
    row('decision (filter + score + Thompson + propensities)', r.decide, 'µs'),
    row('candidate filter alone (windows, rules, caps)', r.filter, 'µs'),
  ].join('\n');
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  console.log(formatCatalogBench(await runCatalogBench({ quick: process.argv.includes('--quick') })));
}
