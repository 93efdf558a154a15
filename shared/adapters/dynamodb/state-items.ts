/**
 * The state table's item layout: keys, writers (domain entity → item) and readers (unmarshalled item → entity).
 * Shared by the DynamoDB adapter and the in-memory one, which keeps items in DynamoDB's format, so the two cannot
 * drift.
 */
import { z } from 'zod';
import { decodeStats, encodeStats } from '../../core/bandit/stats.ts';
import {
  type ActiveModel,
  type ApiKeyRecord,
  type BaseModelStats,
  type CatalogAction,
  type DecisionPoint,
  emptySeriesCounters,
  MINUTE_SERIES_RETENTION_DAYS,
  type PromotedSettings,
  SERIES_RESOLUTION_MS,
  type SeriesCounters,
  type SeriesItem,
  type SeriesKey,
  type SeriesResolution,
  type StatsItem,
  type StatsKey,
} from '../../core/domain.ts';
import type { Erasure } from '../../core/ports.ts';
import { decisionPointSettingsSchema } from '../../core/schemas.ts';

export const dpPk = (dp: string) => `DP#${dp}`;
/** A stored catalog version (core/catalog/catalog-version.ts): no `updatedAt`, so model refreshes never read it. */
export const CATALOG_PREFIX = 'CATALOG#';
export const catalogSk = (version: string) => `${CATALOG_PREFIX}${version}`;
/** A catalog version's ids as stored: one string, the ids joined by "\n" (smaller than a list of strings). */
export const catalogIds = (item: Record<string, unknown>): string[] => String(item.ids).split('\n');
/**
 * The one partition of every API key item (sort key: the key's hash). Only key items live there, which is what lets
 * a role read them and nothing else (`dynamodb:LeadingKeys`, see the events function's grant in the CDK stack).
 */
export const API_KEY_PARTITION = 'KEY';
/** Slot 1's key is the one items had before slots were kept apart, so those items read as slot 1. */
export const statsSk = (k: Pick<StatsKey, 'objective' | 'actionId' | 'bucket' | 'partition' | 'slot'>) =>
  `STATS#${k.objective}#${k.actionId}#${k.bucket}#${k.partition}${k.slot > 1 ? `#S${k.slot}` : ''}`;

/** Series sort keys sort by resolution, then window (zero-padded), so a time range is one key range. */
export const seriesPrefix = (resolution: SeriesResolution) => `SERIES#${resolution}#`;
export const seriesWindowPrefix = (resolution: SeriesResolution, window: number) =>
  `${seriesPrefix(resolution)}${String(window).padStart(10, '0')}#`;
export const seriesSk = (k: Pick<SeriesKey, 'resolution' | 'window' | 'partition'>) =>
  `${seriesWindowPrefix(k.resolution, k.window)}${k.partition}`;

/**
 * A series item's layout: its key fields, each counter as a top-level number `c:<name>` and each writer's high-water
 * mark as a top-level string `m:<shardId>`, so one UpdateItem can ADD to the counters and move one writer's mark,
 * conditional on that mark alone (writers of other shards never conflict; see `addSeries`).
 */
export const SERIES_COUNTER_PREFIX = 'c:';
export const SERIES_MARK_PREFIX = 'm:';

/** The attributes an addition sets whatever the item held: its key fields, when it was written, and its expiry. */
export function seriesKeyAttributes(key: SeriesKey, writtenAt: number): Record<string, unknown> {
  return {
    pk: dpPk(key.decisionPoint),
    sk: seriesSk(key),
    type: 'series',
    decisionPoint: key.decisionPoint,
    resolution: key.resolution,
    window: key.window,
    partition: key.partition,
    writtenAt,
    // Minutes expire (the table's TTL attribute, in seconds); hours are kept.
    ...(key.resolution === 'minute'
      ? {
          expiresAt: Math.floor(
            ((key.window + 1) * SERIES_RESOLUTION_MS.minute + MINUTE_SERIES_RETENTION_DAYS * 86_400_000) / 1000,
          ),
        }
      : {}),
  };
}

export function toSeries(item: Record<string, unknown>): SeriesItem {
  const counters = emptySeriesCounters();
  const highWaterMarks: Record<string, string> = {};
  for (const [k, v] of Object.entries(item)) {
    if (k.startsWith(SERIES_COUNTER_PREFIX)) {
      const name = k.slice(SERIES_COUNTER_PREFIX.length) as keyof SeriesCounters;
      if (name in counters) counters[name] = Number(v);
    } else if (k.startsWith(SERIES_MARK_PREFIX)) highWaterMarks[k.slice(SERIES_MARK_PREFIX.length)] = String(v);
  }
  return {
    decisionPoint: String(item.decisionPoint),
    resolution: item.resolution === 'minute' ? 'minute' : 'hour',
    window: Number(item.window),
    partition: Number(item.partition),
    counters,
    highWaterMarks,
    writtenAt: Number(item.writtenAt ?? 0),
  };
}

export function decisionPointItem(item: DecisionPoint): Record<string, unknown> {
  return {
    pk: dpPk(item.decisionPoint),
    sk: 'CONFIG',
    type: 'dp',
    decisionPoint: item.decisionPoint,
    settings: item.settings,
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
    version: item.version,
  };
}

export function actionItem(item: CatalogAction): Record<string, unknown> {
  return {
    pk: dpPk(item.decisionPoint),
    sk: `ACTION#${item.actionId}`,
    type: 'action',
    decisionPoint: item.decisionPoint,
    actionId: item.actionId,
    features: item.features,
    ...(item.metadata ? { metadata: item.metadata } : {}),
    status: item.status,
    ...(item.startsAt !== undefined ? { startsAt: item.startsAt } : {}),
    ...(item.endsAt !== undefined ? { endsAt: item.endsAt } : {}),
    ...(item.eligibility ? { eligibility: item.eligibility } : {}),
    ...(item.trafficCapWhileNew ? { trafficCapWhileNew: item.trafficCapWhileNew } : {}),
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
    version: item.version,
  };
}

export function statsItem(item: StatsItem): Record<string, unknown> {
  return {
    pk: dpPk(item.decisionPoint),
    sk: statsSk(item),
    type: 'stats',
    decisionPoint: item.decisionPoint,
    objective: item.objective,
    actionId: item.actionId,
    bucket: item.bucket,
    partition: item.partition,
    slot: item.slot,
    stats: encodeStats(item.stats),
    dim: item.stats.sxr.length,
    counters: item.counters,
    highWaterMarks: item.highWaterMarks,
    version: item.version,
    updatedAt: item.updatedAt,
    lastLearnedAt: item.lastLearnedAt,
  };
}

export function activeModelItem(item: ActiveModel): Record<string, unknown> {
  return {
    pk: dpPk(item.decisionPoint),
    sk: 'ACTIVE',
    type: 'active',
    decisionPoint: item.decisionPoint,
    activeVersion: item.version,
    cutoffBucket: item.cutoffBucket,
    promotedAt: item.promotedAt,
    settings: item.settings,
    history: item.history,
    version: item.itemVersion,
    updatedAt: item.updatedAt,
  };
}

export function toDecisionPoint(item: Record<string, unknown>): DecisionPoint {
  return {
    decisionPoint: String(item.decisionPoint),
    // Stored settings are re-parsed so items written by an older version get today's defaults.
    settings: decisionPointSettingsSchema.parse(item.settings),
    createdAt: Number(item.createdAt),
    updatedAt: Number(item.updatedAt),
    version: Number(item.version),
  };
}

export function toAction(item: Record<string, unknown>): CatalogAction {
  return {
    decisionPoint: String(item.decisionPoint),
    actionId: String(item.actionId),
    features: (item.features ?? {}) as CatalogAction['features'],
    metadata: item.metadata as CatalogAction['metadata'],
    status: item.status === 'retired' ? 'retired' : 'live',
    startsAt: item.startsAt === undefined ? undefined : Number(item.startsAt),
    endsAt: item.endsAt === undefined ? undefined : Number(item.endsAt),
    eligibility: item.eligibility as CatalogAction['eligibility'],
    trafficCapWhileNew: item.trafficCapWhileNew as CatalogAction['trafficCapWhileNew'],
    createdAt: Number(item.createdAt),
    updatedAt: Number(item.updatedAt),
    version: Number(item.version),
  };
}

export function toStats(item: Record<string, unknown>): StatsItem {
  const counters = (item.counters ?? {}) as Record<string, unknown>;
  return {
    decisionPoint: String(item.decisionPoint),
    objective: String(item.objective),
    actionId: String(item.actionId),
    bucket: Number(item.bucket ?? 0),
    partition: Number(item.partition),
    slot: Number(item.slot ?? 1),
    stats: decodeStats(item.stats as Uint8Array, Number(item.dim)),
    counters: { rewardEvents: Number(counters.rewardEvents ?? 0), lateEvents: Number(counters.lateEvents ?? 0) },
    highWaterMarks: (item.highWaterMarks ?? {}) as Record<string, string>,
    version: Number(item.version),
    updatedAt: Number(item.updatedAt),
    lastLearnedAt: Number(item.lastLearnedAt ?? 0),
  };
}

export function toBase(item: Record<string, unknown>): BaseModelStats {
  return {
    decisionPoint: String(item.decisionPoint),
    version: String(item.version),
    objective: String(item.objective),
    actionId: String(item.actionId),
    stats: decodeStats(item.stats as Uint8Array, Number(item.dim)),
    updatedAt: Number(item.updatedAt),
  };
}

const finite = z.number().refine(Number.isFinite);
/** A stored field that is not well typed is dropped (`.catch`), not an error: the rest of the item still serves. */
const storedSettingsSchema = z.object({
  scale: finite.min(0).optional().catch(undefined),
  priors: z
    .record(
      z.string(),
      z.object({ lambdaShared: finite.positive(), lambdaAction: finite.positive(), n: finite.min(0) }),
    )
    .optional()
    .catch(undefined),
  priorScale: z.object({ shared: finite.positive(), action: finite.positive() }).optional().catch(undefined),
});

/** Stored learned settings as `{ settings }`, keeping only well-typed fields; `{}` when the item has none. */
function settingsOf(value: unknown): { settings?: PromotedSettings } {
  if (typeof value !== 'object' || value === null) return {};
  const { scale, priors, priorScale } = storedSettingsSchema.parse(value);
  return {
    settings: {
      ...(scale !== undefined && { scale }),
      ...(priors !== undefined && { priors }),
      ...(priorScale !== undefined && { priorScale }),
    },
  };
}

export function toActive(item: Record<string, unknown>): ActiveModel {
  return {
    decisionPoint: String(item.decisionPoint),
    version: String(item.activeVersion),
    cutoffBucket: Number(item.cutoffBucket),
    promotedAt: Number(item.promotedAt),
    // Items written before settings were learned have none: the decision point's settings or the defaults serve.
    ...settingsOf(item.settings),
    history: ((item.history ?? []) as Record<string, unknown>[]).map((h) => ({
      version: String(h.version),
      cutoffBucket: Number(h.cutoffBucket),
      promotedAt: Number(h.promotedAt),
      ...settingsOf(h.settings),
    })),
    itemVersion: Number(item.version),
    updatedAt: Number(item.updatedAt),
  };
}

export function toApiKey(item: Record<string, unknown>): ApiKeyRecord {
  return {
    keyId: String(item.keyId),
    hash: String(item.hash),
    name: String(item.name ?? ''),
    scopes: (item.scopes ?? []) as ApiKeyRecord['scopes'],
    decisionPoints: item.decisionPoints as string[] | undefined,
    createdAt: Number(item.createdAt),
    revokedAt: item.revokedAt === undefined ? undefined : Number(item.revokedAt),
    expiresAt: item.expiresAt === undefined ? undefined : Number(item.expiresAt),
    rateLimit: item.rateLimit === undefined ? undefined : (item.rateLimit as ApiKeyRecord['rateLimit']),
  };
}

/**
 * The one partition of user erasures (sort key: the user's pseudonym). Read whole by the retraining's plan step;
 * small, since each item expires (`expiresAt`) once the lake can no longer hold the user's records.
 */
export const ERASURE_PARTITION = 'ERASED';

export function erasureItem(e: Erasure, expiresAt: number): Record<string, unknown> {
  return { pk: ERASURE_PARTITION, sk: e.userId, type: 'erasure', userId: e.userId, erasedAt: e.erasedAt, expiresAt };
}

export const toErasure = (item: Record<string, unknown>): Erasure => ({
  userId: String(item.userId),
  erasedAt: Number(item.erasedAt),
});
