/**
 * The fit step: from the reduced aggregate to the candidate model, i.e. per-action statistics per objective
 * (importance-weighted, rescaled to their effective sample size; see core/retrain/weighting.ts), in two versions:
 *
 * - `evaluation`: trained on the days before the hold-out slice only, so the evaluation judges it on data it has
 *   not seen;
 * - `final`: trained on every day before the cutoff, which is what gets promoted (serving drops the online
 *   statistics of those days, so the base must contain all of them).
 *
 * **Completeness check.** For each day before the cutoff, the lake's impressions are compared with what the online
 * learner counted. A day the lake does not have at all (the lake started after online learning did) is taken over
 * from the online statistics as they are ("carried over"), so promotion drops nothing. A day the lake has only in
 * part is an incomplete lake: the day is listed and the gate refuses promotion.
 */

import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { SlotStatsTable } from '../../core/bandit/position.ts';
import { type ActionStats, decodeStats, encodeStats } from '../../core/bandit/stats.ts';
import { DEFAULT_OBJECTIVE } from '../../core/domain.ts';
import { stageValuesFromSums } from '../../core/feedback/stage-values.ts';
import { effectiveSampleSize } from '../../core/importance.ts';
import type { StateStore } from '../../core/ports.ts';
import { emptyWeighted, finalizeWeighted, mergeWeighted, type WeightedStats } from '../../core/retrain/weighting.ts';
import { type Aggregate, decodeAggregate, parseSlotCell } from './aggregate.ts';
import { ArtifactError } from './errors.ts';
import { modelKey } from './keys.ts';
import { DEFAULT_MODEL_CONFIG, type ModelExtension } from './objectives.ts';
import type { BlobStore } from './ports.ts';
import type { RunContext, RunParams } from './run-context.ts';

const diagnosticsSchema = z.object({
  decisions: z.number(),
  effectiveSize: z.number(),
  sumW: z.number(),
  clipped: z.number(),
  missingPropensity: z.number(),
  rewardEvents: z.number(),
});

const modelFileSchema = z.object({
  v: z.literal(1),
  version: z.string(),
  decisionPoint: z.string(),
  cutoffBucket: z.number().int(),
  holdoutFromBucket: z.number().int(),
  d: z.number().int(),
  objectives: z.record(
    z.string(),
    z.object({ final: z.record(z.string(), z.string()), evaluation: z.record(z.string(), z.string()) }),
  ),
  /** Encoded action features as logged (fallback for actions the catalog does not describe). */
  features: z.record(z.string(), z.array(z.number())),
  diagnostics: z.record(z.string(), z.record(z.string(), diagnosticsSchema)),
  carriedOverBuckets: z.array(z.number().int()),
  extensions: z.record(z.string(), z.unknown()),
});

/** The fitted candidate: statistics per objective and action. */
export interface OfflineModel {
  version: string;
  decisionPoint: string;
  cutoffBucket: number;
  holdoutFromBucket: number;
  d: number;
  objectives: Map<string, { final: Map<string, ActionStats>; evaluation: Map<string, ActionStats> }>;
  features: Map<string, number[]>;
  diagnostics: Record<string, Record<string, z.infer<typeof diagnosticsSchema>>>;
  carriedOverBuckets: number[];
  extensions: Record<string, unknown>;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

export function encodeModel(m: OfflineModel): Uint8Array {
  const objectives: Record<string, { final: Record<string, string>; evaluation: Record<string, string> }> = {};
  for (const [name, o] of m.objectives) {
    objectives[name] = {
      final: Object.fromEntries([...o.final].map(([id, s]) => [id, b64(encodeStats(s))])),
      evaluation: Object.fromEntries([...o.evaluation].map(([id, s]) => [id, b64(encodeStats(s))])),
    };
  }
  const file: z.infer<typeof modelFileSchema> = {
    v: 1,
    version: m.version,
    decisionPoint: m.decisionPoint,
    cutoffBucket: m.cutoffBucket,
    holdoutFromBucket: m.holdoutFromBucket,
    d: m.d,
    objectives,
    features: Object.fromEntries(m.features),
    diagnostics: m.diagnostics,
    carriedOverBuckets: m.carriedOverBuckets,
    extensions: m.extensions,
  };
  return gzipSync(JSON.stringify(file));
}

export function decodeModel(bytes: Uint8Array, what: string): OfflineModel {
  let f: z.infer<typeof modelFileSchema>;
  try {
    f = modelFileSchema.parse(JSON.parse(gunzipSync(bytes).toString('utf8')));
  } catch (cause) {
    throw new ArtifactError(`${what} is not a readable model`, { cause });
  }
  const decode = (o: Record<string, string>) =>
    new Map(Object.entries(o).map(([id, s]) => [id, decodeStats(Buffer.from(s, 'base64'), f.d)]));
  return {
    version: f.version,
    decisionPoint: f.decisionPoint,
    cutoffBucket: f.cutoffBucket,
    holdoutFromBucket: f.holdoutFromBucket,
    d: f.d,
    objectives: new Map(
      Object.entries(f.objectives).map(([k, o]) => [k, { final: decode(o.final), evaluation: decode(o.evaluation) }]),
    ),
    features: new Map(Object.entries(f.features)),
    diagnostics: f.diagnostics,
    carriedOverBuckets: f.carriedOverBuckets,
    extensions: f.extensions,
  };
}

export interface OnlineBucketStats {
  objective: string;
  actionId: string;
  bucket: number;
  slot: number;
  stats: ActionStats;
}

/**
 * Pure core of the fit: the candidate model from the reduced aggregate and the online statistics (for the
 * completeness check and the carried-over days).
 */
export function fitModel(
  run: RunParams,
  reduced: Aggregate,
  online: readonly OnlineBucketStats[],
  extensions: readonly ModelExtension[] = DEFAULT_MODEL_CONFIG.extensions,
): { model: OfflineModel; incompleteBuckets: { bucket: number; lake: number; online: number }[] } {
  const d = run.contextDim;
  const onlineImpressions = new Map<number, number>();
  for (const s of online) {
    if (s.objective !== DEFAULT_OBJECTIVE || s.bucket >= run.cutoffBucket || s.stats.sxr.length !== d) continue;
    onlineImpressions.set(s.bucket, (onlineImpressions.get(s.bucket) ?? 0) + s.stats.n);
  }
  const carried = new Set<number>();
  const incompleteBuckets: { bucket: number; lake: number; online: number }[] = [];
  for (const [bucket, on] of [...onlineImpressions].sort((p, q) => p[0] - q[0])) {
    const lake = reduced.impressions.get(bucket) ?? 0;
    if (on <= 0) continue;
    if (lake === 0) carried.add(bucket);
    else if (lake < on * (1 - run.coverageTolerance)) incompleteBuckets.push({ bucket, lake, online: on });
  }

  const objectives: OfflineModel['objectives'] = new Map();
  const diagnostics: OfflineModel['diagnostics'] = {};
  const names = new Set([...reduced.segments.train.keys(), ...reduced.segments.holdout.keys()]);
  for (const s of online) if (carried.has(s.bucket)) names.add(s.objective);
  // Statistics are kept per slot until every objective is collapsed into slot-1 units with the examination ratios of
  // the global policy's statistics (core/bandit/position.ts): the model stores slot-1 units, as the serving cache
  // builds them.
  const final = new SlotStatsTable(d);
  const evaluation = new SlotStatsTable(d);
  for (const name of names) {
    const train = reduced.segments.train.get(name) ?? new Map();
    const holdout = reduced.segments.holdout.get(name) ?? new Map();
    const perAction = new Map<string, WeightedStats>();
    for (const key of new Set([...train.keys(), ...holdout.keys()])) {
      const { actionId, slot } = parseSlotCell(key);
      const all = emptyWeighted(d);
      const t = train.get(key);
      const h = holdout.get(key);
      if (t) {
        mergeWeighted(all, t);
        evaluation.add(name, actionId, slot, finalizeWeighted(t));
      }
      if (h) mergeWeighted(all, h);
      final.add(name, actionId, slot, finalizeWeighted(all));
      let sum = perAction.get(actionId);
      if (!sum) {
        sum = emptyWeighted(d);
        perAction.set(actionId, sum);
      }
      mergeWeighted(sum, all);
    }
    const diag: Record<string, z.infer<typeof diagnosticsSchema>> = {};
    for (const [actionId, all] of perAction) {
      diag[actionId] = {
        decisions: all.decisions,
        effectiveSize: effectiveSampleSize(all),
        sumW: all.sumW,
        clipped: all.clipped,
        missingPropensity: all.missingPropensity,
        rewardEvents: all.rewardEvents,
      };
    }
    for (const s of online) {
      if (s.objective !== name || !carried.has(s.bucket) || s.stats.sxr.length !== d) continue;
      final.add(name, s.actionId, s.slot, s.stats);
      if (s.bucket < run.holdoutFromBucket) evaluation.add(name, s.actionId, s.slot, s.stats);
    }
    diagnostics[name] = diag;
  }
  const finalStats = final.collapse(DEFAULT_OBJECTIVE).stats;
  const evaluationStats = evaluation.collapse(DEFAULT_OBJECTIVE).stats;
  for (const name of names) {
    objectives.set(name, {
      final: finalStats.get(name) ?? new Map(),
      evaluation: evaluationStats.get(name) ?? new Map(),
    });
  }
  const ext: Record<string, unknown> = {};
  for (const e of extensions) ext[e.name] = e.fit({ run, reduced });
  return {
    model: {
      version: run.version,
      decisionPoint: run.decisionPoint,
      cutoffBucket: run.cutoffBucket,
      holdoutFromBucket: run.holdoutFromBucket,
      d,
      objectives,
      features: reduced.features,
      diagnostics,
      carriedOverBuckets: [...carried].sort((p, q) => p - q),
      extensions: ext,
    },
    incompleteBuckets,
  };
}

export interface FitDeps {
  blobs: BlobStore;
  state: StateStore;
  extensions?: readonly ModelExtension[];
}

export async function fitCandidate(ctx: RunContext, deps: FitDeps): Promise<RunContext> {
  const { run } = ctx;
  if (!ctx.reduce) throw new ArtifactError('fit needs the reduced aggregate');
  const body = await deps.blobs.get(ctx.reduce.key);
  if (!body) throw new ArtifactError(`reduced aggregate ${ctx.reduce.key} is missing`);
  const reduced = decodeAggregate(body, run.contextDim, ctx.reduce.key);
  const online = await deps.state.listStats(run.decisionPoint);
  const { model, incompleteBuckets } = fitModel(run, reduced, online, deps.extensions);
  const key = modelKey(run);
  await deps.blobs.put(key, encodeModel(model), 'application/gzip');
  const used = reduced.counters.decisionsUsed ?? 0;
  const held = reduced.counters.holdoutDecisions ?? 0;
  const actions = new Set<string>();
  for (const o of model.objectives.values()) for (const id of o.final.keys()) actions.add(id);
  return {
    ...ctx,
    fit: {
      key,
      objectives: [...model.objectives.keys()],
      actions: actions.size,
      trainDecisions: used - held,
      holdoutDecisions: held,
      carriedOverBuckets: model.carriedOverBuckets,
      incompleteBuckets,
      stageValues: estimatedStageValues(run, reduced),
    },
  };
}

/** Stage values of each objective with a ladder, from the users' histories the join step summed (F6 convention). */
export function estimatedStageValues(
  run: RunParams,
  reduced: Aggregate,
): Record<string, Record<string, { value: number; visits: number; standardError: number | null }>> {
  const out: Record<string, Record<string, { value: number; visits: number; standardError: number | null }>> = {};
  for (const o of run.objectives) {
    if (!o.stages) continue;
    const est = stageValuesFromSums(o.stages, reduced.stageVisits.get(o.name) ?? {});
    out[o.name] = Object.fromEntries(
      o.stages.map((stage) => {
        const se = est.standardErrors[stage]!;
        return [
          stage,
          { value: est.values[stage]!, visits: est.visits[stage]!, standardError: Number.isFinite(se) ? se : null },
        ];
      }),
    );
  }
  return out;
}
