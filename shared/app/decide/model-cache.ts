/**
 * The decision path's model cache: one per warm container. A decision reads the model from memory; at most once per
 * `refreshMs` a request first reads what changed since the last refresh (one Query on the `byUpdatedAt` index, which
 * re-reads the last `skewMarginMs` so writers' clock skew and eventually consistent reads lose nothing) and rebuilds
 * the posteriors if anything did. Steady state: no DynamoDB read per request.
 *
 * Bounded staleness: a served model reflects every write committed more than `refreshMs` + the read's consistency lag
 * (typically well under a second) before the request. If a refresh fails, the last good model keeps serving and the
 * failure is reported through `onRefreshError`; with no model at all, the request fails with DependencyError.
 */
import { examinationRatios, type PositionModel, SlotStatsTable } from '../../core/bandit/position.ts';
import type { HybridPosterior } from '../../core/bandit/posterior.ts';
import { type ActionStats, emptyStats } from '../../core/bandit/stats.ts';
import { sameFeatures } from '../../core/catalog/features.ts';
import {
  type ActiveModel,
  type BaseModelStats,
  type CatalogAction,
  DEFAULT_OBJECTIVE,
  type DecisionPoint,
  INTENT_ACTION,
  intentObjective,
  type StatsItem,
} from '../../core/domain.ts';
import { DependencyError, NotFoundError } from '../../core/errors.ts';
import { encodeFeatures } from '../../core/features/encode.ts';
import { compoundEventObjectives } from '../../core/feedback/reward.ts';
import {
  buildServingPolicyModel,
  coverageRule,
  type IntentModel,
  type ServingPolicyModel,
} from '../../core/policy/serving-policy.ts';
import type { StateStore } from '../../core/ports.ts';

export type { IntentModel } from '../../core/policy/serving-policy.ts';

export interface ServingModel extends ServingPolicyModel {
  decisionPoint: DecisionPoint;
  /** The global policy's posterior (objective `default`). */
  posterior: HybridPosterior;
  /** One posterior per objective, `default` included, all over the same action list. */
  posteriors: ReadonlyMap<string, HybridPosterior>;
  /** Intent model per configured objective. */
  intent: ReadonlyMap<string, IntentModel>;
  /** Live catalog actions, as indexes into the posterior, in catalog order. */
  live: Int32Array;
  /** Encoded features of every posterior action (aligned with posterior ids). */
  features: Float64Array[];
  catalog: Map<string, CatalogAction>;
  version: string;
  builtAt: number;
}

/** What a decision needs: {@link ModelCache} builds it from the state table, a snapshot (snapshot.ts) carries it. */
export interface ModelSource {
  get(decisionPoint: string): Promise<ServingModel>;
}

/** A serving model with the statistics it was built from, as the state table's reader builds it (for summaries). */
export interface ModelWithStats extends ServingModel {
  /** Summed statistics per action (all partitions), for summaries. */
  stats: Map<string, { stats: ActionStats; rewardEvents: number; lateEvents: number; lastLearnedAt: number }>;
  /** The same per objective. */
  statsByObjective: Map<
    string,
    Map<string, { stats: ActionStats; rewardEvents: number; lateEvents: number; lastLearnedAt: number }>
  >;
  /** Each slot's examination ratio, slot 1 first (core/bandit/position.ts); [1] without lower-slot data. */
  examination: readonly number[];
}

export interface ModelCacheOptions {
  refreshMs: number;
  /** Items written up to this long before the last refresh are read again: tolerates writers' clock skew. */
  skewMarginMs?: number;
  /** Read changes strongly consistent (the snapshot publisher); eventually consistent otherwise. */
  consistent?: boolean;
  now?: () => number;
  onRefreshError?: (err: unknown, decisionPoint: string) => void;
  /**
   * Each slot's examination ratio from the global policy's per-slot statistics (default: the engine's estimate,
   * `examinationRatios`). Experiments pass another rule to compare with it (`sim/engine-harness.ts`).
   */
  positionModel?: PositionModel;
}

interface Entry {
  decisionPoint: DecisionPoint | undefined;
  actions: Map<string, CatalogAction>;
  stats: Map<string, StatsItem>;
  base: Map<string, BaseModelStats>;
  active: ActiveModel | undefined;
  maxUpdatedAt: number;
  refreshedAt: number;
  model: ModelWithStats | undefined;
  inflight: Promise<void> | undefined;
}

export class ModelCache implements ModelSource {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(
    private readonly store: StateStore,
    private readonly options: ModelCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The serving model of a decision point, refreshed if older than `refreshMs`. */
  async get(decisionPoint: string): Promise<ModelWithStats> {
    let entry = this.entries.get(decisionPoint);
    if (!entry) {
      entry = {
        decisionPoint: undefined,
        actions: new Map(),
        stats: new Map(),
        base: new Map(),
        active: undefined,
        maxUpdatedAt: 0,
        refreshedAt: Number.NEGATIVE_INFINITY,
        model: undefined,
        inflight: undefined,
      };
      this.entries.set(decisionPoint, entry);
    }
    if (this.now() - entry.refreshedAt >= this.options.refreshMs) {
      // Concurrent requests share one refresh.
      entry.inflight ??= this.refresh(decisionPoint, entry).finally(() => {
        entry.inflight = undefined;
      });
      try {
        await entry.inflight;
      } catch (err) {
        this.options.onRefreshError?.(err, decisionPoint);
        if (!entry.model) {
          if (entry.decisionPoint === undefined && entry.refreshedAt === Number.NEGATIVE_INFINITY) {
            this.entries.delete(decisionPoint);
          }
          throw new DependencyError('the model store is unavailable', undefined, { cause: err });
        }
      }
    }
    if (!entry.decisionPoint || !entry.model) {
      // Forget names that do not exist, so requests for random names cannot grow the cache.
      if (!entry.decisionPoint && !entry.inflight) this.entries.delete(decisionPoint);
      throw new NotFoundError(`decision point ${decisionPoint} does not exist`);
    }
    return entry.model;
  }

  /**
   * The statistics items (every day and writer partition) the decision point's cached model was built from, as of
   * the last `get`: for readers that need them by day, without querying them again.
   */
  statsItems(decisionPoint: string): StatsItem[] {
    return [...(this.entries.get(decisionPoint)?.stats.values() ?? [])];
  }

  /** Forgets everything cached (tests, and admin writes in the same process that must show at once). */
  invalidate(decisionPoint?: string): void {
    if (decisionPoint === undefined) this.entries.clear();
    else this.entries.delete(decisionPoint);
  }

  private async refresh(decisionPoint: string, entry: Entry): Promise<void> {
    const startedAt = this.now();
    const since = Math.max(0, entry.maxUpdatedAt - (this.options.skewMarginMs ?? 5000));
    const changes = await this.store.loadChanges(decisionPoint, since, this.options.consistent);
    let changed = entry.model === undefined;
    // Stays true while every change is to the catalog only (see withCatalog): no posterior needs rebuilding.
    let catalogOnly = !changed;
    if (
      changes.decisionPoint &&
      (!entry.decisionPoint || changes.decisionPoint.version !== entry.decisionPoint.version)
    ) {
      entry.decisionPoint = changes.decisionPoint;
      changed = true;
      catalogOnly = false;
    }
    for (const a of changes.actions) {
      const seen = entry.actions.get(a.actionId);
      if (!seen || seen.version !== a.version) {
        if (!seen || !sameFeatures(seen.features, a.features)) catalogOnly = false;
        entry.actions.set(a.actionId, a);
        changed = true;
      }
    }
    for (const s of changes.stats) {
      const id = `${s.objective}#${s.actionId}#${s.bucket}#${s.partition}#${s.slot}`;
      const seen = entry.stats.get(id);
      if (!seen || seen.version < s.version) {
        entry.stats.set(id, s);
        changed = true;
        catalogOnly = false;
      }
    }
    for (const b of changes.baseStats) {
      const id = `${b.version}#${b.objective}#${b.actionId}`;
      if (!entry.base.has(id)) {
        entry.base.set(id, b);
        changed = true;
        catalogOnly = false;
      }
    }
    if (changes.activeModel && changes.activeModel.itemVersion !== entry.active?.itemVersion) {
      entry.active = changes.activeModel;
      changed = true;
      catalogOnly = false;
    }
    entry.maxUpdatedAt = Math.max(entry.maxUpdatedAt, changes.maxUpdatedAt);
    if (changed && entry.decisionPoint && catalogOnly && entry.model) {
      entry.model = withCatalog(entry.model, entry.actions);
    } else if (changed && entry.decisionPoint) {
      entry.model = build(
        entry.decisionPoint,
        entry.actions,
        entry.stats,
        entry.base,
        entry.active,
        this.now(),
        entry.model,
        this.options.positionModel ?? examinationRatios,
      );
    }
    entry.refreshedAt = startedAt;
  }
}

/**
 * A catalog-only change (status, window, rules, cap or metadata of actions the posteriors already know, features
 * unchanged) needs no posterior rebuild: the new model shares the posteriors and gets the new catalog and live list.
 * So a retirement reaches serving at the next refresh in O(K), however long a rebuild takes.
 */
function withCatalog(model: ModelWithStats, actions: ReadonlyMap<string, CatalogAction>): ModelWithStats {
  const ids = model.posterior.ids;
  const catalog = new Map(ids.map((id) => [id, actions.get(id)!]));
  const live = Int32Array.from(ids.flatMap((id, i) => (catalog.get(id)!.status === 'live' ? [i] : [])));
  let catalogVersion = 0;
  for (const a of catalog.values()) catalogVersion += a.version;
  // build() ends the version with `.{Σ catalog versions}.{Σ statistics versions}`; only the former moved.
  return { ...model, catalog, live, version: model.version.replace(/\.\d+(\.\d+)$/, `.${catalogVersion}$1`) };
}

type Summed = {
  /** In slot-1 units (core/bandit/position.ts), set once every item is read. */
  stats: ActionStats;
  rewardEvents: number;
  lateEvents: number;
  lastLearnedAt: number;
  version: number;
};

/**
 * Serving statistics per objective and action = the active offline model's (if any) + the online statistics of every
 * bucket from its cutoff on; the settings promoted with the active model (its Thompson scale and λ multipliers) as `learned`. Buckets before the cutoff are what the offline model was trained on, so they are left out.
 * The posteriors (one per objective, the global `default` one included, over the same action list, so a candidate
 * index means the same action in all of them) and the intent models come from buildServingPolicyModel, which the
 * retraining evaluation uses too.
 */
function build(
  dp: DecisionPoint,
  actions: Map<string, CatalogAction>,
  items: Map<string, StatsItem>,
  base: Map<string, BaseModelStats>,
  active: ActiveModel | undefined,
  now: number,
  previous: ModelWithStats | undefined,
  positionModel: PositionModel,
): ModelWithStats {
  const { contextDim: d, actionDim: m, priors } = dp.settings;
  const objectives = [DEFAULT_OBJECTIVE, ...dp.settings.objectives.map((o) => o.name)];
  const byObjective = new Map<string, Map<string, Summed>>(objectives.map((o) => [o, new Map()]));
  const intents = new Map<string, Summed>();
  const cell = (objective: string, actionId: string): Summed | undefined => {
    const intentOf = objective.startsWith('intent:') ? objective.slice('intent:'.length) : undefined;
    let table: Map<string, Summed> | undefined;
    let key = actionId;
    if (intentOf !== undefined) {
      if (!byObjective.has(intentOf) || actionId !== INTENT_ACTION) return undefined;
      table = intents;
      key = intentOf;
    } else table = byObjective.get(objective);
    if (!table) return undefined;
    let s = table.get(key);
    if (!s) {
      s = { stats: emptyStats(d), rewardEvents: 0, lateEvents: 0, lastLearnedAt: 0, version: 0 };
      table.set(key, s);
    }
    return s;
  };
  // Statistics per slot (the offline model's are in slot-1 units already), then every slot in slot-1 units.
  const bySlot = new SlotStatsTable(d);
  const cutoff = active?.cutoffBucket ?? Number.NEGATIVE_INFINITY;
  if (active) {
    for (const b of base.values()) {
      if (b.version !== active.version || b.stats.sxr.length !== d) continue;
      if (cell(b.objective, b.actionId)) bySlot.add(b.objective, b.actionId, 1, b.stats);
    }
  }
  let learned = 0;
  for (const item of items.values()) {
    if (item.stats.sxr.length !== d || item.bucket < cutoff) continue;
    const s = cell(item.objective, item.actionId);
    if (!s) continue;
    bySlot.add(item.objective, item.actionId, item.slot, item.stats);
    s.rewardEvents += item.counters.rewardEvents;
    s.lateEvents += item.counters.lateEvents;
    s.lastLearnedAt = Math.max(s.lastLearnedAt, item.lastLearnedAt);
    s.version += item.version;
    learned += item.version;
  }
  const collapsed = bySlot.collapse(DEFAULT_OBJECTIVE, positionModel);
  const { examination } = collapsed;
  const inSlotOne = (objective: string, id: string, s: Summed) => {
    s.stats = collapsed.stats.get(objective)?.get(id) ?? s.stats;
    return s.stats;
  };
  const stats = new Map<string, Map<string, ActionStats>>();
  for (const [objective, table] of byObjective) {
    stats.set(objective, new Map([...table].map(([id, s]) => [id, inSlotOne(objective, id, s)])));
  }
  for (const [objective, s] of intents) {
    const name = intentObjective(objective);
    stats.set(name, new Map([[INTENT_ACTION, inSlotOne(name, INTENT_ACTION, s)]]));
  }
  // Retired actions stay in the posterior: their history still teaches the shared (feature) part of the model.
  const catalog = [...actions.values()].sort((a, b) => (a.actionId < b.actionId ? -1 : 1));
  const features = catalog.map((a) => encodeFeatures(a.features, m));
  // Learned λs carry over while the data has grown little (see REFIT_GROWTH); not across a dimension change. Right
  // after a promotion every container starts from the λs the run learned on the model's whole statistics (the same
  // for all of them, and no fit in the request path); until the next one, from its own previous model.
  const activeVersion = active ? active.version : 'online';
  const sameDims = previous !== undefined && previous.posterior.d === d && previous.posterior.m === m;
  const { priors: promoted, scale, priorScale } = active?.settings ?? {};
  const ownFits = sameDims ? previous : undefined;
  const start =
    promoted === undefined || ownFits?.version.startsWith(`${activeVersion}+`)
      ? ownFits
      : { fits: new Map(Object.entries(promoted)) };
  const policyModel = buildServingPolicyModel(
    { d, m },
    priors,
    catalog.map((a, i) => ({ id: a.actionId, features: features[i]! })),
    dp.settings.objectives,
    stats,
    {
      compoundEvents: compoundEventObjectives(dp.settings),
      coverage: coverageRule(dp.settings),
      ...(start !== undefined && { previous: start }),
      // The multipliers the active model was promoted with; each applies only where the settings leave its λ out.
      priorScale,
    },
  );
  const live = Int32Array.from(catalog.flatMap((a, i) => (a.status === 'live' ? [i] : [])));
  return {
    ...policyModel,
    // The scale and multipliers the active model was promoted with; each serves only where the decision point's
    // settings leave it out (the multipliers are in the posteriors already).
    ...((scale !== undefined || priorScale !== undefined) && {
      learned: { ...(scale !== undefined && { scale }), ...(priorScale !== undefined && { priorScale }) },
    }),
    examination,
    decisionPoint: dp,
    posterior: policyModel.posteriors.get(DEFAULT_OBJECTIVE)!,
    live,
    features,
    catalog: new Map(catalog.map((a) => [a.actionId, a])),
    stats: byObjective.get(DEFAULT_OBJECTIVE)!,
    statsByObjective: byObjective,
    version: `${activeVersion}+${dp.version}.${catalog.reduce((v, a) => v + a.version, 0)}.${learned}`,
    builtAt: now,
  };
}
