/**
 * Everything the local stack persists, as one comparable value: every item of every table and every record on every
 * stream of the template. "The request changed nothing" is then `expect(await snapshot()).toEqual(before)`.
 * `except` leaves tables out by construct name: the audit table records refused changes too (shared/core/audit.ts),
 * so a test of refusals compares the rest and checks the audit trail for what it must say.
 */
import { createHash } from 'node:crypto';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import type { LocalStack } from '../../local/stack.ts';
import { physicalName } from '../../local/twin/template.ts';

export interface StateSnapshot {
  /** `table key → digest of the item`, sorted. */
  items: string[];
  /** Records on each shard of the stream. */
  streamRecords: Record<string, number>;
}

export async function snapshot(stack: LocalStack, opts: { except?: string[] } = {}): Promise<StateSnapshot> {
  const { dynamo, kinesis } = stack.emulators;
  const items: string[] = [];
  const skipped = new Set((opts.except ?? []).map((name) => physicalName(stack.plan, name)));
  for (const table of stack.plan.tables.map((t) => t.name).filter((name) => !skipped.has(name))) {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await dynamo.send(
        new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }),
      );
      for (const item of page.Items ?? []) {
        const key = JSON.stringify([item.pk ?? item.decisionId ?? item.id, item.sk]);
        items.push(`${table} ${key} ${createHash('sha256').update(JSON.stringify(item)).digest('hex').slice(0, 16)}`);
      }
      start = page.LastEvaluatedKey;
    } while (start);
  }
  const streamRecords: Record<string, number> = {};
  for (const stream of stack.plan.streams) {
    await countRecords(stream.name);
  }
  return { items: items.sort(), streamRecords };

  async function countRecords(streamName: string) {
    const shards = await kinesis.send(new ListShardsCommand({ StreamName: streamName }));
    for (const shard of shards.Shards ?? []) {
      let it = (
        await kinesis.send(
          new GetShardIteratorCommand({
            StreamName: streamName,
            ShardId: shard.ShardId!,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        )
      ).ShardIterator;
      let n = 0;
      while (it) {
        const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
        n += out.Records?.length ?? 0;
        if ((out.Records?.length ?? 0) === 0) break;
        it = out.NextShardIterator;
      }
      streamRecords[`${streamName}/${shard.ShardId!}`] = n;
    }
  }
}
