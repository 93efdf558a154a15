import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApplyBatchDeps, applyBatch, type StreamEntry } from '../../shared/app/learn/apply-batch.ts';
import { type ActionStats, emptyStats, mergeStats } from '../../shared/core/bandit/stats.ts';
import type { StateStore } from '../../shared/core/ports.ts';
import { createRng } from '../../shared/core/random.ts';
import { startTestStores, type TestStores, uniqueName } from '../support/emulators.ts';
import { compareStatistics } from '../support/feedback-compare.ts';
import { referenceFeedback } from '../support/feedback-reference.ts';
import { decisionRecord, entries, eventRecord } from '../support/records.ts';

let s: TestStores;
beforeAll(async () => {
  s = await startTestStores();
});
afterAll(async () => {
  await s.emulators.close();
});

const deps = (over: Partial<ApplyBatchDeps> = {}): ApplyBatchDeps => ({
  state: s.state,
  decisions: s.decisions,
  deadLetters: s.deadLetters,
  statsPartitions: 4,
  ...over,
});

async function statsByAction(
  dp: string,
): Promise<Map<string, { stats: ActionStats; rewardEvents: number; lateEvents: number }>> {
  const out = new Map<string, { stats: ActionStats; rewardEvents: number; lateEvents: number }>();
  for (const item of await s.state.listStats(dp)) {
    const cur = out.get(item.actionId) ?? { stats: emptyStats(item.stats.sxr.length), rewardEvents: 0, lateEvents: 0 };
    mergeStats(cur.stats, item.stats);
    cur.rewardEvents += item.counters.rewardEvents;
    cur.lateEvents += item.counters.lateEvents;
    out.set(item.actionId, cur);
  }
  return out;
}

/** A realistic mixed stream: decisions for several users, then clicks, duplicates, late and foreign events. */
function scenario(dp: string, n: number, seed: number): unknown[] {
  const rng = createRng(seed);
  const payloads: unknown[] = [];
  const decided: { id: string; user: string }[] = [];
  for (let i = 0; i < n; i++) {
    if (decided.length === 0 || rng.next() < 0.5) {
      const id = `${dp}-d${i}`;
      const user = `${dp}-u${rng.int(20)}`;
      payloads.push(
        decisionRecord({
          decisionPoint: dp,
          decisionId: id,
          userId: user,
          chosen: `a${rng.int(5)}`,
          context: { segment: rng.next() < 0.5 ? 'new' : 'returning', age: rng.int(60) },
        }),
      );
      decided.push({ id, user });
    } else {
      const d = decided[rng.int(decided.length)]!;
      const eventId = `${dp}-e${rng.int(n)}`; // ids repeat: duplicates must count once
      payloads.push(
        eventRecord({
          eventId,
          userId: d.user,
          decisionId: d.id,
          type: 'click',
          ...(rng.next() < 0.2 ? { value: 3 } : {}),
        }),
      );
    }
  }
  return payloads;
}

describe('applyBatch', () => {
  it('counts an impression with reward 0 per decision and adds a joined event as its reward', async () => {
    const dp = uniqueName();
    const out = await applyBatch(
      entries('shard-1', [
        decisionRecord({ decisionPoint: dp, decisionId: `${dp}-1`, userId: `${dp}-u1`, chosen: 'a' }),
        eventRecord({ eventId: 'e1', userId: `${dp}-u1`, decisionId: `${dp}-1`, type: 'click' }),
      ]),
      deps(),
    );
    expect(out).toMatchObject({ failedFrom: undefined, decisions: 1, rewards: 1, deadLettered: 0 });
    const a = (await statsByAction(dp)).get('a')!;
    expect(a.stats.n).toBe(1);
    expect(a.stats.sumR).toBe(1);
    expect(a.rewardEvents).toBe(1);
  });

  it('ends in the reference state when overlapping batches are redelivered', async () => {
    const dp = uniqueName('again');
    const payloads = scenario(dp, 300, 7);
    const stream = entries('shard-1', payloads);
    // Lambda after partial failures: batches restart at a lower sequence number and overlap what was applied.
    for (const [from, to] of [
      [0, 120],
      [60, 200],
      [150, 300],
      [0, 300],
      [299, 300],
    ] as const) {
      const out = await applyBatch(stream.slice(from, to), deps());
      expect(out.failedFrom).toBeUndefined();
    }
    const reference = referenceFeedback(payloads.map((p) => JSON.stringify(p)));
    expect((await compareStatistics(s.state, [dp], reference)).diffs).toEqual([]);
    expect([...reference.stats.values()].reduce((n, x) => n + x.rewardEvents, 0)).toBeGreaterThan(10);
  });

  it('counts a duplicated decision record and a duplicated event id once', async () => {
    const dp = uniqueName();
    const d = decisionRecord({ decisionPoint: dp, decisionId: `${dp}-1`, userId: `${dp}-u1`, chosen: 'a' });
    const e = eventRecord({ eventId: 'same', userId: `${dp}-u1`, decisionId: `${dp}-1`, type: 'click' });
    const first = await applyBatch(entries('shard-1', [d, d, e, e], 10n), deps());
    // The producer retried later too: the same payloads arrive again with new sequence numbers.
    const second = await applyBatch(entries('shard-1', [d, e], 20n), deps());
    expect(first).toMatchObject({ decisions: 1, duplicateDecisions: 1, rewards: 1, duplicateEvents: 1 });
    expect(second).toMatchObject({ decisions: 0, duplicateDecisions: 1, rewards: 0, duplicateEvents: 1 });
    const a = (await statsByAction(dp)).get('a')!;
    expect(a.stats.n).toBe(1);
    expect(a.stats.sumR).toBe(1);
  });

  it('counts events after the attribution window as late and does not learn from them', async () => {
    const dp = uniqueName();
    const at = 1_700_000_000_000;
    const out = await applyBatch(
      entries('shard-1', [
        decisionRecord({
          decisionPoint: dp,
          decisionId: `${dp}-1`,
          userId: `${dp}-u1`,
          chosen: 'a',
          at,
          windowSeconds: 60,
        }),
        eventRecord({ eventId: 'in', userId: `${dp}-u1`, decisionId: `${dp}-1`, type: 'click' }, at + 59_000),
        eventRecord({ eventId: 'late', userId: `${dp}-u1`, decisionId: `${dp}-1`, type: 'click' }, at + 61_000),
        // Dated inside the window by the client, but received late: the timestamp counts, capped at receipt.
        eventRecord(
          {
            eventId: 'dated',
            userId: `${dp}-u1`,
            decisionId: `${dp}-1`,
            type: 'click',
            timestamp: new Date(at + 30_000).toISOString(),
          },
          at + 600_000,
        ),
      ]),
      deps(),
    );
    expect(out).toMatchObject({ rewards: 2, lateEvents: 1 });
    const a = (await statsByAction(dp)).get('a')!;
    expect(a.stats.sumR).toBe(2);
    expect(a.lateEvents).toBe(1);
  });

  it('applies configured reward weights, lets an event value override them, and ignores unlisted types', async () => {
    const dp = uniqueName();
    const rewards = { click: 1, purchase: 50 };
    const out = await applyBatch(
      entries('shard-1', [
        decisionRecord({ decisionPoint: dp, decisionId: `${dp}-1`, userId: `${dp}-u1`, chosen: 'a', rewards }),
        eventRecord({ eventId: 'p', userId: `${dp}-u1`, decisionId: `${dp}-1`, type: 'purchase' }),
        eventRecord({ eventId: 'c', userId: `${dp}-u1`, decisionId: `${dp}-1`, type: 'click', value: 2 }),
        eventRecord({ eventId: 'v', userId: `${dp}-u1`, decisionId: `${dp}-1`, type: 'view' }),
      ]),
      deps(),
    );
    expect(out).toMatchObject({ rewards: 2, ignoredEvents: 1 });
    expect((await statsByAction(dp)).get('a')!.stats.sumR).toBe(52);
  });

  it('joins an event without a decision id to the user’s latest decision', async () => {
    const dp = uniqueName();
    await applyBatch(
      entries('shard-1', [
        decisionRecord({
          decisionPoint: dp,
          decisionId: `${dp}-old`,
          userId: `${dp}-u9`,
          chosen: 'a',
          at: 1_700_000_000_000,
        }),
        decisionRecord({
          decisionPoint: dp,
          decisionId: `${dp}-new`,
          userId: `${dp}-u9`,
          chosen: 'b',
          at: 1_700_000_000_500,
        }),
      ]),
      deps(),
    );
    // A later batch: the join goes through the stored latest-decision pointer.
    const out = await applyBatch(
      entries('shard-1', [eventRecord({ eventId: 'x', userId: `${dp}-u9`, type: 'click' })], 5000n),
      deps(),
    );
    expect(out.rewards).toBe(1);
    const stats = await statsByAction(dp);
    expect(stats.get('b')!.stats.sumR).toBe(1);
    expect(stats.get('a')!.stats.sumR).toBe(0);
  });

  it('sends poison records to the dead-letter store with their reason and moves on', async () => {
    const dp = uniqueName();
    const out = await applyBatch(
      entries(
        'shard-poison',
        [
          'not json at all',
          { kind: 'event', v: 1, event: { eventId: 'x', userId: `${dp}-u1`, type: 7 }, receivedAt: 1 },
          eventRecord({ eventId: 'y', userId: `${dp}-u1`, decisionId: 'no-such-decision', type: 'click' }),
          decisionRecord({ decisionPoint: dp, decisionId: `${dp}-1`, userId: `${dp}-owner`, chosen: 'a' }),
          eventRecord({ eventId: 'z', userId: `${dp}-intruder`, decisionId: `${dp}-1`, type: 'click' }),
          eventRecord({
            eventId: 'w',
            userId: `${dp}-owner`,
            decisionId: `${dp}-1`,
            actionId: 'not-chosen',
            type: 'click',
          }),
        ],
        777n,
      ),
      deps(),
    );
    expect(out).toMatchObject({ failedFrom: undefined, decisions: 1, rewards: 0, deadLettered: 4, heldEvents: 1 });
    const letters = (await s.deadLetters.list(1000)).filter((l) => l.id.startsWith('shard-poison/'));
    const byId = Object.fromEntries(letters.map((l) => [l.id, `${l.status} ${l.code}: ${l.reason}`]));
    expect(byId['shard-poison/777']).toMatch(/^dead malformed: .*not JSON/);
    expect(byId['shard-poison/778']).toMatch(/^dead malformed: .*event\.type/);
    // F2a: a decision not read yet may still come: the event waits for it.
    expect(byId['shard-poison/779']).toMatch(/^held held: waiting for decision no-such-decision/);
    expect(byId['shard-poison/781']).toMatch(/^dead another-user: .*belongs to another user/);
    expect(byId['shard-poison/782']).toMatch(/^dead action-not-chosen: .*was not chosen/);
  });

  it('loses no update when two updaters race on the same actions', async () => {
    const dp = uniqueName();
    const make = (shard: string, k: number) =>
      Array.from({ length: 8 }, (_, b) =>
        entries(
          shard,
          Array.from({ length: 25 }, (_, i) =>
            decisionRecord({
              decisionPoint: dp,
              decisionId: `${dp}-${shard}-${b}-${i}`,
              userId: `u${k}-${i}`,
              chosen: i % 2 ? 'hot' : 'warm',
            }),
          ),
          BigInt(1000 + b * 100),
        ),
      );
    // One partition: every batch of both shards writes the same two items, so the version conditions collide.
    const one = deps({ statsPartitions: 1 });
    await Promise.all(
      [make('shard-A', 1), make('shard-B', 2), make('shard-C', 3)].map(async (batches) => {
        for (const batch of batches) expect((await applyBatch(batch, one)).failedFrom).toBeUndefined();
      }),
    );
    const stats = await statsByAction(dp);
    expect(stats.get('hot')!.stats.n + stats.get('warm')!.stats.n).toBe(3 * 8 * 25);
    expect(stats.get('hot')!.stats.n).toBe(3 * 8 * 12);
  });

  it('reports the lowest uncommitted sequence number on a store failure, and a redelivery from there completes the state', async () => {
    const dp = uniqueName('faulty');
    const payloads = scenario(dp, 200, 11);
    const stream = entries('shard-1', payloads);
    let failures = 0;
    const flaky: StateStore = new Proxy(s.state, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (prop !== 'putStats') return typeof v === 'function' ? v.bind(target) : v;
        return async (...args: Parameters<StateStore['putStats']>) => {
          // Fail the write of one action's item on the first delivery, as a throttled DynamoDB would.
          if (args[0].actionId === 'a3' && failures < 1) {
            failures++;
            throw new Error('ProvisionedThroughputExceededException (injected)');
          }
          return target.putStats(...args);
        };
      },
    });
    const first = await applyBatch(stream, deps({ state: flaky }));
    expect(first.failedFrom).toBeDefined();
    const from = stream.findIndex((e: StreamEntry) => e.sequenceNumber === first.failedFrom);
    expect(from).toBeGreaterThanOrEqual(0);
    const second = await applyBatch(stream.slice(from), deps({ state: flaky }));
    expect(second.failedFrom).toBeUndefined();
    const reference = referenceFeedback(payloads.map((p) => JSON.stringify(p)));
    expect((await compareStatistics(s.state, [dp], reference)).diffs).toEqual([]);
  });
});

describe('applyBatch with many events for one decision', () => {
  it('learns every event of a decision answered by 100 distinct events in one batch', async () => {
    const dp = uniqueName();
    const payloads = [
      decisionRecord({ decisionPoint: dp, decisionId: `${dp}-1`, userId: `${dp}-u1`, chosen: 'a' }),
      ...Array.from({ length: 100 }, (_, i) =>
        eventRecord({ eventId: `e${i}`, userId: `${dp}-u1`, decisionId: `${dp}-1`, type: 'click' }),
      ),
    ];
    const out = await applyBatch(entries('shard-many', payloads), deps());
    expect(out.failedFrom).toBeUndefined();
    expect(out.rewards).toBe(100);
    expect((await statsByAction(dp)).get('a')!.stats.sumR).toBe(100);
  });
});

describe('applyBatch joins events without a decision id to the past only', () => {
  it('never credits a decision made after the event, even in the same batch', async () => {
    const dp = uniqueName();
    const at = 1_700_000_000_000;
    const out = await applyBatch(
      entries('shard-order', [
        decisionRecord({ decisionPoint: dp, decisionId: `${dp}-before`, userId: `${dp}-uo`, chosen: 'a', at }),
        eventRecord({ eventId: 'x', userId: `${dp}-uo`, type: 'click' }, at + 1000),
        decisionRecord({
          decisionPoint: dp,
          decisionId: `${dp}-after`,
          userId: `${dp}-uo`,
          chosen: 'b',
          at: at + 2000,
        }),
      ]),
      deps(),
    );
    expect(out.rewards).toBe(1);
    const stats = await statsByAction(dp);
    expect(stats.get('a')!.stats.sumR).toBe(1);
    expect(stats.get('b')!.stats.sumR).toBe(0);
  });
});

describe('applyBatch creates a statistics item from a late event alone', () => {
  it('counts a late event on a shard whose writer partition has no item yet (after a reshard), instead of failing forever', async () => {
    const dp = uniqueName();
    const at = 1_700_000_000_000;
    const user = `${dp}-u`;
    const d = decisionRecord({
      decisionPoint: dp,
      decisionId: `${dp}-1`,
      userId: user,
      chosen: 'a',
      at,
      windowSeconds: 60,
    });
    // The decision was learned on the parent shard; the late event arrives on the child, another writer partition.
    await applyBatch(entries('shard-parent', [d]), deps({ statsPartitions: 64 }));
    const late = eventRecord({ eventId: 'late', userId: user, decisionId: `${dp}-1`, type: 'click' }, at + 120_000);
    const out = await applyBatch(entries('shard-child', [late]), deps({ statsPartitions: 64 }));
    expect(out).toMatchObject({ failedFrom: undefined, lateEvents: 1, rewards: 0 });
    const items = await s.state.listStats(dp);
    expect(new Set(items.map((i) => i.partition)).size).toBe(2);
    expect(items.reduce((n, i) => n + i.counters.lateEvents, 0)).toBe(1);
    expect(items.reduce((n, i) => n + i.stats.n, 0)).toBe(1);
  });
});
