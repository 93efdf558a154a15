/**
 * The promote step and its inverse, rollback. Promotion writes the candidate's `final` statistics as base statistics
 * under its version, then moves the `ACTIVE` pointer to it with `cutoffBucket` = the first day not in its training
 * data, keeping the previous pointers as history. Serving reads the pointer and combines that version's base with
 * the online statistics from its cutoff on. The pointer also carries the settings the run chose with the model (the
 * Thompson scale and the multipliers on the learned λs, where searched: see evaluate.ts), so serving uses exactly the
 * settings the gate certified, and the λs the run learned on the model's statistics, which every container starts
 * from at once (model-cache.ts).
 *
 * Order matters: every base item is written before the pointer, so a reader that sees the pointer also sees the
 * statistics it points to. Each batch of base items gets the time of its own write as `updatedAt`, so a decision
 * container refreshing incrementally (items changed since its last read) cannot miss an item written while it read.
 */
import type { ActionStats } from '../../core/bandit/stats.ts';
import {
  type ActiveModel,
  type BaseModelStats,
  ONLINE_ONLY_VERSION,
  type PromotedSettings,
} from '../../core/domain.ts';
import { VersionConflictError } from '../../core/errors.ts';
import type { StateStore } from '../../core/ports.ts';
import type { AuditTrail } from '../audit/audit-trail.ts';
import { ArtifactError, NothingToRollBackError } from './errors.ts';
import { decodeModel } from './fit.ts';
import type { BlobStore } from './ports.ts';
import type { RunContext } from './run-context.ts';

/** Earlier active models kept for rollback. */
export const ACTIVE_HISTORY_LENGTH = 20;
const BASE_WRITE_BATCH = 64;

export interface PromoteDeps {
  blobs: BlobStore;
  state: StateStore;
  /** Where a promotion is recorded (shared/core/audit.ts); the local runner's tests may leave it out. */
  audit?: AuditTrail | undefined;
  now?: () => number;
  /** After a promotion: publishes the decision point's snapshot (see shared/app/decide/snapshot-publisher.ts). */
  modelChanged?: ((decisionPoint: string) => Promise<void>) | undefined;
}

/**
 * Records the promotion in the audit trail, keyed by the run and the pointer's `promotedAt`: a retried step that finds
 * the pointer already moved records the same entry again, which changes nothing.
 */
async function recordPromotion(ctx: RunContext, deps: PromoteDeps, active: ActiveModel, previous: string | null) {
  await deps.audit?.record(
    {
      id: `retrain.${ctx.run.runId}`,
      system: 'retraining',
      action: 'model.promote',
      route: 'retraining promote',
      decisionPoint: ctx.run.decisionPoint,
    },
    { status: 200, target: active.version, detail: previous === null ? undefined : { previousVersion: previous } },
    active.promotedAt,
  );
}

/**
 * The settings promoted with the model: the Thompson scale the gate certified it with, when the run searched it (the
 * decision point's settings leave the scale out), the multipliers on the learned λs it was certified with, when the
 * run searched them (the settings leave a λ out), and the λs the run learned on the model's statistics. A model
 * promoted under an explicit scale carries no scale, so removing the explicit scale later serves the default until a
 * run chooses one, never a scale nobody evaluated with this model; the same holds for the multipliers.
 */
function promotedSettings(ctx: RunContext): PromotedSettings | undefined {
  const choice = ctx.evaluation?.exploration;
  const fits = ctx.evaluation?.fits;
  const searched = choice?.source === 'search';
  const scale = searched && ctx.run.exploration.scale === undefined ? choice.scale : undefined;
  const free = ctx.run.priors.lambdaShared === undefined || ctx.run.priors.lambdaAction === undefined;
  const priorScale = searched && free ? choice.priorScale : undefined;
  if (scale === undefined && priorScale === undefined && fits === undefined) return undefined;
  return {
    ...(scale !== undefined && { scale }),
    ...(priorScale !== undefined && { priorScale }),
    ...(fits !== undefined && { priors: fits }),
  };
}

export async function promote(ctx: RunContext, deps: PromoteDeps): Promise<RunContext> {
  const { run } = ctx;
  const now = deps.now ?? Date.now;
  if (!ctx.evaluation?.promote || !ctx.fit) throw new ArtifactError('promote needs an evaluation that allows it');
  const current = await deps.state.getActiveModel(run.decisionPoint);
  const reject = (reason: string): RunContext => ({
    ...ctx,
    promotion: {
      promoted: false,
      version: run.version,
      previousVersion: current?.version ?? null,
      reason,
      baseItems: 0,
    },
  });
  // A retry after a write whose answer was lost: the pointer is already ours.
  if (current?.version === run.version) {
    await recordPromotion(ctx, deps, current, current.history[0]?.version ?? null);
    return {
      ...ctx,
      promotion: {
        promoted: true,
        version: run.version,
        previousVersion: current.history[0]?.version ?? null,
        baseItems: 0,
      },
    };
  }
  if ((current?.itemVersion ?? null) !== ctx.evaluation.activeItemVersion) {
    return reject(
      `the active model changed during the run (now ${current?.version ?? 'none'}): the evaluation compared against ` +
        'another model; run again',
    );
  }
  const body = await deps.blobs.get(ctx.fit.key);
  if (!body) throw new ArtifactError(`model ${ctx.fit.key} is missing`);
  const model = decodeModel(body, ctx.fit.key);
  const items: { objective: string; actionId: string; stats: ActionStats }[] = [];
  for (const [objective, o] of model.objectives) {
    for (const [actionId, stats] of o.final) items.push({ objective, actionId, stats });
  }
  for (let i = 0; i < items.length; i += BASE_WRITE_BATCH) {
    const updatedAt = now();
    await deps.state.putBaseStats(
      items
        .slice(i, i + BASE_WRITE_BATCH)
        .map((it): BaseModelStats => ({ decisionPoint: run.decisionPoint, version: run.version, ...it, updatedAt })),
    );
  }
  const t = now();
  const settings = promotedSettings(ctx);
  const next: ActiveModel = {
    decisionPoint: run.decisionPoint,
    version: run.version,
    cutoffBucket: run.cutoffBucket,
    promotedAt: t,
    ...(settings && { settings }),
    history: current
      ? [
          {
            version: current.version,
            cutoffBucket: current.cutoffBucket,
            promotedAt: current.promotedAt,
            ...(current.settings && { settings: current.settings }),
          },
          ...current.history,
        ].slice(0, ACTIVE_HISTORY_LENGTH)
      : [],
    itemVersion: (current?.itemVersion ?? 0) + 1,
    updatedAt: t,
  };
  try {
    await deps.state.putActiveModel(next, current?.itemVersion);
  } catch (err) {
    if (err instanceof VersionConflictError) {
      return reject('another promotion or rollback changed the active model at the same moment; run again');
    }
    throw err;
  }
  await recordPromotion(ctx, deps, next, current?.version ?? null);
  // Containers serve the promoted model from its snapshot, published now rather than at the next feedback batch.
  await deps.modelChanged?.(run.decisionPoint);
  return {
    ...ctx,
    promotion: {
      promoted: true,
      version: run.version,
      previousVersion: current?.version ?? null,
      baseItems: items.length,
    },
  };
}

/**
 * Restores the previous active model (the head of the history) with the settings chosen with it. Its base statistics
 * are still stored, and the online statistics from its cutoff on were never deleted, so serving returns exactly to
 * what it was. The rolled-back
 * version leaves the history: a second rollback goes one further back. Rolling back the oldest model returns to
 * online-only serving (the {@link ONLINE_ONLY_VERSION} marker: no base statistics, online statistics of every day),
 * which is what the decision point served before its first promotion.
 */
export async function rollbackModel(
  state: StateStore,
  decisionPoint: string,
  now: () => number = Date.now,
): Promise<{ active: ActiveModel; rolledBack: string }> {
  const current = await state.getActiveModel(decisionPoint);
  if (!current || (current.version === ONLINE_ONLY_VERSION && current.history.length === 0)) {
    throw new NothingToRollBackError(
      `decision point ${decisionPoint} already serves its online statistics only: there is no offline model to roll back`,
    );
  }
  // Past the first promoted model lies online-only serving: no base statistics, every online bucket.
  const previous = current.history[0] ?? { version: ONLINE_ONLY_VERSION, cutoffBucket: 0, promotedAt: 0 };
  const t = now();
  const next: ActiveModel = {
    decisionPoint,
    version: previous.version,
    cutoffBucket: previous.cutoffBucket,
    promotedAt: previous.promotedAt,
    // The settings chosen with that model come back with it (none past the first: the defaults served then).
    ...(previous.settings && { settings: previous.settings }),
    history: current.history.slice(1),
    itemVersion: current.itemVersion + 1,
    updatedAt: t,
  };
  // Conditional on the version read: a promotion racing this rollback makes one of them fail, never both half-apply.
  await state.putActiveModel(next, current.itemVersion);
  return { active: next, rolledBack: current.version };
}
