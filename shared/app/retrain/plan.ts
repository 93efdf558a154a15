/**
 * The plan step: fixes the run's parameters (cutoff, hold-out slice, model version, the decision point's settings as
 * of now) and cuts the lake into map items, written as a JSON manifest the Distributed Map reads with its ItemReader.
 *
 * **Cutoff.** cutoffBucket = bucketOf(asOf − attribution window − lake delay): the last day whose decisions may still
 * receive feedback, or whose records may still be on their way into the lake, is not trained on. Everything before
 * the cutoff is complete, so the offline model covers exactly the days < cutoffBucket and the serving model takes
 * the days ≥ cutoffBucket from the online statistics: nothing counted twice, nothing left out.
 */
import { BUCKET_MS } from '../../core/domain.ts';
import type { StateStore } from '../../core/ports.ts';
import { describeZodError } from '../../core/schemas.ts';
import { RetrainInputError, UnknownDecisionPointError } from './errors.ts';
import { manifestKey, runPrefix } from './keys.ts';
import { HOUR_MS, LAKE_PREFIX, parseLakeKey } from './lake.ts';
import type { BlobEntry, BlobStore } from './ports.ts';
import { type PartitionItem, type RunContext, type RunParams, runInputSchema } from './run-context.ts';

export interface PlanDeps {
  blobs: BlobStore;
  state: StateStore;
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

function keysIn(hours: Map<number, BlobEntry[]>, from: number, to: number): string[] {
  const out: string[] = [];
  for (const [h, entries] of hours) if (h >= from && h < to) for (const e of entries) out.push(e.key);
  return out.sort();
}

/**
 * Groups consecutive lake hours of decisions into items of about `targetBytes` (an hour is never split), and gives
 * each item the event and look-ahead files its join needs (see {@link PartitionItem}).
 */
export function planItems(
  decisions: readonly BlobEntry[],
  events: readonly BlobEntry[],
  opts: { cutoffMs: number; windowMs: number; targetBytes: number },
): PartitionItem[] {
  const dHours = byHour(decisions);
  const eHours = byHour(events);
  const training = [...dHours.keys()].filter((h) => h < opts.cutoffMs).sort((p, q) => p - q);
  const items: PartitionItem[] = [];
  let group: number[] = [];
  let bytes = 0;
  const close = () => {
    if (group.length === 0) return;
    const from = group[0] as number;
    const to = (group[group.length - 1] as number) + HOUR_MS;
    items.push({
      id: `p${String(items.length).padStart(5, '0')}`,
      from,
      to,
      decisionKeys: group.flatMap((h) => (dHours.get(h) ?? []).map((e) => e.key)).sort(),
      // One hour of slack before `from`: receipt times come from another machine's clock than decision times.
      eventKeys: keysIn(eHours, from - HOUR_MS, to + opts.windowMs),
      lookaheadKeys: keysIn(dHours, to, to + opts.windowMs),
      bytes,
    });
    group = [];
    bytes = 0;
  };
  for (const h of training) {
    const size = (dHours.get(h) ?? []).reduce((s, e) => s + e.size, 0);
    if (group.length > 0 && bytes + size > opts.targetBytes) close();
    group.push(h);
    bytes += size;
  }
  close();
  return items;
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
  const s = dp.settings;
  const windowSeconds = s.attributionWindowSeconds;
  const cutoffBucket = Math.floor((asOf - windowSeconds * 1000 - input.lakeDelaySeconds * 1000) / BUCKET_MS);
  const runId = runIdOf(req.executionId);
  const run: RunParams = {
    decisionPoint: input.decisionPoint,
    runId,
    version: `m${ymd(cutoffBucket)}-${runId}`.slice(0, 128),
    startedAt,
    asOf,
    cutoffBucket,
    holdoutFromBucket: cutoffBucket - input.holdoutDays,
    weighting: input.weighting === 'none' ? { kind: 'none' } : { kind: 'uniform', clip: input.clip },
    contextDim: s.contextDim,
    actionDim: s.actionDim,
    priors: s.priors,
    exploration: { epsilon: s.exploration.epsilon, scale: s.exploration.scale },
    objectives: s.objectives.map((o) => ({ name: o.name, weight: o.weight })),
    combine: s.combine,
    windowSeconds,
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
  const items = planItems(decisionObjects, eventObjects, {
    cutoffMs,
    // Events received up to the window after their decision count; the lake delay is slack for late receipt.
    windowMs: (windowSeconds + input.lakeDelaySeconds) * 1000 + HOUR_MS,
    targetBytes: input.targetItemBytes,
  });
  const key = manifestKey(run);
  await deps.blobs.put(key, JSON.stringify(items), 'application/json');
  const ctx: RunContext = {
    run,
    plan: {
      manifestKey: key,
      items: items.length,
      decisionObjects: items.reduce((n, i) => n + i.decisionKeys.length, 0),
      decisionBytes: items.reduce((n, i) => n + i.bytes, 0),
      firstHour: items[0]?.from ?? null,
      lastHour: items.length > 0 ? (items[items.length - 1] as PartitionItem).to - HOUR_MS : null,
    },
  };
  return { ctx, items };
}
