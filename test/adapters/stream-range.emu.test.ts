/**
 * Replaying a range the updater gave up on (its on-failure destination names the shard and the sequence numbers):
 * read back from Kinesis (kinesalite) and put on the stream again, the range's records count once in all, whatever
 * the updater had already applied.
 */
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { physicalName } from '../../local/twin/template.ts';
import { KinesisEventStream, KinesisStreamRangeReader } from '../../shared/adapters/kinesis/event-stream.ts';
import { MemoryDeadLetterStore } from '../../shared/adapters/memory/dead-letter-store.ts';
import { MemoryDecisionStore } from '../../shared/adapters/memory/decision-store.ts';
import { MemoryStateStore } from '../../shared/adapters/memory/state-store.ts';
import { type ApplyBatchDeps, applyBatch, type StreamEntry } from '../../shared/app/learn/apply-batch.ts';
import { replayStreamRange } from '../../shared/app/learn/dead-letters.ts';
import { startTestStores, type TestStores, uniqueName } from '../support/emulators.ts';
import { decisionRecord, eventRecord } from '../support/records.ts';

let s: TestStores;
beforeAll(async () => {
  s = await startTestStores();
});
afterAll(async () => {
  await s.emulators.close();
});

async function readShard(shardId: string): Promise<StreamEntry[]> {
  const { kinesis } = s.emulators;
  const streamName = physicalName(s.plan, 'EventStream');
  const it = await kinesis.send(
    new GetShardIteratorCommand({
      StreamName: streamName,
      ShardId: shardId,
      ShardIteratorType: 'TRIM_HORIZON',
    }),
  );
  const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator!, Limit: 10_000 }));
  return (out.Records ?? []).map((r) => ({
    shardId,
    sequenceNumber: r.SequenceNumber!,
    arrivalMs: 0,
    data: new TextDecoder().decode(r.Data),
  }));
}

describe('replaying a stream range', () => {
  it('reads exactly the range back, and the replayed records count once', async () => {
    const { kinesis } = s.emulators;
    const streamName = physicalName(s.plan, 'EventStream');
    const user = uniqueName('user');
    const dp = uniqueName('dp');
    const stream = new KinesisEventStream(kinesis, streamName);
    await stream.put([
      // Clicks are worth 1; a client may send up to 3 (the reward range, F9).
      decisionRecord({
        decisionPoint: dp,
        decisionId: `${dp}-1`,
        userId: user,
        chosen: 'a',
        rewards: { click: 1, bonus: 3 },
      }),
      eventRecord({ eventId: 'click-1', userId: user, type: 'click', decisionId: `${dp}-1` }),
      eventRecord({ eventId: 'click-2', userId: user, type: 'click', decisionId: `${dp}-1`, value: 3 }),
    ]);
    const shards = (await kinesis.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? [];
    let shardId = '';
    let mine: StreamEntry[] = [];
    for (const shard of shards) {
      const entries = (await readShard(shard.ShardId!)).filter((e) => e.data.includes(user));
      if (entries.length > 0) {
        shardId = shard.ShardId!;
        mine = entries;
      }
    }
    expect(mine).toHaveLength(3);

    const deps: ApplyBatchDeps = {
      state: new MemoryStateStore(),
      decisions: new MemoryDecisionStore(),
      deadLetters: new MemoryDeadLetterStore(),
      statsPartitions: 1,
    };
    // The updater applied the first two records, then gave up on the range [2nd, 3rd].
    await applyBatch(mine.slice(0, 2), deps);
    const range = { shardId, from: mine[1]!.sequenceNumber, to: mine[2]!.sequenceNumber };
    const reader = new KinesisStreamRangeReader(kinesis, streamName);
    expect(await reader.read(range, 100)).toEqual([mine[1]!.data, mine[2]!.data]);

    expect(await replayStreamRange({ reader, stream }, range)).toEqual({ replayed: 2, skipped: [] });
    const after = (await readShard(shardId)).filter((e) => e.data.includes(user));
    expect(after).toHaveLength(5);
    await applyBatch(after.slice(2), deps);
    const items = await deps.state.listStats(dp);
    expect(items.reduce((n, i) => n + i.stats.n, 0)).toBe(1);
    expect(items.reduce((n, i) => n + i.stats.sumR, 0)).toBe(4);
    expect(items.reduce((n, i) => n + i.counters.rewardEvents, 0)).toBe(2);
  });
});
