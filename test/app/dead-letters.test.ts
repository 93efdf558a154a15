/**
 * Dead letters are recoverable (docs/ARCHITECTURE.md §3 F2c): a record refused because its cause was not there yet
 * (here: an event that reached the stream before the decision it followed, a deferred decision log) is replayed once
 * the cause is gone and then counts, exactly once, however often the replay runs.
 */
import { describe, expect, it } from 'vitest';
import { MemoryDeadLetterStore } from '../../shared/adapters/memory/dead-letter-store.ts';
import { MemoryDecisionStore } from '../../shared/adapters/memory/decision-store.ts';
import { MemoryEventStream } from '../../shared/adapters/memory/event-stream.ts';
import { MemoryStateStore } from '../../shared/adapters/memory/state-store.ts';
import { type ApplyBatchDeps, applyBatch } from '../../shared/app/learn/apply-batch.ts';
import { listDeadLetters, replayDeadLetters } from '../../shared/app/learn/dead-letters.ts';
import type { StateStore } from '../../shared/core/ports.ts';
import { decisionRecord, eventRecord } from '../support/records.ts';

const T0 = 1_700_000_000_000;

async function drain(stream: MemoryEventStream, deps: ApplyBatchDeps) {
  for (const shard of stream.shardIds) {
    for (let batch = stream.poll(shard, 100); batch.length > 0; batch = stream.poll(shard, 100)) {
      const out = await applyBatch(batch, deps);
      stream.commit(shard, batch, out.failedFrom);
    }
  }
}

const rewarded = async (state: StateStore, dp: string) =>
  (await state.listStats(dp)).reduce((s, i) => s + (i.objective === 'default' ? i.counters.rewardEvents : 0), 0);

describe('dead letters', () => {
  it('replays a refused event once its decision has arrived; a second replay changes nothing', async () => {
    const deps: ApplyBatchDeps = {
      state: new MemoryStateStore(),
      decisions: new MemoryDecisionStore(),
      deadLetters: new MemoryDeadLetterStore(),
      statsPartitions: 1,
    };
    const stream = new MemoryEventStream({ shardCount: 1, now: () => T0 });
    // The click reaches the stream first; the decision it followed (at T0) was logged late.
    await stream.put([
      eventRecord({ eventId: 'click-1', userId: 'u1', type: 'click', decisionPoint: 'dp' }, T0 + 2000),
      decisionRecord({ decisionPoint: 'dp', decisionId: 'd1', userId: 'u1', chosen: 'a', at: T0 }),
    ]);
    await drain(stream, deps);
    expect(await rewarded(deps.state, 'dp')).toBe(0);
    const refused = await listDeadLetters(deps.deadLetters, { decisionPoint: 'dp' });
    expect(refused.map((d) => [d.status, d.code])).toEqual([['dead', 'no-decision']]);

    const first = await replayDeadLetters({ deadLetters: deps.deadLetters, stream }, { decisionPoint: 'dp' });
    expect(first).toEqual({ replayed: 1, skipped: [] });
    await drain(stream, deps);
    expect(await rewarded(deps.state, 'dp')).toBe(1);
    expect((await listDeadLetters(deps.deadLetters, {})).map((d) => d.status)).toEqual(['replayed']);

    // Replaying again finds nothing to replay; forcing the replayed entry back on the stream is a duplicate (F3).
    expect(await replayDeadLetters({ deadLetters: deps.deadLetters, stream }, {})).toEqual({
      replayed: 0,
      skipped: [],
    });
    const forced = await replayDeadLetters({ deadLetters: deps.deadLetters, stream }, { status: 'replayed' });
    expect(forced.replayed).toBe(0);
    expect(forced.skipped).toEqual([{ id: refused[0]!.id, why: 'already replayed' }]);
    await stream.put([
      eventRecord({ eventId: 'click-1', userId: 'u1', type: 'click', decisionPoint: 'dp' }, T0 + 2000),
    ]);
    await drain(stream, deps);
    expect(await rewarded(deps.state, 'dp')).toBe(1);
  });

  it('skips what would only be refused again, and lists by rule and status', async () => {
    const deadLetters = new MemoryDeadLetterStore();
    const stream = new MemoryEventStream({ shardCount: 1, now: () => T0 });
    await deadLetters.put([
      { id: 's/1', status: 'dead', code: 'malformed', reason: 'not JSON', data: '{"kind":', at: T0 },
      { id: 's/2', status: 'held', code: 'held', reason: 'waiting for decision d9', data: '{}', at: T0 + 1 },
    ]);
    expect((await listDeadLetters(deadLetters, { status: 'held' })).map((d) => d.id)).toEqual(['s/2']);
    expect((await listDeadLetters(deadLetters, { code: 'malformed' })).map((d) => d.id)).toEqual(['s/1']);
    const out = await replayDeadLetters({ deadLetters, stream }, {});
    expect(out.replayed).toBe(0);
    expect(out.skipped.map((s) => s.id)).toEqual(['s/1']);
    expect(stream.poll(stream.shardIds[0]!, 10)).toEqual([]);
  });
});
