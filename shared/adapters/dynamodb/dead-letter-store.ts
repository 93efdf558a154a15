/**
 * DynamoDB implementation of the DeadLetterStore port: poison stream records with the reason they were refused.
 * Keyed by `shardId/sequenceNumber`, so a redelivered poison record lands on the same entry.
 */
import {
  type AttributeValue,
  BatchWriteItemCommand,
  type DynamoDBClient,
  ScanCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { DeadLetter } from '../../core/domain.ts';
import type { DeadLetterStore } from '../../core/ports.ts';
import { sleep } from './decision-store.ts';

const BATCH_WRITE_LIMIT = 25;

export class DynamoDeadLetterStore implements DeadLetterStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  put(entries: readonly DeadLetter[]): Promise<void> {
    return this.batchWrite(
      entries.map((e) => ({ PutRequest: { Item: marshall(e, { removeUndefinedValues: true }) } })),
    );
  }

  remove(ids: readonly string[]): Promise<void> {
    return this.batchWrite(ids.map((id) => ({ DeleteRequest: { Key: marshall({ id }) } })));
  }

  private async batchWrite(requests: readonly WriteRequest[]): Promise<void> {
    for (let i = 0; i < requests.length; i += BATCH_WRITE_LIMIT) {
      let pending = requests.slice(i, i + BATCH_WRITE_LIMIT);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 8)
          throw new Error(`BatchWriteItem left ${pending.length} dead letters unprocessed after retries`);
        if (attempt > 0) await sleep(Math.min(1000, 20 * 2 ** attempt));
        const out = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.tableName]: pending } }));
        // Unprocessed items are retried: a poison record must end up here, never vanish.
        pending = out.UnprocessedItems?.[this.tableName] ?? [];
      }
    }
  }

  /** Up to `limit` entries, in no particular order (a Scan, page by page). */
  async list(limit: number): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({ TableName: this.tableName, Limit: limit - out.length, ExclusiveStartKey: start }),
      );
      for (const item of page.Items ?? []) out.push(unmarshall(item) as DeadLetter);
      start = page.LastEvaluatedKey;
    } while (start && out.length < limit);
    return out;
  }
}
