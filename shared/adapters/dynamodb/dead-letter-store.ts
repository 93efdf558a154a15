/**
 * DynamoDB implementation of the DeadLetterStore port: stream records the updater refused, with the rule and the
 * reason, and events held for their decision. Keyed by `shardId/sequenceNumber`, so a redelivered record lands on
 * the same entry. Each entry expires (`expiresAt`, DynamoDB TTL) the retention period after it was last written.
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
import type { DeadLetterStore, UserDataEraser } from '../../core/ports.ts';
import { sleep } from './decision-store.ts';

const BATCH_WRITE_LIMIT = 25;
/** A held event's entry never replaces one that exists: resolved entries stay resolved. */
const ONLY_NEW = 'attribute_not_exists(id)';

export class DynamoDeadLetterStore implements DeadLetterStore, UserDataEraser {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    /** How long an entry is kept after it is written, before DynamoDB's TTL may delete it. */
    private readonly retentionSeconds = 30 * 86400,
  ) {}

  put(entries: readonly DeadLetter[]): Promise<void> {
    return this.batchWrite(entries.map((e) => ({ PutRequest: { Item: this.item(e) } })));
  }

  private item(e: DeadLetter): Record<string, AttributeValue> {
    const expiresAt = Math.floor(Date.now() / 1000) + this.retentionSeconds;
    return marshall({ ...e, expiresAt }, { removeUndefinedValues: true });
  }

  async hold(entries: readonly DeadLetter[]): Promise<void> {
    // Rare (an event waiting for its decision), so one conditional put each; BatchWriteItem has no conditions.
    for (const e of entries) {
      try {
        await this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: this.item(e),
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
      for (const item of page.Items ?? []) out.push(toDeadLetter(item));
      start = page.LastEvaluatedKey;
    } while (start && out.length < limit);
    return out;
  }

  /**
   * Deletes every entry whose record names the user: a Scan of the whole table (dead letters are few, and expire),
   * matching the record's text, so an entry cut at 64 KB or not parseable as a record is found too.
   */
  async eraseUser(userId: string): Promise<{ deadLetters: number }> {
    // Pseudonyms need no JSON escaping, so this is exactly how a record's JSON names the user.
    const needle = `"userId":${JSON.stringify(userId)}`;
    const ids: string[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(new ScanCommand({ TableName: this.tableName, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) {
        const e = unmarshall(item) as { id: string; data?: unknown };
        if (typeof e.data === 'string' && e.data.includes(needle)) ids.push(e.id);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    await this.batchWrite(ids.map((id) => ({ DeleteRequest: { Key: marshall({ id }) } })));
    return { deadLetters: ids.length };
  }
}

/** An entry as the port returns it (without the TTL attribute, which is this adapter's business). */
function toDeadLetter(item: Record<string, AttributeValue>): DeadLetter {
  const { expiresAt: _, ...entry } = unmarshall(item);
  return entry as DeadLetter;
}
