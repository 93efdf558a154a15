/**
 * DynamoDB implementation of the DecisionStore port: the join index that turns feedback into rewards.
 * Items: `{decisionId}` → a decision with the map `events` (eventId → claim of the stream record that carried it
 * first); `USER#{userId}` → the user's latest decision, for events that name no decision.
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { StoredDecision } from '../../core/domain.ts';
import type { DecisionStore } from '../../core/ports.ts';
import { CLAIMS_PER_UPDATE, NO_STAGE, toDecision, userKey } from './decision-items.ts';

/** A decision id is written once: a redelivered decision record must not replace the entry (or its events). */
const FIRST_WRITER_WINS = 'attribute_not_exists(decisionId)';
/** The latest-decision pointer only moves forward in time, whatever order updaters apply it in. */
const ONLY_LATER = 'attribute_not_exists(#at) OR #at < :at';

const BATCH_GET_LIMIT = 100;

export class DynamoDecisionStore implements DecisionStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    /** How long entries are kept before DynamoDB TTL may delete them (cleanup only, never relied on). */
    private readonly retentionSeconds = 90 * 86400,
  ) {}

  async claimDecision(decision: StoredDecision): Promise<StoredDecision> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall({
            ...decision,
            events: {},
            reached: {},
            expiresAt: Math.floor(decision.at / 1000) + decision.attributionWindowSeconds + this.retentionSeconds,
          }),
          ConditionExpression: FIRST_WRITER_WINS,
        }),
      );
      return decision;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const out = await this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: marshall({ decisionId: decision.decisionId }),
          ConsistentRead: true,
        }),
      );
      if (!out.Item) throw err;
      return toDecision(unmarshall(out.Item));
    }
  }

  async getDecisions(decisionIds: readonly string[]): Promise<Map<string, StoredDecision>> {
    const found = new Map<string, StoredDecision>();
    for (const item of await this.batchGet(decisionIds)) {
      const d = toDecision(item);
      found.set(d.decisionId, d);
    }
    return found;
  }

  claimEvents(decisionId: string, claims: ReadonlyMap<string, string>): Promise<Map<string, string>> {
    return this.claimInMap(decisionId, 'events', claims);
  }

  claimReached(decisionId: string, claims: ReadonlyMap<string, string>): Promise<Map<string, string>> {
    return this.claimInMap(decisionId, 'reached', claims);
  }

  async moveStage(
    userId: string,
    stage: string,
    at: number,
    claim: string,
  ): Promise<{ moved: boolean; previous: string | undefined }> {
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ decisionId: userKey(userId) }),
          // prevStage keeps the stage this move replaced, and stageClaim the record that made it, so a redelivery of
          // the same record can recognise its own move and compute the same reward.
          UpdateExpression: 'SET prevStage = if_not_exists(stage, :none), stage = :s, stageAt = :t, stageClaim = :c',
          // Stage changes are applied in event-time order: an older event than the current stage is stale.
          ConditionExpression: 'attribute_not_exists(stageAt) OR stageAt < :t',
          ExpressionAttributeValues: marshall({ ':none': NO_STAGE, ':s': stage, ':t': at, ':c': claim }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      const prev = out.Attributes ? unmarshall(out.Attributes).prevStage : NO_STAGE;
      return { moved: true, previous: prev === NO_STAGE ? undefined : String(prev) };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const got = await this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: marshall({ decisionId: userKey(userId) }),
          ConsistentRead: true,
        }),
      );
      const item = got.Item ? unmarshall(got.Item) : undefined;
      if (item?.stageClaim === claim) {
        return { moved: true, previous: item.prevStage === NO_STAGE ? undefined : String(item.prevStage) };
      }
      return { moved: false, previous: undefined };
    }
  }

  async getUserStage(userId: string): Promise<string | undefined> {
    const got = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: marshall({ decisionId: userKey(userId) }),
        ProjectionExpression: 'stage',
      }),
    );
    const stage = got.Item ? unmarshall(got.Item).stage : undefined;
    return typeof stage === 'string' ? stage : undefined;
  }

  private async claimInMap(
    decisionId: string,
    attribute: 'events' | 'reached',
    claims: ReadonlyMap<string, string>,
  ): Promise<Map<string, string>> {
    const result = new Map<string, string>();
    const all = [...claims];
    // DynamoDB caps an expression at 4 KB: claim in chunks. Each claim is independent (its own if_not_exists), so
    // chunking keeps the semantics; a crash between chunks is repaired by the redelivery, which claims again.
    for (let start = 0; start < all.length; start += CLAIMS_PER_UPDATE) {
      const chunk = all.slice(start, start + CLAIMS_PER_UPDATE);
      const names: Record<string, string> = { '#events': attribute };
      const values: Record<string, string> = {};
      const sets = chunk.map(([eventId, claim], i) => {
        names[`#e${i}`] = eventId;
        values[`:c${i}`] = claim;
        // if_not_exists keeps the first claim: a duplicate event (same id, another record) does not take it over.
        return `#events.#e${i} = if_not_exists(#events.#e${i}, :c${i})`;
      });
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ decisionId }),
          UpdateExpression: `SET ${sets.join(', ')}`,
          // The decision must exist: callers only claim events for decisions they have read.
          ConditionExpression: 'attribute_exists(decisionId)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: marshall(values),
          ReturnValues: 'ALL_NEW',
        }),
      );
      const stored = (out.Attributes ? unmarshall(out.Attributes)[attribute] : {}) as Record<string, string>;
      for (const [eventId] of chunk) {
        const claim = stored[eventId];
        if (claim !== undefined) result.set(eventId, claim);
      }
    }
    return result;
  }

  async setLatestDecision(userId: string, decisionId: string, at: number): Promise<void> {
    try {
      // An update, not a put: the same item holds the user's lifecycle stage.
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ decisionId: userKey(userId) }),
          UpdateExpression: 'SET latest = :d, #at = :at, expiresAt = :exp',
          ConditionExpression: ONLY_LATER,
          ExpressionAttributeNames: { '#at': 'at' },
          ExpressionAttributeValues: marshall({
            ':d': decisionId,
            ':at': at,
            ':exp': Math.floor(at / 1000) + this.retentionSeconds,
          }),
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  async getLatestDecisions(userIds: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const item of await this.batchGet(userIds.map(userKey))) {
      // A user item that only holds a stage has no latest decision.
      if (typeof item.latest === 'string') found.set(String(item.decisionId).slice('USER#'.length), item.latest);
    }
    return found;
  }

  private async batchGet(keys: readonly string[]): Promise<Record<string, unknown>[]> {
    const unique = [...new Set(keys)];
    const items: Record<string, unknown>[] = [];
    for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT) {
      let pending: Record<string, unknown>[] | undefined = unique
        .slice(i, i + BATCH_GET_LIMIT)
        .map((decisionId) => ({ decisionId }));
      for (let attempt = 0; pending && pending.length > 0; attempt++) {
        if (attempt > 8) throw new Error(`BatchGetItem left ${pending.length} keys unprocessed after retries`);
        if (attempt > 0) await sleep(Math.min(1000, 20 * 2 ** attempt));
        const out: BatchGetItemCommandOutput = await this.client.send(
          new BatchGetItemCommand({
            RequestItems: { [this.tableName]: { Keys: pending.map((k) => marshall(k)), ConsistentRead: true } },
          }),
        );
        for (const item of out.Responses?.[this.tableName] ?? []) items.push(unmarshall(item));
        // Unprocessed keys are retried, never dropped: a dropped key would look like an unknown decision.
        pending = out.UnprocessedKeys?.[this.tableName]?.Keys?.map((k: Record<string, AttributeValue>) =>
          unmarshall(k),
        );
      }
    }
    return items;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
