/**
 * Model snapshots (shared/app/decide/snapshot.ts) at K = 100, 1,000 and 10,000 actions (d = 16, m = 8, one objective,
 * every action with statistics): what the publisher does once per publish (build the serving model from the state
 * table's items, encode it) against what every container does per new snapshot (checksum and decode), and its size.
 * The build is the baseline: the ratio says how much cheaper a container's refresh became.
 * Run directly: `npx tsx bench/core/snapshot.bench.ts`.
 */
import { MemoryStateStore } from '../../shared/adapters/memory/state-store.ts';
import { CatalogService } from '../../shared/app/catalog/catalog.ts';
import { ModelCache } from '../../shared/app/decide/model-cache.ts';
import { decodeSnapshot, encodeSnapshot, sha256Hex } from '../../shared/app/decide/snapshot.ts';
import { addObservation, emptyStats } from '../../shared/core/bandit/stats.ts';
import { bucketOf } from '../../shared/core/domain.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { createRng } from '../../shared/core/random.ts';

export interface SnapshotRow {
  actions: number;
  bytes: number;
  buildMs: number;
  encodeMs: number;
  decodeMs: number;
}

const NOW = 1_700_000_000_000;

async function stateWith(actions: number): Promise<MemoryStateStore> {
  const state = new MemoryStateStore();
  const catalog = new CatalogService(state, new ModelCache(state, { refreshMs: 0 }), () => NOW);
  await catalog.putDecisionPoint('dp', { contextDim: 16, actionDim: 8, rewards: { click: 1 } });
  const items = Array.from({ length: actions }, (_, i) => ({
    actionId: `offer-${i}`,
    features: { category: `c${i % 20}`, price: i % 7 },
  }));
  for (let i = 0; i < items.length; i += 1000) await catalog.importActions('dp', items.slice(i, i + 1000));
  const rng = createRng(1);
  for (let i = 0; i < actions; i++) {
    const s = emptyStats(16);
    for (let k = 0; k < 30; k++) addObservation(s, encodeFeatures({ f: rng.int(5), g: rng.next() }, 16), rng.next());
    await state.putStats(
      {
        decisionPoint: 'dp',
        objective: 'default',
        actionId: `offer-${i}`,
        bucket: bucketOf(NOW),
        partition: 0,
        slot: 1,
        stats: s,
        counters: { rewardEvents: 30, lateEvents: 0 },
        highWaterMarks: {},
        version: 1,
        updatedAt: NOW,
        lastLearnedAt: NOW,
      },
      undefined,
    );
  }
  return state;
}

function median(f: () => void, runs: number): number {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    f();
    ms.push(performance.now() - t);
  }
  return ms.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

export async function runSnapshotBench(opts: { sizes?: number[] } = {}): Promise<SnapshotRow[]> {
  const rows: SnapshotRow[] = [];
  for (const actions of opts.sizes ?? [100, 1_000, 10_000]) {
    const state = await stateWith(actions);
    const runs = actions >= 10_000 ? 3 : 9;
    const builds: number[] = [];
    let model = await new ModelCache(state, { refreshMs: 0 }).get('dp');
    for (let r = 0; r < runs; r++) {
      const t = performance.now();
      model = await new ModelCache(state, { refreshMs: 0 }).get('dp');
      builds.push(performance.now() - t);
    }
    let bytes = encodeSnapshot(model);
    const encodeMs = median(() => {
      bytes = encodeSnapshot(model);
    }, runs);
    const sha = sha256Hex(bytes);
    const decodeMs = median(() => decodeSnapshot(bytes, sha), runs);
    rows.push({
      actions,
      bytes: bytes.length,
      buildMs: builds.sort((a, b) => a - b)[Math.floor(runs / 2)]!,
      encodeMs,
      decodeMs,
    });
  }
  return rows;
}

export function formatSnapshotBench(rows: SnapshotRow[]): string {
  const f = (v: number, d = 1) => v.toFixed(d);
  return [
    'd = 16, m = 8, one objective, every action with statistics; medians. The build (state table items → serving model, what every container did at each refresh before snapshots) runs once per publish now; a container only checks the SHA-256 and decodes.',
    '',
    '| actions K | snapshot size | build (publisher) ms | encode ms | checksum + decode (container) ms | build / decode |',
    '|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.actions.toLocaleString('en-US')} | ${f(r.bytes / 1024, 0)} KB | ${f(r.buildMs)} | ${f(r.encodeMs)} | ${f(r.decodeMs)} | ${f(r.buildMs / r.decodeMs, 0)}× |`,
    ),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(formatSnapshotBench(await runSnapshotBench()));
}
