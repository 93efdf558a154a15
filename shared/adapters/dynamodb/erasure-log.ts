/**
 * DynamoDB implementation of the ErasureLog port, in the state table's erasure partition (layout in
 * `state-items.ts`). Written by the admin function (DELETE /v1/users/{userId}), read by the retraining's plan step.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { Erasure, ErasureLog } from '../../core/ports.ts';
import { ERASURE_PARTITION, erasureItem, toErasure } from './state-items.ts';

/**
 * An erasure only ever moves forward: two erasures of one user racing (or a retried request arriving after a later
 * one) must leave the later time, or retraining would take back records the later erasure excluded.
 */
const LATER_ERASURE = 'attribute_not_exists(pk) OR erasedAt < :erasedAt';

export class DynamoErasureLog implements ErasureLog {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    /** How long an erasure is kept after it is made: as long as the lake may hold the user's records. */
    private readonly retentionSeconds = 372 * 86400,
  ) {}

  async record(erasure: Erasure): Promise<Erasure> {
    const expiresAt = Math.floor(erasure.erasedAt / 1000) + this.retentionSeconds;
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall(erasureItem(erasure, expiresAt)),
          ConditionExpression: LATER_ERASURE,
          ExpressionAttributeValues: marshall({ ':erasedAt': erasure.erasedAt }),
        }),
      );
      return erasure;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const out = await this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: marshall({ pk: ERASURE_PARTITION, sk: erasure.userId }),
          ConsistentRead: true,
        }),
      );
      if (!out.Item) throw err;
      return toErasure(unmarshall(out.Item));
    }
  }

  async list(): Promise<Erasure[]> {
    const out: Erasure[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: marshall({ ':pk': ERASURE_PARTITION }),
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) out.push(toErasure(unmarshall(item)));
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }
}
