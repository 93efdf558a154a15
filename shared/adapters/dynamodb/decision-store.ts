/**
 * DynamoDB implementation of the DecisionStore port: the join index that turns feedback into rewards (item layout in
 * `decision-items.ts`). Every write is a single-item conditional write; none needs a transaction.
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
import { VersionConflictError } from '../../core/errors.ts';
import { type EventClaim, pairKey } from '../../core/feedback/join.ts';
import type { DecisionStore, StoredUser } from '../../core/ports.ts';
import {
  claimAttributes,
  eventKey,
  stageIn,
  toClaim,
  toDecision,
  toUser,
  userAttributes,
  userKey,
} from './decision-items.ts';

/** F1/F3: a decision or an event claim is written once; a later record must not replace it. */
const FIRST_WRITER_WINS = 'attribute_not_exists(decisionId)';
/** The user item is a prefix of the user's records: only the writer that read this version may extend it. */
const SAME_VERSION = '#version = :expected';
const NEW_OR_UNVERSIONED = 'attribute_not_exists(#version)';

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

  async getUserStage(userId: string, decisionPoint: string): Promise<string | undefined> {
    const got = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: marshall({ decisionId: userKey(userId) }),
        // Only this decision point's stage travels (the item also holds the user's join state).
        ProjectionExpression: '#stages.#dp',
        ExpressionAttributeNames: { '#stages': 'stages', '#dp': decisionPoint },
      }),
    );
    return stageIn(got.Item ? unmarshall(got.Item) : undefined, decisionPoint);
  }

  async claimReached(decisionId: string, claims: ReadonlyMap<string, string>): Promise<Map<string, string>> {
    const result = new Map<string, string>();
    if (claims.size === 0) return result;
    const names: Record<string, string> = { '#reached': 'reached' };
    const values: Record<string, string> = {};
    // At most one claim per objective (≤ 10 per decision point): far inside DynamoDB's 4 KB expression limit.
    const sets = [...claims].map(([objective, claim], i) => {
      names[`#o${i}`] = objective;
      values[`:c${i}`] = claim;
      // F5: if_not_exists keeps the first event that reached the objective; a later one does not take it over.
      return `#reached.#o${i} = if_not_exists(#reached.#o${i}, :c${i})`;
    });
    const out = await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: marshall({ decisionId }),
        UpdateExpression: `SET ${sets.join(', ')}`,
        // The decision must exist: callers only claim for decisions they have read.
        ConditionExpression: 'attribute_exists(decisionId)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: marshall(values),
        ReturnValues: 'ALL_NEW',
      }),
    );
    const stored = (out.Attributes ? unmarshall(out.Attributes).reached : {}) as Record<string, string>;
    for (const objective of claims.keys()) {
      const claim = stored[objective];
      if (claim !== undefined) result.set(objective, claim);
    }
    return result;
  }

  async getUsers(userIds: readonly string[]): Promise<Map<string, StoredUser>> {
    const found = new Map<string, StoredUser>();
    for (const item of await this.batchGet(userIds.map(userKey))) {
      const user = toUser(item);
      found.set(user.userId, user);
    }
    return found;
  }

  async putUser(user: StoredUser, expectedVersion: number | undefined): Promise<void> {
    const version = (expectedVersion ?? 0) + 1;
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall(userAttributes(user, version, this.expiry())),
          ConditionExpression: expectedVersion === undefined ? NEW_OR_UNVERSIONED : SAME_VERSION,
          ExpressionAttributeNames: { '#version': 'version' },
          ...(expectedVersion === undefined
            ? {}
            : { ExpressionAttributeValues: marshall({ ':expected': expectedVersion }) }),
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        throw new VersionConflictError(`user item changed since version ${expectedVersion}`, undefined, { cause: err });
      }
      throw err;
    }
  }

  async getEventClaims(pairs: readonly { userId: string; eventId: string }[]): Promise<Map<string, EventClaim>> {
    const found = new Map<string, EventClaim>();
    for (const item of await this.batchGet(pairs.map((p) => eventKey(p.userId, p.eventId)))) {
      const c = toClaim(item);
      found.set(pairKey(c.userId, c.eventId), c);
    }
    return found;
  }

  async claimEvent(claim: EventClaim): Promise<EventClaim> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall(claimAttributes(claim, this.expiry())),
          ConditionExpression: FIRST_WRITER_WINS,
        }),
      );
      return claim;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const out = await this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: marshall({ decisionId: eventKey(claim.userId, claim.eventId) }),
          ConsistentRead: true,
        }),
      );
      if (!out.Item) throw err;
      return toClaim(unmarshall(out.Item));
    }
  }

  /** TTL for user items and event claims, from now: cleanup only, never relied on. */
  private expiry(): number {
    return Math.floor(Date.now() / 1000) + this.retentionSeconds;
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
