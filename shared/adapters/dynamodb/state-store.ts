/**
 * DynamoDB implementation of the StateStore port. One table, items grouped by decision point:
 *
 * | pk              | sk                                   | item                                  |
 * |-----------------|--------------------------------------|---------------------------------------|
 * | `DP#{dp}`       | `CONFIG`                             | decision point settings               |
 * | `DP#{dp}`       | `ACTION#{actionId}`                  | catalog entry (features, status)      |
 * | `DP#{dp}`       | `STATS#{obj}#{actionId}#{bucket}#{p}`| an action's partial bandit statistics; |
 * |                 | … `#S{slot}` for slots ≥ 2           | a lower slot's, kept apart            |
 * | `DP#{dp}`       | `BASE#{version}#{obj}#{actionId}`    | an offline model's action statistics  |
 * | `DP#{dp}`       | `ACTIVE`                             | which offline model serves            |
 * | `DP#{dp}`       | `EVAL#{startedAt ISO}#{runId}`       | a retraining run's evaluation summary |
 * | `DP#{dp}`       | `CATALOG#{version}`                  | a catalog version's action ids        |
 * | `DPINDEX`       | `{dp}`                               | registry of decision points           |
 * | `KEY`           | `{sha256 of the secret}`             | API key record                        |
 *
 * Every item carries `updatedAt`; the local secondary index `byUpdatedAt` lets a warm container read only what changed
 * since its last refresh. Every write is conditional on the item's `version` (optimistic concurrency).
 */
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { mapLimit } from '../../app/concurrency.ts';
import { encodeStats } from '../../core/bandit/stats.ts';
import type {
  ActiveModel,
  ApiKeyRecord,
  BaseModelStats,
  CatalogAction,
  DecisionPoint,
  SeriesCounters,
  SeriesItem,
  SeriesKey,
  SeriesResolution,
  StatsItem,
  StatsKey,
} from '../../core/domain.ts';
import { VersionConflictError } from '../../core/errors.ts';
import type { DecisionPointChanges, StateStore } from '../../core/ports.ts';
import { type EvaluationRecord, evaluationRecordSchema } from '../../core/retrain/evaluation-record.ts';

import {
  API_KEY_PARTITION,
  actionItem,
  activeModelItem,
  CATALOG_PREFIX,
  catalogIds,
  catalogSk,
  decisionPointItem,
  dpPk,
  SERIES_COUNTER_PREFIX,
  SERIES_MARK_PREFIX,
  seriesKeyAttributes,
  seriesSk,
  seriesWindowPrefix,
  statsItem,
  statsSk,
  toAction,
  toActive,
  toApiKey,
  toBase,
  toDecisionPoint,
  toSeries,
  toStats,
} from './state-items.ts';

export const STATE_INDEX_BY_UPDATED_AT = 'byUpdatedAt';

/** Creating a new item: no item with this key may exist (two creators must not overwrite each other). */
const CREATE_ONLY = 'attribute_not_exists(pk)';
/** Replacing an item: it must still be the version we read (no lost update between read and write). */
const SAME_VERSION = '#version = :expected';

/** Sorts a decision point's run summaries by start time (ISO-8601 sorts as text). */
const evalSk = (r: Pick<EvaluationRecord, 'startedAt' | 'runId'>) =>
  `EVAL#${new Date(r.startedAt).toISOString()}#${r.runId}`;

export class DynamoStateStore implements StateStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async getDecisionPoint(decisionPoint: string): Promise<DecisionPoint | undefined> {
    const item = await this.get(dpPk(decisionPoint), 'CONFIG');
    return item && toDecisionPoint(item);
  }

  async putDecisionPoint(item: DecisionPoint, expectedVersion: number | undefined): Promise<void> {
    await this.conditionalPut(decisionPointItem(item), expectedVersion);
    // The registry entry is idempotent (same content for the same decision point), so it needs no condition.
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: marshall({ pk: 'DPINDEX', sk: item.decisionPoint, updatedAt: item.updatedAt }),
      }),
    );
  }

  async listDecisionPoints(): Promise<DecisionPoint[]> {
    const names = (await this.queryAll({ pk: 'DPINDEX' })).map((i) => String(i.sk));
    const all = await Promise.all(names.map((n) => this.getDecisionPoint(n)));
    return all.filter((d): d is DecisionPoint => d !== undefined);
  }

  async getAction(decisionPoint: string, actionId: string): Promise<CatalogAction | undefined> {
    const item = await this.get(dpPk(decisionPoint), `ACTION#${actionId}`);
    return item && toAction(item);
  }

  async putAction(item: CatalogAction, expectedVersion: number | undefined): Promise<void> {
    await this.conditionalPut(actionItem(item), expectedVersion);
  }

  async listActions(decisionPoint: string): Promise<CatalogAction[]> {
    return (await this.queryAll({ pk: dpPk(decisionPoint), skPrefix: 'ACTION#' })).map(toAction);
  }

  async loadChanges(decisionPoint: string, since: number, consistent = false): Promise<DecisionPointChanges> {
    const items = await this.queryAll({ pk: dpPk(decisionPoint), updatedSince: since, consistent });
    const changes: DecisionPointChanges = {
      decisionPoint: undefined,
      actions: [],
      stats: [],
      baseStats: [],
      activeModel: undefined,
      maxUpdatedAt: since,
    };
    for (const item of items) {
      changes.maxUpdatedAt = Math.max(changes.maxUpdatedAt, Number(item.updatedAt));
      if (item.type === 'dp') changes.decisionPoint = toDecisionPoint(item);
      else if (item.type === 'action') changes.actions.push(toAction(item));
      else if (item.type === 'stats') changes.stats.push(toStats(item));
      else if (item.type === 'base') changes.baseStats.push(toBase(item));
      else if (item.type === 'active') changes.activeModel = toActive(item);
    }
    return changes;
  }

  async getStats(key: StatsKey): Promise<StatsItem | undefined> {
    const item = await this.get(dpPk(key.decisionPoint), statsSk(key));
    return item && toStats(item);
  }

  async putStats(item: StatsItem, expectedVersion: number | undefined): Promise<void> {
    await this.conditionalPut(statsItem(item), expectedVersion);
  }

  async listStats(decisionPoint: string): Promise<StatsItem[]> {
    return (await this.queryAll({ pk: dpPk(decisionPoint), skPrefix: 'STATS#' })).map(toStats);
  }

  async getSeries(key: SeriesKey): Promise<SeriesItem | undefined> {
    const item = await this.get(dpPk(key.decisionPoint), seriesSk(key));
    return item && toSeries(item);
  }

  async addSeries(
    key: SeriesKey,
    shardId: string,
    expectedMark: string | undefined,
    mark: string,
    delta: SeriesCounters,
    writtenAt: number,
  ): Promise<void> {
    // SET the key fields and the shard's mark, ADD each counter: one atomic update, conditional on the mark alone.
    const names: Record<string, string> = { '#mark': `${SERIES_MARK_PREFIX}${shardId}` };
    const values: Record<string, unknown> = { ':mark': mark };
    const sets = ['#mark = :mark'];
    Object.entries(seriesKeyAttributes(key, writtenAt)).forEach(([k, v], i) => {
      if (k === 'pk' || k === 'sk') return;
      names[`#k${i}`] = k;
      values[`:k${i}`] = v;
      sets.push(`#k${i} = :k${i}`);
    });
    const adds = Object.entries(delta).map(([k, v], i) => {
      names[`#c${i}`] = `${SERIES_COUNTER_PREFIX}${k}`;
      values[`:c${i}`] = v;
      return `#c${i} :c${i}`;
    });
    if (expectedMark !== undefined) values[':expected'] = expectedMark;
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ pk: dpPk(key.decisionPoint), sk: seriesSk(key) }),
          UpdateExpression: `SET ${sets.join(', ')} ADD ${adds.join(', ')}`,
          ConditionExpression: expectedMark === undefined ? 'attribute_not_exists(#mark)' : '#mark = :expected',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: marshall(values),
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        throw new VersionConflictError(`series ${seriesSk(key)}: the mark of ${shardId} moved`, undefined, {
          cause: err,
        });
      }
      throw err;
    }
  }

  async listSeries(
    decisionPoint: string,
    resolution: SeriesResolution,
    from: number,
    to: number,
  ): Promise<SeriesItem[]> {
    // A window's prefix sorts before each of its keys and is no item's key.
    const range = [seriesWindowPrefix(resolution, from), seriesWindowPrefix(resolution, to + 1)] as const;
    return (await this.queryAll({ pk: dpPk(decisionPoint), skRange: range })).map(toSeries);
  }

  async putCatalogVersion(decisionPoint: string, version: string, ids: readonly string[]): Promise<void> {
    // UpdateItem (which the updater and the decision jobs hold) with if_not_exists: a stored version keeps its item.
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: marshall({ pk: dpPk(decisionPoint), sk: catalogSk(version) }),
        UpdateExpression:
          'SET #type = :type, decisionPoint = :dp, ids = if_not_exists(ids, :ids), writtenAt = if_not_exists(writtenAt, :at)',
        ExpressionAttributeNames: { '#type': 'type' },
        ExpressionAttributeValues: marshall({
          ':type': 'catalog',
          ':dp': decisionPoint,
          ':ids': ids.join('\n'),
          ':at': Date.now(),
        }),
      }),
    );
  }

  async listCatalogVersions(decisionPoint: string): Promise<Map<string, string[]>> {
    const items = await this.queryAll({ pk: dpPk(decisionPoint), skPrefix: CATALOG_PREFIX });
    return new Map(items.map((item) => [String(item.sk).slice(CATALOG_PREFIX.length), catalogIds(item)]));
  }

  async putBaseStats(items: readonly BaseModelStats[]): Promise<void> {
    // Same version and action always carry the same content, so a retried write needs no condition.
    await mapLimit(items, 16, (b) =>
      this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall({
            pk: dpPk(b.decisionPoint),
            sk: `BASE#${b.version}#${b.objective}#${b.actionId}`,
            type: 'base',
            decisionPoint: b.decisionPoint,
            version: b.version,
            objective: b.objective,
            actionId: b.actionId,
            stats: encodeStats(b.stats),
            dim: b.stats.sxr.length,
            updatedAt: b.updatedAt,
          }),
        }),
      ),
    );
  }

  async getActiveModel(decisionPoint: string): Promise<ActiveModel | undefined> {
    const item = await this.get(dpPk(decisionPoint), 'ACTIVE');
    return item && toActive(item);
  }

  async putActiveModel(item: ActiveModel, expectedItemVersion: number | undefined): Promise<void> {
    await this.conditionalPut(activeModelItem(item), expectedItemVersion);
  }

  async putEvaluation(record: EvaluationRecord): Promise<void> {
    // One item per run, keyed by its start time and id: a retried write puts the same content, so no condition.
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: marshall({
          pk: dpPk(record.decisionPoint),
          sk: evalSk(record),
          type: 'evaluation',
          decisionPoint: record.decisionPoint,
          summary: JSON.stringify(record),
          updatedAt: record.finishedAt,
        }),
      }),
    );
  }

  async listEvaluations(decisionPoint: string, limit: number): Promise<EvaluationRecord[]> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: marshall({ ':pk': dpPk(decisionPoint), ':prefix': 'EVAL#' }),
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map((item) => evaluationRecordSchema.parse(JSON.parse(String(unmarshall(item).summary))));
  }

  async getApiKey(hash: string): Promise<ApiKeyRecord | undefined> {
    const item = await this.get(API_KEY_PARTITION, hash);
    return item && toApiKey(item);
  }

  async putApiKey(item: ApiKeyRecord): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: marshall(
          { pk: API_KEY_PARTITION, sk: item.hash, type: 'key', ...item, updatedAt: Date.now() },
          { removeUndefinedValues: true },
        ),
      }),
    );
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return (await this.queryAll({ pk: API_KEY_PARTITION })).map(toApiKey);
  }

  private async get(pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: marshall({ pk, sk }), ConsistentRead: true }),
    );
    return out.Item ? unmarshall(out.Item) : undefined;
  }

  private async conditionalPut(item: Record<string, unknown>, expectedVersion: number | undefined): Promise<void> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall(item, { removeUndefinedValues: true, convertClassInstanceToMap: false }),
          ...(expectedVersion === undefined
            ? { ConditionExpression: CREATE_ONLY }
            : {
                ConditionExpression: SAME_VERSION,
                ExpressionAttributeNames: { '#version': 'version' },
                ExpressionAttributeValues: marshall({ ':expected': expectedVersion }),
              }),
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        throw new VersionConflictError(`${String(item.pk)}/${String(item.sk)} changed concurrently`, undefined, {
          cause: err,
        });
      }
      throw err;
    }
  }

  private async queryAll(q: {
    pk: string;
    skPrefix?: string;
    /** Sort keys from the first (included) to the second (excluded). */
    skRange?: readonly [string, string];
    updatedSince?: number;
    consistent?: boolean;
  }): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    let startKey: QueryCommandInput['ExclusiveStartKey'];
    do {
      const input: QueryCommandInput = {
        TableName: this.tableName,
        // An incremental refresh reads eventually consistent unless asked (half the read units): an item not yet
        // visible is read at the next refresh, because each refresh re-reads the last `skewMarginMs` of changes. The
        // snapshot publisher asks for strong consistency; other queries always read strongly consistent.
        ConsistentRead: q.updatedSince === undefined || q.consistent === true,
        ExclusiveStartKey: startKey,
        ...(q.updatedSince !== undefined
          ? {
              IndexName: STATE_INDEX_BY_UPDATED_AT,
              KeyConditionExpression: 'pk = :pk AND updatedAt >= :since',
              ExpressionAttributeValues: marshall({ ':pk': q.pk, ':since': q.updatedSince }),
            }
          : q.skRange !== undefined
            ? {
                // BETWEEN includes both bounds; the upper one is no item's key.
                KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
                ExpressionAttributeValues: marshall({ ':pk': q.pk, ':from': q.skRange[0], ':to': q.skRange[1] }),
              }
            : q.skPrefix !== undefined
              ? {
                  KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
                  ExpressionAttributeValues: marshall({ ':pk': q.pk, ':prefix': q.skPrefix }),
                }
              : {
                  KeyConditionExpression: 'pk = :pk',
                  ExpressionAttributeValues: marshall({ ':pk': q.pk }),
                }),
      };
      const page = await this.client.send(new QueryCommand(input));
      for (const item of page.Items ?? []) out.push(unmarshall(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return out;
  }
}
