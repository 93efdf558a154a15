/**
 * Specification (shared/app/decide/snapshot-publisher.ts, snapshot-source.ts):
 * - Coverage: once every writer's `afterWrites` has returned, the published snapshot is the model of every committed
 *   write (its version is what a fresh read of the state table builds), whatever the interleaving of writers,
 *   lease and stores. A plain lease (the winner publishes once, the others skip) does not have this property.
 * - Decision containers read snapshots, never the state table: N containers make no state reads at all, and fetch
 *   a snapshot only when its pointer changes.
 * - A snapshot that does not match its pointer's checksum is never served.
 */
import { describe, expect, it } from 'vitest';
import { MemoryPublishLease, MemorySnapshotStore } from '../../shared/adapters/memory/snapshot-store.ts';
import { MemoryStateStore } from '../../shared/adapters/memory/state-store.ts';
import { CatalogService } from '../../shared/app/catalog/catalog.ts';
import { ModelCache } from '../../shared/app/decide/model-cache.ts';
import { SnapshotPublisher } from '../../shared/app/decide/snapshot-publisher.ts';
import { SnapshotSource } from '../../shared/app/decide/snapshot-source.ts';
import { addObservation, emptyStats } from '../../shared/core/bandit/stats.ts';
import { bucketOf } from '../../shared/core/domain.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import type { StateStore } from '../../shared/core/ports.ts';
import { createRng, type Rng } from '../../shared/core/random.ts';

const D = 4;
const NOW = 1_700_000_000_000;

/** Every method of `target` waits a random 0–2 ms before and after it runs: random interleavings. */
function jittered<T extends object>(target: T, rng: Rng): T {
  const pause = () => new Promise((r) => setTimeout(r, rng.int(3)));
  return new Proxy(target, {
    get(t, key, receiver) {
      const v = Reflect.get(t, key, receiver);
      if (typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        await pause();
        const out = await v.apply(t, args);
        await pause();
        return out;
      };
    },
  });
}

async function world() {
  const state = new MemoryStateStore();
  const catalog = new CatalogService(state, new ModelCache(state, { refreshMs: 0 }), () => NOW);
  await catalog.putDecisionPoint('dp', { contextDim: D, actionDim: 2 });
  for (const id of ['a', 'b', 'c']) await catalog.putAction('dp', id, { features: {} });
  return state;
}

/** Writer k's commit: one new statistics item (its own partition), then its publish request. */
async function write(state: StateStore, k: number, rng: Rng) {
  const s = emptyStats(D);
  addObservation(s, encodeFeatures({ f: rng.int(3) }, D), rng.next());
  await state.putStats(
    {
      decisionPoint: 'dp',
      objective: 'default',
      actionId: ['a', 'b', 'c'][k % 3]!,
      bucket: bucketOf(NOW),
      partition: k,
      slot: 1,
      stats: s,
      counters: { rewardEvents: 1, lateEvents: 0 },
      highWaterMarks: {},
      version: 1,
      updatedAt: NOW + k,
      lastLearnedAt: NOW,
    },
    undefined,
  );
}

/** Runs `writers` concurrent writer containers, each with its own publisher, and returns the last pointer's version. */
async function race(seed: number, writers: number, maxRounds: number) {
  const rng = createRng(seed);
  const state = await world();
  const lease = new MemoryPublishLease();
  const snapshots = new MemorySnapshotStore();
  const slowState = jittered(state, rng);
  const publishers = Array.from(
    { length: writers },
    (_, k) =>
      new SnapshotPublisher(slowState, jittered(lease, rng), jittered(snapshots, rng), {
        owner: `w${k}`,
        maxRounds,
        minIntervalMs: 0,
      }),
  );
  await Promise.all(
    publishers.map(async (p, k) => {
      await new Promise((r) => setTimeout(r, rng.int(20)));
      await write(slowState, k, rng);
      await p.afterWrites('dp');
    }),
  );
  const published = await snapshots.getPointer('dp');
  const truth = await new ModelCache(state, { refreshMs: 0 }).get('dp');
  return { published: published?.version, truth: truth.version };
}

describe('snapshot publishing', () => {
  it('covers every committed write, whatever the interleaving (40 random schedules of 12 writers)', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const { published, truth } = await race(seed, 12, Number.POSITIVE_INFINITY);
      expect(published, `seed ${seed}`).toBe(truth);
    }
  });

  it.each([
    [1, 'a plain lease (publish once, the others skip) loses the write made during the read'],
    [3, 'the request count makes the holder publish again and cover it'],
  ])('maxRounds %i: %s', async (maxRounds) => {
    // A takes the lease and starts reading; B commits a write, counts its request and finds the lease held, all
    // while A's read is in flight; then A's read completes and A publishes.
    const state = await world();
    const lease = new MemoryPublishLease();
    const snapshots = new MemorySnapshotStore();
    let releaseRead: () => void = () => {};
    let gate: Promise<void> | undefined = new Promise<void>((r) => {
      releaseRead = r;
    });
    const gated: StateStore = new Proxy(state, {
      get(t, key, receiver) {
        const v = Reflect.get(t, key, receiver);
        if (key !== 'loadChanges') return v;
        return async (...args: Parameters<StateStore['loadChanges']>) => {
          const out = await t.loadChanges(...args);
          const g = gate;
          gate = undefined;
          if (g) await g;
          return out;
        };
      },
    });
    const options = { maxRounds, minIntervalMs: 0 };
    const a = new SnapshotPublisher(gated, lease, snapshots, { owner: 'a', ...options }).afterWrites('dp');
    await new Promise((r) => setTimeout(r, 5));
    await write(state, 1, createRng(1));
    expect(await new SnapshotPublisher(state, lease, snapshots, { owner: 'b', ...options }).afterWrites('dp')).toBe(
      'held elsewhere',
    );
    releaseRead();
    await a;
    const truth = (await new ModelCache(state, { refreshMs: 0 }).get('dp')).version;
    const published = (await snapshots.getPointer('dp'))?.version;
    if (maxRounds === 1) expect(published).not.toBe(truth);
    else expect(published).toBe(truth);
  });

  it('paces publishes: reads of a decision point begin at least minIntervalMs apart, and every write is still covered', async () => {
    const rng = createRng(9);
    const state = await world();
    const lease = new MemoryPublishLease();
    const snapshots = new MemorySnapshotStore();
    const reads: number[] = [];
    const timed: StateStore = new Proxy(state, {
      get(t, key, receiver) {
        if (key === 'loadChanges') reads.push(performance.now());
        return Reflect.get(t, key, receiver);
      },
    });
    const minIntervalMs = 25;
    await Promise.all(
      Array.from({ length: 12 }, async (_, k) => {
        await new Promise((r) => setTimeout(r, rng.int(150)));
        await write(state, k, rng);
        await new SnapshotPublisher(jittered(timed, rng), lease, snapshots, {
          owner: `w${k}`,
          maxRounds: Number.POSITIVE_INFINITY,
          minIntervalMs,
        }).afterWrites('dp');
      }),
    );
    for (let i = 1; i < reads.length; i++) expect(reads[i]! - reads[i - 1]!).toBeGreaterThanOrEqual(minIntervalMs - 2);
    expect((await snapshots.getPointer('dp'))?.version).toBe(
      (await new ModelCache(state, { refreshMs: 0 }).get('dp')).version,
    );
  });

  it('publishAndWait returns once a snapshot with the write is published, while another holder paces its publishes', async () => {
    const state = await world();
    const lease = new MemoryPublishLease();
    const snapshots = new MemorySnapshotStore();
    const updater = new SnapshotPublisher(state, lease, snapshots, { owner: 'updater', minIntervalMs: 300 });
    await updater.afterWrites('dp');
    await write(state, 1, createRng(1));
    // The updater takes the lease and waits out its interval, holding it.
    const pacing = updater.afterWrites('dp');
    await new Promise((r) => setTimeout(r, 20));
    await write(state, 2, createRng(2));
    const admin = new SnapshotPublisher(state, lease, snapshots, { owner: 'admin', minIntervalMs: 0 });
    expect(await admin.publishAndWait('dp')).toBe(true);
    const truth = (await new ModelCache(state, { refreshMs: 0 }).get('dp')).version;
    expect((await snapshots.getPointer('dp'))?.version).toBe(truth);
    await pacing;
  });

  it('decision containers never read the state table, and fetch a snapshot only when its pointer changes', async () => {
    const state = await world();
    const reads = { changes: 0 };
    const counted: StateStore = new Proxy(state, {
      get(t, key, receiver) {
        if (key === 'loadChanges') reads.changes++;
        return Reflect.get(t, key, receiver);
      },
    });
    const snapshots = new MemorySnapshotStore();
    const publisher = new SnapshotPublisher(state, new MemoryPublishLease(), snapshots, { minIntervalMs: 0 });
    expect(await publisher.afterWrites('dp')).toBe('published');
    let clock = NOW;
    const fallback = new ModelCache(counted, { refreshMs: 1000, now: () => clock });
    const containers = Array.from(
      { length: 50 },
      () => new SnapshotSource(snapshots, { pollMs: 1000, now: () => clock, fallback }),
    );
    for (let second = 0; second < 5; second++) {
      for (const c of containers) for (let i = 0; i < 20; i++) await c.get('dp');
      if (second === 2) {
        await write(state, 99, createRng(1));
        expect(await publisher.afterWrites('dp')).toBe('published');
      }
      clock += 1500;
    }
    expect(reads.changes).toBe(0);
    const fetches = containers.reduce((n, c) => n + c.counts.fetches, 0);
    const polls = containers.reduce((n, c) => n + c.counts.polls, 0);
    // One fetch per container per published snapshot (two), one poll per container per poll interval.
    expect(fetches).toBe(100);
    expect(polls).toBe(250);
    const served = await containers[0]!.get('dp');
    expect(served.version).toBe((await new ModelCache(state, { refreshMs: 0 }).get('dp')).version);
  });

  it('serves the last good model when the snapshot behind the pointer does not match its checksum', async () => {
    const state = await world();
    const snapshots = new MemorySnapshotStore();
    await new SnapshotPublisher(state, new MemoryPublishLease(), snapshots, { minIntervalMs: 0 }).afterWrites('dp');
    let clock = NOW;
    const source = new SnapshotSource(snapshots, {
      pollMs: 1000,
      now: () => clock,
      fallback: new ModelCache(state, { refreshMs: 0 }),
    });
    const good = await source.get('dp');
    await write(state, 5, createRng(2));
    const model = await new ModelCache(state, { refreshMs: 0 }).get('dp');
    // A pointer whose checksum names other bytes than the stored snapshot's.
    const pointer = { ...(await snapshots.getPointer('dp'))!, version: model.version, sha256: '0'.repeat(64) };
    await snapshots.publish(pointer, (await snapshots.getSnapshot('dp'))!);
    clock += 2000;
    expect((await source.get('dp')).version).toBe(good.version);
    // Read again up to three times (a newer snapshot may have overwritten it), then the last good model serves.
    expect(source.counts.rejected).toBe(3);
  });

  it('answers every one of many concurrent first requests of a container with the model', async () => {
    const state = await world();
    const snapshots = new MemorySnapshotStore();
    await new SnapshotPublisher(state, new MemoryPublishLease(), snapshots, { minIntervalMs: 0 }).afterWrites('dp');
    const source = new SnapshotSource(jittered(snapshots, createRng(3)), {
      pollMs: 1000,
      fallback: new ModelCache(state, { refreshMs: 0 }),
    });
    const models = await Promise.all(Array.from({ length: 20 }, () => source.get('dp')));
    expect(new Set(models.map((m) => m?.version)).size).toBe(1);
    expect(models.every((m) => m?.posterior.ids.length === 3)).toBe(true);
    expect(source.counts.polls).toBe(1);
  });

  it('serves a decision point without a snapshot from the state table, and answers 404 for unknown names', async () => {
    const state = await world();
    const source = new SnapshotSource(new MemorySnapshotStore(), {
      pollMs: 1000,
      fallback: new ModelCache(state, { refreshMs: 0 }),
    });
    expect((await source.get('dp')).posterior.ids).toEqual(['a', 'b', 'c']);
    await expect(source.get('nope')).rejects.toThrow(/does not exist/);
  });
});
