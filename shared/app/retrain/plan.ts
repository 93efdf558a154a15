/**
 * The plan step: fixes the run's parameters (cutoff, hold-out slice, model version, the decision point's settings as
 * of now), cuts the lake into split items, written as a JSON manifest the first Distributed Map reads with its
 * ItemReader, and chooses the number of user buckets the second map joins ({@link joinBuckets}: one per
 * {@link JOIN_BUCKET_BYTES} of lake).
 *
 * **Cutoff.** cutoffBucket = bucketOf(asOf − attribution window − lake delay): the last day whose decisions may still
 * receive feedback, or whose records may still be on their way into the lake, is not trained on. Everything before
 * the cutoff is complete, so the offline model covers exactly the days < cutoffBucket and the serving model takes
 * the days ≥ cutoffBucket from the online statistics: nothing counted twice, nothing left out.
 *
 * **Erasures.** The users erased so far (pseudonym and time, `ErasureLog`) are written beside the manifest; the split
 * step drops every record of theirs up to their erasure time (split.ts), so no later step ever sees them.
 */

import { BUCKET_MS } from '../../core/domain.ts';
import { compoundEventObjectives } from '../../core/feedback/reward.ts';
import type { ErasureLog, StateStore } from '../../core/ports.ts';
import { describeZodError } from '../../core/schemas.ts';
import { RetrainInputError, UnknownDecisionPointError } from './errors.ts';
import { catalogsKey, erasuresKey, manifestKey, runPrefix } from './keys.ts';
import { LAKE_PREFIX, parseLakeKey } from './lake.ts';
import type { BlobEntry, BlobStore } from './ports.ts';
import { type PartitionItem, type RunContext, type RunParams, runInputSchema } from './run-context.ts';
import { erasuresFile, MAX_BUCKETS } from './split.ts';

export interface PlanDeps {
  blobs: BlobStore;
  state: StateStore;
  erasures: ErasureLog;
}

export interface PlanRequest {
  input: unknown;
  /** The execution's id (ARN in AWS): its last segment names the run, so a retried step plans the same run. */
  executionId: string;
  /** ISO-8601 start of the execution: the default `asOf`, stable across retries. */
  startTime: string;
}

/** `arn:…:execution:Machine:name` → `name`, restricted to the characters keys and versions allow. */
export function runIdOf(executionId: string): string {
  const last = executionId.slice(executionId.lastIndexOf(':') + 1);
  const clean = last.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return (clean === '' ? 'run' : clean).slice(0, 80);
}

const ymd = (bucket: number) => new Date(bucket * BUCKET_MS).toISOString().slice(0, 10).replaceAll('-', '');

function byHour(entries: readonly BlobEntry[]): Map<number, BlobEntry[]> {
  const hours = new Map<number, BlobEntry[]>();
  for (const e of entries) {
    const k = parseLakeKey(e.key);
    if (!k) continue;
    const list = hours.get(k.hourStart) ?? [];
    list.push(e);
    hours.set(k.hourStart, list);
  }
  return hours;
}

/**
 * Cuts every lake object up to `untilMs` (both kinds, whole hours) into split items of about `targetBytes`: each
 * object is read exactly once, by one split worker.
 */
export function planItems(
  objects: readonly BlobEntry[],
  opts: { untilMs: number; targetBytes: number },
): PartitionItem[] {
  const hours = byHour(objects);
  const items: PartitionItem[] = [];
  let keys: string[] = [];
  let bytes = 0;
  const close = () => {
    if (keys.length === 0) return;
    items.push({ id: `p${String(items.length).padStart(5, '0')}`, keys: keys.sort(), bytes });
    keys = [];
    bytes = 0;
  };
  for (const h of [...hours.keys()].filter((h) => h <= opts.untilMs).sort((p, q) => p - q)) {
    const entries = hours.get(h) ?? [];
    const size = entries.reduce((s, e) => s + e.size, 0);
    if (keys.length > 0 && bytes + size > opts.targetBytes) close();
    keys.push(...entries.map((e) => e.key));
    bytes += size;
  }
  close();
  return items;
}

/**
 * Compressed lake bytes per user bucket (join worker). A join holds its bucket's every record in memory, far more
 * than the split, which streams. Measured with the retraining bench's lake (d = 16, 20 candidates, 64 B of gzip per
 * decision): a bucket of 30 MiB (500,000 decisions) ran out of a 1.6 GB heap, 7.6 MiB (125,000) fitted in 1 GB and
 * not in 500 MB, 1.9 MiB (31,000) fitted in 500 MB: 4 to 8 KB of heap per decision. A map worker has 1,769 MB, so
 * 4 MiB (about 65,000 decisions, 260 to 520 MB at that rate) leaves room for wider contexts. Buckets were once sized
 * like the split's items (`targetItemBytes`, 32 MiB), which a lake of more than about 16 MiB could not join.
 */
export const JOIN_BUCKET_BYTES = 4 * 1024 * 1024;

/** User buckets for a lake of `totalBytes` (compressed): one per {@link JOIN_BUCKET_BYTES}, 1 to {@link MAX_BUCKETS}. */
export function joinBuckets(totalBytes: number): number {
  return Math.min(MAX_BUCKETS, Math.max(1, Math.ceil(totalBytes / JOIN_BUCKET_BYTES)));
}

/** Plans a run; returns the run's context and the items (also written to the manifest the map step reads). */
export async function plan(req: PlanRequest, deps: PlanDeps): Promise<{ ctx: RunContext; items: PartitionItem[] }> {
  const parsed = runInputSchema.safeParse(req.input);
  if (!parsed.success) throw new RetrainInputError(`invalid run input: ${describeZodError(parsed.error)}`);
  const input = parsed.data;
  const dp = await deps.state.getDecisionPoint(input.decisionPoint);
  if (!dp) throw new UnknownDecisionPointError(`decision point ${input.decisionPoint} does not exist`);
  const startedAt = Date.parse(req.startTime);
  if (!Number.isFinite(startedAt)) throw new RetrainInputError(`invalid execution start time ${req.startTime}`);
  const asOf = input.asOf === undefined ? startedAt : Date.parse(input.asOf);
  if (asOf > startedAt + 60_000) {
    throw new RetrainInputError(
      `asOf ${input.asOf} is after the run started: a run trains only on days whose feedback is complete. Today's ` +
        'traffic is learned online already; retraining takes it once the day and its attribution window are over',
    );
  }
  const s = dp.settings;
  // The longest window any objective credits: a day is complete once its last decision's feedback is all in.
  const windowSeconds = Math.max(
    s.attributionWindowSeconds,
    ...s.objectives.map((o) => o.attributionWindowSeconds ?? 0),
  );
  const cutoffBucket = Math.floor((asOf - windowSeconds * 1000 - input.lakeDelaySeconds * 1000) / BUCKET_MS);
  const runId = runIdOf(req.executionId);
  const run: RunParams = {
    decisionPoint: input.decisionPoint,
    runId,
    version: `m${ymd(cutoffBucket)}-${runId}`.slice(0, 128),
    startedAt,
    asOf,
    cutoffBucket,
    holdoutFromBucket: input.holdoutFraction === undefined ? cutoffBucket - input.holdoutDays : cutoffBucket,
    ...(input.holdoutFraction !== undefined && { holdoutFraction: input.holdoutFraction }),
    weighting: input.weighting === 'none' ? { kind: 'none' } : { kind: 'uniform', clip: input.clip },
    contextDim: s.contextDim,
    actionDim: s.actionDim,
    priors: s.priors,
    exploration: {
      ...(s.exploration.epsilon !== undefined && { epsilon: s.exploration.epsilon }),
      ...(s.exploration.scale !== undefined && { scale: s.exploration.scale }),
    },
    compoundEvents: compoundEventObjectives(s),
    objectives: s.objectives.map((o) => ({
      name: o.name,
      weight: o.weight,
      ...(o.stages ? { stages: o.stages, events: o.events } : {}),
      windowSeconds: o.attributionWindowSeconds ?? s.attributionWindowSeconds,
    })),
    combine: s.combine,
    windowSeconds,
    buckets: 1,
    lakeDelaySeconds: input.lakeDelaySeconds,
    maxEvalRounds: input.maxEvalRounds,
    minEvalRounds: input.minEvalRounds,
    tolerance: input.tolerance,
    delta: input.delta,
    coverageTolerance: input.coverageTolerance,
    force: input.force,
    prefix: runPrefix(input.decisionPoint, runId),
  };

  const [decisionObjects, eventObjects] = await Promise.all([
    deps.blobs.list(`${LAKE_PREFIX}kind=decision/`),
    deps.blobs.list(`${LAKE_PREFIX}kind=event/`),
  ]);
  const cutoffMs = cutoffBucket * BUCKET_MS;
  // The whole history up to asOf: the join needs each user's every record (a later decision may be the one an event
  // answers; a stage move needs the stage before it), whatever days are trained on.
  const items = planItems([...decisionObjects, ...eventObjects], {
    untilMs: asOf,
    targetBytes: input.targetItemBytes,
  });
  const totalBytes = items.reduce((n, i) => n + i.bytes, 0);
  run.buckets = joinBuckets(totalBytes);
  const trainingHours = [...byHour(decisionObjects).keys()].filter((h) => h < cutoffMs).sort((p, q) => p - q);
  const erased = await deps.erasures.list();
  await deps.blobs.put(erasuresKey(run), JSON.stringify(erasuresFile(erased)), 'application/json');
  // Read after the lake was listed: a version is stored before the updater counts its declaring record as applied,
  // and a job's before its chunk's records are written (core/catalog/catalog-version.ts, C4).
  const catalogs = await deps.state.listCatalogVersions(run.decisionPoint);
  await deps.blobs.put(catalogsKey(run), JSON.stringify(Object.fromEntries(catalogs)), 'application/json');
  const key = manifestKey(run);
  await deps.blobs.put(key, JSON.stringify(items), 'application/json');
  const ctx: RunContext = {
    run,
    plan: {
      manifestKey: key,
      items: items.length,
      buckets: Array.from({ length: run.buckets }, (_, b) => b),
      decisionObjects: decisionObjects.length,
      decisionBytes: totalBytes,
      erasures: erased.length,
      firstHour: trainingHours[0] ?? null,
      lastHour: trainingHours[trainingHours.length - 1] ?? null,
    },
  };
  return { ctx, items };
}
