/**
 * In-memory implementation of the StateStore port, for the simulator and fast tests. It keeps the DynamoDB adapter's
 * semantics exactly (`test/adapters/memory-contract.emu.test.ts` runs the same assertions against both):
 * - the same items under the same keys (`DP#{dp}` / `CONFIG`, `ACTION#…`, `STATS#…`, `BASE#…`, `ACTIVE`, `EVAL#…`, `CATALOG#…`,
 *   `DPINDEX`, `KEY`), stored marshalled with the same options, so reads return fresh copies and the same shapes;
 * - every conditional write: create-only when no version is expected, else the stored version must be the expected
 *   one, and a failed condition is a VersionConflictError (whose cause is DynamoDB's exception);
 * - `loadChanges` returns the decision point's items with `updatedAt >= since`, in `updatedAt` order (the
 *   `byUpdatedAt` index), and `maxUpdatedAt` over all of them, evaluation summaries included;
 * - lists come back in sort-key order, `listEvaluations` newest first.
 * Unlike DynamoDB, every read is strongly consistent; callers that tolerate eventual consistency are still correct.
 */
import type { marshallOptions } from '@aws-sdk/util-dynamodb';
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
  seriesPrefix,
  seriesSk,
  statsItem,
  statsSk,
  toAction,
  toActive,
  toApiKey,
  toBase,
  toDecisionPoint,
  toSeries,
  toStats,
} from '../dynamodb/state-items.ts';
import { type Attributes, checkKey, conditionFailed, fromStored, toStored, validationError } from './item.ts';

/** The DynamoDB adapter's options for its conditional puts. */
const CONDITIONAL_PUT: marshallOptions = { removeUndefinedValues: true, convertClassInstanceToMap: false };
const KEYS = ['pk', 'sk'] as const;

const evalSk = (r: Pick<EvaluationRecord, 'startedAt' | 'runId'>) =>
  `EVAL#${new Date(r.startedAt).toISOString()}#${r.runId}`;

/** DynamoDB orders string sort keys by their UTF-8 bytes; for the ASCII keys of this table that is code-unit order. */
const bySk = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class MemoryStateStore implements StateStore {
  /** pk → sk → stored item. */
  private readonly table = new Map<string, Map<string, Attributes>>();

  async getDecisionPoint(decisionPoint: string): Promise<DecisionPoint | undefined> {
    const item = this.get(dpPk(decisionPoint), 'CONFIG');
    return item && toDecisionPoint(item);
  }

  async putDecisionPoint(item: DecisionPoint, expectedVersion: number | undefined): Promise<void> {
    this.conditionalPut(decisionPointItem(item), expectedVersion);
    // The registry entry is idempotent (same content for the same decision point), so it needs no condition.
    this.put(toStored({ pk: 'DPINDEX', sk: item.decisionPoint, updatedAt: item.updatedAt }, KEYS));
  }

  async listDecisionPoints(): Promise<DecisionPoint[]> {
    const names = this.query('DPINDEX').map((i) => String(i.sk));
    const all = await Promise.all(names.map((n) => this.getDecisionPoint(n)));
    return all.filter((d): d is DecisionPoint => d !== undefined);
  }

  async getAction(decisionPoint: string, actionId: string): Promise<CatalogAction | undefined> {
    const item = this.get(dpPk(decisionPoint), `ACTION#${actionId}`);
    return item && toAction(item);
  }

  async putAction(item: CatalogAction, expectedVersion: number | undefined): Promise<void> {
    this.conditionalPut(actionItem(item), expectedVersion);
  }

  async listActions(decisionPoint: string): Promise<CatalogAction[]> {
    return this.query(dpPk(decisionPoint), 'ACTION#').map(toAction);
  }

  async loadChanges(decisionPoint: string, since: number, _consistent?: boolean): Promise<DecisionPointChanges> {
    const changed: { updatedAt: number; sk: string; attrs: Attributes }[] = [];
    for (const [sk, attrs] of this.table.get(dpPk(decisionPoint)) ?? []) {
      // Only items with a numeric updatedAt are in the byUpdatedAt index (every item of the table has one).
      const at = attrs.updatedAt?.N;
      if (at !== undefined && Number(at) >= since) changed.push({ updatedAt: Number(at), sk, attrs });
    }
    changed.sort((a, b) => a.updatedAt - b.updatedAt || bySk(a.sk, b.sk));
    const changes: DecisionPointChanges = {
      decisionPoint: undefined,
      actions: [],
      stats: [],
      baseStats: [],
      activeModel: undefined,
      maxUpdatedAt: since,
    };
    for (const { attrs } of changed) {
      const item = fromStored(attrs);
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
    const item = this.get(dpPk(key.decisionPoint), statsSk(key));
    return item && toStats(item);
  }

  async putStats(item: StatsItem, expectedVersion: number | undefined): Promise<void> {
    this.conditionalPut(statsItem(item), expectedVersion);
  }

  async listStats(decisionPoint: string): Promise<StatsItem[]> {
    return this.query(dpPk(decisionPoint), 'STATS#').map(toStats);
  }

  async getSeries(key: SeriesKey): Promise<SeriesItem | undefined> {
    const item = this.get(dpPk(key.decisionPoint), seriesSk(key));
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
    const current = this.get(dpPk(key.decisionPoint), seriesSk(key)) ?? {};
    const markName = `${SERIES_MARK_PREFIX}${shardId}`;
    const stored = current[markName] as string | undefined;
    if (expectedMark === undefined ? stored !== undefined : stored !== expectedMark) {
      throw new VersionConflictError(`series ${seriesSk(key)}: the mark of ${shardId} moved`, undefined, {
        cause: conditionFailed(),
      });
    }
    const next: Record<string, unknown> = { ...current, ...seriesKeyAttributes(key, writtenAt), [markName]: mark };
    for (const [k, v] of Object.entries(delta)) {
      const name = `${SERIES_COUNTER_PREFIX}${k}`;
      next[name] = Number(next[name] ?? 0) + v;
    }
    this.put(toStored(next, KEYS, CONDITIONAL_PUT));
  }

  async listSeries(
    decisionPoint: string,
    resolution: SeriesResolution,
    from: number,
    to: number,
  ): Promise<SeriesItem[]> {
    return this.query(dpPk(decisionPoint), seriesPrefix(resolution))
      .map(toSeries)
      .filter((s) => s.window >= from && s.window <= to);
  }

  async putCatalogVersion(decisionPoint: string, version: string, ids: readonly string[]): Promise<void> {
    // if_not_exists on every stored field: a stored version keeps its item.
    if (this.get(dpPk(decisionPoint), catalogSk(version))) return;
    const item = { pk: dpPk(decisionPoint), sk: catalogSk(version), type: 'catalog', decisionPoint };
    this.put(toStored({ ...item, ids: ids.join('\n'), writtenAt: Date.now() }, KEYS));
  }

  async listCatalogVersions(decisionPoint: string): Promise<Map<string, string[]>> {
    const items = this.query(dpPk(decisionPoint), CATALOG_PREFIX);
    return new Map(items.map((item) => [String(item.sk).slice(CATALOG_PREFIX.length), catalogIds(item)]));
  }

  async putBaseStats(items: readonly BaseModelStats[]): Promise<void> {
    // Same version and action always carry the same content, so a retried write needs no condition.
    for (const b of items) {
      this.put(
        toStored(
          {
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
          },
          KEYS,
        ),
      );
    }
  }

  async getActiveModel(decisionPoint: string): Promise<ActiveModel | undefined> {
    const item = this.get(dpPk(decisionPoint), 'ACTIVE');
    return item && toActive(item);
  }

  async putActiveModel(item: ActiveModel, expectedItemVersion: number | undefined): Promise<void> {
    this.conditionalPut(activeModelItem(item), expectedItemVersion);
  }

  async putEvaluation(record: EvaluationRecord): Promise<void> {
    // One item per run, keyed by its start time and id: a retried write puts the same content, so no condition.
    this.put(
      toStored(
        {
          pk: dpPk(record.decisionPoint),
          sk: evalSk(record),
          type: 'evaluation',
          decisionPoint: record.decisionPoint,
          summary: JSON.stringify(record),
          updatedAt: record.finishedAt,
        },
        KEYS,
      ),
    );
  }

  async listEvaluations(decisionPoint: string, limit: number): Promise<EvaluationRecord[]> {
    if (!(Number.isInteger(limit) && limit >= 1)) throw validationError(`Limit must be an integer >= 1, got ${limit}`);
    return this.query(dpPk(decisionPoint), 'EVAL#')
      .reverse()
      .slice(0, limit)
      .map((item) => evaluationRecordSchema.parse(JSON.parse(String(item.summary))));
  }

  async getApiKey(hash: string): Promise<ApiKeyRecord | undefined> {
    const item = this.get(API_KEY_PARTITION, hash);
    return item && toApiKey(item);
  }

  async putApiKey(item: ApiKeyRecord): Promise<void> {
    this.put(
      toStored({ pk: API_KEY_PARTITION, sk: item.hash, type: 'key', ...item, updatedAt: Date.now() }, KEYS, {
        removeUndefinedValues: true,
      }),
    );
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.query(API_KEY_PARTITION).map(toApiKey);
  }

  private get(pk: string, sk: string): Record<string, unknown> | undefined {
    checkKey('pk', pk);
    checkKey('sk', sk);
    const attrs = this.table.get(pk)?.get(sk);
    return attrs && fromStored(attrs);
  }

  private put(attrs: Attributes): void {
    const pk = attrs.pk!.S!;
    let partition = this.table.get(pk);
    if (!partition) {
      partition = new Map();
      this.table.set(pk, partition);
    }
    partition.set(attrs.sk!.S!, attrs);
  }

  /** The DynamoDB adapter's conditional put: create-only without an expected version, else same version. */
  private conditionalPut(item: Record<string, unknown>, expectedVersion: number | undefined): void {
    const attrs = toStored(item, KEYS, CONDITIONAL_PUT);
    const current = this.table.get(attrs.pk!.S!)?.get(attrs.sk!.S!);
    const ok =
      expectedVersion === undefined
        ? current === undefined
        : current?.version?.N !== undefined && Number(current.version.N) === expectedVersion;
    if (!ok) {
      throw new VersionConflictError(`${String(item.pk)}/${String(item.sk)} changed concurrently`, undefined, {
        cause: conditionFailed(),
      });
    }
    this.put(attrs);
  }

  /** Items of one partition in sort-key order, optionally only those whose sort key starts with `prefix`. */
  private query(pk: string, prefix?: string): Record<string, unknown>[] {
    const partition = this.table.get(pk);
    if (!partition) return [];
    return [...partition.keys()]
      .filter((sk) => prefix === undefined || sk.startsWith(prefix))
      .sort(bySk)
      .map((sk) => fromStored(partition.get(sk)!));
  }
}
