/**
 * Decision points and their action catalog: the admin use cases. Writes are conditional on the version read, so two
 * admins editing the same item cannot silently overwrite each other; the loser gets 409 (or, in a bulk import, a
 * `failed` item) and retries.
 *
 * When a catalog change reaches the decisions: a write is committed to DynamoDB before the call returns, and every
 * warm decision container reads what changed at most `refreshMs` (MODEL_REFRESH_MS, default 1 s) later, plus one
 * refresh query. So a retired action stops being served, and a new one can be served, within refreshMs + a query's
 * latency, as long as the container can reach DynamoDB (a failed refresh keeps the last good model serving) and
 * writers' clocks agree within the cache's skew margin (5 s). Schedule windows need no write: `endsAt` and `startsAt`
 * are compared with each request's clock, so expiry is exact to the millisecond.
 */
import { instantMs, type LifecycleStatus, lifecycleStatus } from '../../core/catalog/schedule.ts';
import type { CatalogAction, DecisionPoint } from '../../core/domain.ts';
import { ConflictError, NotFoundError, ValidationError, VersionConflictError } from '../../core/errors.ts';
import { encodeFeatures, FeatureEncodingError } from '../../core/features/encode.ts';
import type { StateStore } from '../../core/ports.ts';
import {
  type ActionInput,
  actionIdSchema,
  actionInputSchema,
  type DecisionPointSettingsInput,
  decisionPointIdSchema,
  decisionPointSettingsSchema,
  describeZodError,
} from '../../core/schemas.ts';
import { settleLimit } from '../concurrency.ts';
import type { ModelCache } from '../decide/model-cache.ts';
import { type ActionSummary, summarizeAction } from './model-summary.ts';

export class CatalogService {
  constructor(
    private readonly store: StateStore,
    private readonly models: ModelCache,
    private readonly now: () => number = Date.now,
    /** After every committed change of a decision point or its catalog (the admin function publishes its snapshot). */
    private readonly onChanged?: (decisionPoint: string) => Promise<void>,
  ) {}

  private async changed(decisionPoint: string): Promise<void> {
    this.models.invalidate(decisionPoint);
    await this.onChanged?.(decisionPoint);
  }

  async putDecisionPoint(
    name: string,
    input: DecisionPointSettingsInput,
  ): Promise<{ created: boolean; decisionPoint: DecisionPoint }> {
    checkId(decisionPointIdSchema, name, 'decision point');
    const parsed = decisionPointSettingsSchema.safeParse(input);
    if (!parsed.success) throw new ValidationError(`invalid settings: ${describeZodError(parsed.error)}`);
    const settings = parsed.data;
    const existing = await this.store.getDecisionPoint(name);
    if (
      existing &&
      (existing.settings.contextDim !== settings.contextDim || existing.settings.actionDim !== settings.actionDim)
    ) {
      const learned = (await this.store.listStats(name)).length > 0;
      if (learned) {
        throw new ConflictError(
          'contextDim and actionDim cannot change once the decision point has learned (its statistics have those dimensions); create a new decision point instead',
        );
      }
    }
    const t = this.now();
    const item: DecisionPoint = {
      decisionPoint: name,
      settings,
      createdAt: existing?.createdAt ?? t,
      updatedAt: t,
      version: (existing?.version ?? 0) + 1,
    };
    await this.write(() => this.store.putDecisionPoint(item, existing?.version));
    await this.changed(name);
    return { created: !existing, decisionPoint: item };
  }

  async getDecisionPoint(name: string): Promise<DecisionPoint> {
    const dp = await this.store.getDecisionPoint(name);
    if (!dp) throw new NotFoundError(`decision point ${name} does not exist`);
    return dp;
  }

  listDecisionPoints(): Promise<DecisionPoint[]> {
    return this.store.listDecisionPoints();
  }

  /**
   * Creates or replaces one action (a retired action put again comes back live, with its statistics). Writing the same
   * content again changes nothing: no new version, so warm containers have nothing to rebuild.
   */
  async putAction(
    dpName: string,
    actionId: string,
    input: ActionInput,
  ): Promise<{ created: boolean; action: CatalogAction }> {
    checkId(actionIdSchema, actionId, 'action id');
    const dp = await this.getDecisionPoint(dpName);
    const existing = await this.store.getAction(dpName, actionId);
    const action = this.toAction(dp, actionId, input, existing);
    if (existing && sameContent(existing, action)) return { created: false, action: existing };
    await this.write(() => this.store.putAction(action, existing?.version));
    await this.changed(dpName);
    return { created: !existing, action };
  }

  /**
   * Bulk import: validates every item on its own, applies the valid ones and reports one result per item, in order.
   * An invalid item is `rejected` (with the reason) and a valid item whose write failed is `failed` (retry it);
   * neither stops the others. Items repeating an earlier item's id are rejected, so the outcome never depends on
   * write order. Reads the catalog once and writes with the same version conditions as a single PUT.
   */
  async importActions(dpName: string, items: readonly unknown[]): Promise<ImportResult> {
    if (items.length > MAX_IMPORT_ITEMS)
      throw new ValidationError(`at most ${MAX_IMPORT_ITEMS} actions per import (got ${items.length})`);
    const dp = await this.getDecisionPoint(dpName);
    const existing = new Map((await this.store.listActions(dpName)).map((a) => [a.actionId, a]));
    const results: ImportItemResult[] = new Array(items.length);
    const firstIndex = new Map<string, number>();
    const writes: { index: number; action: CatalogAction; previous: CatalogAction | undefined }[] = [];
    items.forEach((raw, index) => {
      const id = isRecord(raw) && typeof raw.actionId === 'string' ? raw.actionId : undefined;
      try {
        if (!isRecord(raw)) throw new ValidationError('must be an object with an actionId');
        if (id === undefined) throw new ValidationError('actionId: required, a string');
        checkId(actionIdSchema, id, 'actionId');
        const seen = firstIndex.get(id);
        if (seen !== undefined) throw new ValidationError(`actionId ${id} repeats item ${seen}`);
        firstIndex.set(id, index);
        const { actionId: _, ...rest } = raw;
        const parsed = actionInputSchema.safeParse(rest);
        if (!parsed.success) throw new ValidationError(describeZodError(parsed.error));
        const previous = existing.get(id);
        const action = this.toAction(dp, id, parsed.data, previous);
        if (previous && sameContent(previous, action)) {
          results[index] = { index, actionId: id, status: 'unchanged', version: previous.version };
        } else writes.push({ index, action, previous });
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        results[index] = {
          index,
          ...(id !== undefined ? { actionId: id } : {}),
          status: 'rejected',
          error: err.message,
        };
      }
    });
    const settled = await settleLimit(writes, IMPORT_CONCURRENCY, (w) =>
      this.store.putAction(w.action, w.previous?.version),
    );
    settled.forEach((outcome, k) => {
      const { index, action, previous } = writes[k]!;
      if (outcome.status === 'fulfilled') {
        results[index] = {
          index,
          actionId: action.actionId,
          status: previous ? 'updated' : 'created',
          version: action.version,
        };
      } else {
        const conflict = outcome.reason instanceof VersionConflictError;
        results[index] = {
          index,
          actionId: action.actionId,
          status: 'failed',
          error: conflict
            ? 'the action changed while it was being written; retry'
            : 'the catalog store is unavailable; retry',
        };
      }
    });
    if (writes.length > 0) await this.changed(dpName);
    const count = (status: ImportItemResult['status']) => results.filter((r) => r.status === status).length;
    return {
      created: count('created'),
      updated: count('updated'),
      unchanged: count('unchanged'),
      rejected: count('rejected'),
      failed: count('failed'),
      results,
    };
  }

  async retireAction(dpName: string, actionId: string): Promise<CatalogAction> {
    const existing = await this.getAction(dpName, actionId);
    if (existing.status === 'retired') return existing;
    // Retiring keeps the item and its statistics: the action may come back next season and resume where it was.
    const retired: CatalogAction = {
      ...existing,
      status: 'retired',
      updatedAt: this.now(),
      version: existing.version + 1,
    };
    await this.write(() => this.store.putAction(retired, existing.version));
    await this.changed(dpName);
    return retired;
  }

  async getAction(dpName: string, actionId: string): Promise<CatalogAction> {
    const a = await this.store.getAction(dpName, actionId);
    if (!a) throw new NotFoundError(`action ${actionId} does not exist in decision point ${dpName}`);
    return a;
  }

  /**
   * The catalog, optionally filtered by lifecycle status at this moment (`live` = serving now, `scheduled` = not
   * started yet, `expired` = past its end, `retired`) and by `q`, a case-insensitive substring of the action id or of
   * a string metadata value. Sorted by action id.
   */
  async listActions(dpName: string, filter: ActionFilter = {}): Promise<CatalogAction[]> {
    await this.getDecisionPoint(dpName);
    const now = this.now();
    const q = filter.q?.toLowerCase();
    return (await this.store.listActions(dpName))
      .filter((a) => filter.status === undefined || lifecycleStatus(a, now) === filter.status)
      .filter((a) => q === undefined || matches(a, q))
      .sort((a, b) => (a.actionId < b.actionId ? -1 : a.actionId > b.actionId ? 1 : 0));
  }

  /** The action and what the serving model has learned about it (see model-summary.ts). */
  async explainAction(
    dpName: string,
    actionId: string,
  ): Promise<{ action: CatalogAction; learned: ActionSummary | undefined }> {
    const action = await this.getAction(dpName, actionId);
    return { action, learned: summarizeAction(await this.models.get(dpName), actionId, this.now()) };
  }

  /** Lifecycle status of an action now, as the list filter and the API views show it. */
  statusOf(a: CatalogAction): LifecycleStatus {
    return lifecycleStatus(a, this.now());
  }

  private toAction(
    dp: DecisionPoint,
    actionId: string,
    input: ActionInput,
    existing: CatalogAction | undefined,
  ): CatalogAction {
    try {
      // Checked here rather than when a container builds the model: one bad action must not stop a decision point.
      encodeFeatures(input.features, dp.settings.actionDim);
    } catch (err) {
      if (err instanceof FeatureEncodingError) throw new ValidationError(`features: ${err.message}`);
      throw err;
    }
    const t = this.now();
    const action: CatalogAction = {
      decisionPoint: dp.decisionPoint,
      actionId,
      features: input.features,
      metadata: input.metadata,
      status: 'live',
      startsAt: input.startsAt === undefined ? undefined : instantMs(input.startsAt),
      endsAt: input.endsAt === undefined ? undefined : instantMs(input.endsAt),
      eligibility: input.eligibility,
      trafficCapWhileNew: input.trafficCapWhileNew,
      createdAt: existing?.createdAt ?? t,
      updatedAt: t,
      version: (existing?.version ?? 0) + 1,
    };
    const bytes = Buffer.byteLength(JSON.stringify(action), 'utf8');
    if (bytes > MAX_ACTION_BYTES)
      throw new ValidationError(`the action is ${bytes} bytes; at most ${MAX_ACTION_BYTES}`);
    return action;
  }

  private async write(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (err instanceof VersionConflictError)
        throw new ConflictError('the item changed while it was being written; retry');
      if (err instanceof FeatureEncodingError) throw new ValidationError(err.message);
      throw err;
    }
  }
}

function checkId(schema: typeof decisionPointIdSchema, value: string, what: string): void {
  const r = schema.safeParse(value);
  if (!r.success)
    throw new ValidationError(`${what} ${JSON.stringify(value)}: ${r.error.issues[0]?.message ?? 'invalid'}`);
}

/** Most actions one import call takes. */
export const MAX_IMPORT_ITEMS = 1000;
/** Conditional writes in flight during an import (enough to write 1,000 items in well under a second). */
const IMPORT_CONCURRENCY = 16;
/** Serialized size cap of one catalog item: half of DynamoDB's 400 KB item limit, leaving room for attribute names. */
export const MAX_ACTION_BYTES = 200_000;

export interface ActionFilter {
  status?: LifecycleStatus | undefined;
  q?: string | undefined;
}

export interface ImportItemResult {
  index: number;
  actionId?: string;
  /** `unchanged`: identical to what is stored, nothing written. `rejected`: invalid. `failed`: valid but not written. */
  status: 'created' | 'updated' | 'unchanged' | 'rejected' | 'failed';
  version?: number;
  error?: string;
}

export interface ImportResult {
  created: number;
  updated: number;
  unchanged: number;
  rejected: number;
  failed: number;
  results: ImportItemResult[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Same definition (what a client wrote), ignoring versions and timestamps; a retired action is never the same. */
function sameContent(a: CatalogAction, b: CatalogAction): boolean {
  const content = (x: CatalogAction) =>
    canonical({
      status: x.status,
      features: x.features,
      metadata: x.metadata,
      startsAt: x.startsAt,
      endsAt: x.endsAt,
      eligibility: x.eligibility,
      trafficCapWhileNew: x.trafficCapWhileNew,
    });
  return content(a) === content(b);
}

/** JSON with object keys sorted and undefined members dropped, so equal content gives equal text. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isRecord(v)) {
    const keys = Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

function matches(a: CatalogAction, q: string): boolean {
  if (a.actionId.toLowerCase().includes(q)) return true;
  for (const v of Object.values(a.metadata ?? {}))
    if (typeof v === 'string' && v.toLowerCase().includes(q)) return true;
  return false;
}
