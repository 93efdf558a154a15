/**
 * DynamoDB implementation of the PublishLease port: one item per decision point in the state table,
 * `DP#{dp}` / `PUBLISH` = { owner, until, requests, readAt }. It has no `updatedAt`, so it is not in the `byUpdatedAt` index
 * and a refresh never reads it. Each method is one UpdateItem whose condition makes it atomic:
 * - request: ADD requests 1 (no condition);
 * - acquire: SET owner, until (and requests to 0 if absent) IF the item is absent, or `until` < now; returns
 *   `requests`;
 * - release: SET until = 0, readAt IF owner = me AND requests = seen (else, still the owner: renew `until`, set
 *   readAt and return the count); `force` drops the second condition.
 * `until` is the holder's clock plus the TTL: a holder that dies frees the lease after the TTL (writers' clock skew
 * shortens or lengthens that by the skew, nothing else).
 */
import { ConditionalCheckFailedException, type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { PublishLease } from '../../core/ports.ts';
import { dpPk } from './state-items.ts';

export const PUBLISH_LEASE_SK = 'PUBLISH';

export class DynamoPublishLease implements PublishLease {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  private key(dp: string) {
    return marshall({ pk: dpPk(dp), sk: PUBLISH_LEASE_SK });
  }

  async request(decisionPoint: string): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key(decisionPoint),
        UpdateExpression: 'ADD requests :one',
        ExpressionAttributeValues: marshall({ ':one': 1 }),
      }),
    );
  }

  async acquire(
    decisionPoint: string,
    owner: string,
    now: number,
    ttlMs: number,
  ): Promise<{ requests: number; readAt: number } | undefined> {
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(decisionPoint),
          UpdateExpression: 'SET #owner = :owner, #until = :until, requests = if_not_exists(requests, :zero)',
          ConditionExpression: 'attribute_not_exists(#until) OR #until < :now',
          ExpressionAttributeNames: { '#owner': 'owner', '#until': 'until' },
          ExpressionAttributeValues: marshall({ ':owner': owner, ':until': now + ttlMs, ':now': now, ':zero': 0 }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      const item = unmarshall(out.Attributes ?? {});
      return { requests: Number(item.requests ?? 0), readAt: Number(item.readAt ?? 0) };
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }

  async release(
    decisionPoint: string,
    owner: string,
    seen: number,
    readAt: number,
    now: number,
    ttlMs: number,
    force = false,
  ): Promise<number | undefined> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(decisionPoint),
          UpdateExpression: 'SET #until = :zero, readAt = :readAt',
          ConditionExpression: force ? '#owner = :owner' : '#owner = :owner AND requests = :seen',
          ExpressionAttributeNames: { '#owner': 'owner', '#until': 'until' },
          ExpressionAttributeValues: marshall({
            ':owner': owner,
            ':zero': 0,
            ':readAt': readAt,
            ...(force ? {} : { ':seen': seen }),
          }),
        }),
      );
      return undefined;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException) || force) {
        if (err instanceof ConditionalCheckFailedException) return undefined;
        throw err;
      }
    }
    // New requests came in while this owner published: keep the lease (if it is still ours) and go again.
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(decisionPoint),
          UpdateExpression: 'SET #until = :until, readAt = :readAt',
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner', '#until': 'until' },
          ExpressionAttributeValues: marshall({ ':owner': owner, ':until': now + ttlMs, ':readAt': readAt }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Number(unmarshall(out.Attributes ?? {}).requests ?? 0);
    } catch (err) {
      // Another updater took it (ours had expired): the requests are its to cover.
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }
}
