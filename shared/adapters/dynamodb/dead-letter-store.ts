/**
 * DynamoDB implementation of the DeadLetterStore port: stream records the updater refused, with the rule and the
 * reason, and events held for their decision. Keyed by `shardId/sequenceNumber`, so a redelivered record lands on
 * the same entry.
 */
import {
  type AttributeValue,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  ScanCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { DeadLetter } from '../../core/domain.ts';
import type { DeadLetterStore } from '../../core/ports.ts';
import { sleep } from './decision-store.ts';

const BATCH_WRITE_LIMIT = 25;
/** A held event's entry never replaces one that exists: resolved entries stay resolved. */
const ONLY_NEW = 'attribute_not_exists(id)';

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

  async hold(entries: readonly DeadLetter[]): Promise<void> {
    // Rare (an event waiting for its decision), so one conditional put each; BatchWriteItem has no conditions.
    for (const e of entries) {
      try {
        await this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: marshall(e, { removeUndefinedValues: true }),
            ConditionExpression: ONLY_NEW,
          }),
        );
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
    }
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
