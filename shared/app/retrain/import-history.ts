/**
 * History import: past logged decisions (the OPE readers' `LoggedData`, from a JSONL history or an Open Bandit
 * Dataset CSV) become stream records in the log lake, exactly as the engine would have logged them, so a new
 * deployment's first retraining starts from the customer's history.
 *
 * Each logged round becomes one decision record (context encoded with the decision point's dimensions, the logged
 * candidates, the chosen action, its propensity or 0 when none was logged) and, when its reward is not 0, one
 * feedback event of type `reward` whose `value` is the reward (the decision's `rewards` settings are empty, so an
 * event is worth its value; the decision records the reward range the caller checked the history against and
 * accepts values, since the history's rewards are values). A dense context is logged as the array it is. Ids are derived from the source and the round's position, and lake objects are named
 * after the source, so importing the same file twice replaces its objects instead of duplicating history.
 */
import { createHash } from 'node:crypto';
import type { LoggedData } from '../../core/evaluation/types.ts';
import { encodeFeatures } from '../../core/features/encode.ts';
import { decisionRecordSchema, describeZodError, eventRecordSchema } from '../../core/schemas.ts';
import { RetrainInputError } from './errors.ts';
import { writeLakeBatch } from './lake.ts';
import type { BlobStore } from './ports.ts';

export interface ImportOptions {
  decisionPoint: string;
  contextDim: number;
  actionDim: number;
  attributionWindowSeconds: number;
  /** The range the history's rewards lie in, recorded with each decision (F9: the join refuses values outside it). */
  rewardBounds: { min: number; max: number };
  /** Identifies the source (e.g. a hash of the file): part of every id and object name. */
  sourceId: string;
  /** Decision time of round i (ms). */
  timeOf: (index: number) => number;
  /** Lines per lake write (bounded memory). */
  chunkLines?: number;
}

export interface ImportSummary {
  decisions: number;
  events: number;
  withPropensity: number;
  withoutPropensity: number;
  objects: number;
  firstAt: number | null;
  lastAt: number | null;
}

/** A short stable id of a source's bytes. */
export function sourceIdOf(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 12);
}

const vector = (f: unknown): number[] | undefined =>
  f instanceof Float64Array ? Array.from(f) : Array.isArray(f) ? (f as number[]) : undefined;

export async function importHistory(data: LoggedData, blobs: BlobStore, o: ImportOptions): Promise<ImportSummary> {
  const summary: ImportSummary = {
    decisions: 0,
    events: 0,
    withPropensity: 0,
    withoutPropensity: 0,
    objects: 0,
    firstAt: null,
    lastAt: null,
  };
  const chunk = o.chunkLines ?? 50_000;
  let lines: string[] = [];
  let part = 0;
  const flush = async () => {
    if (lines.length === 0) return;
    const out = await writeLakeBatch(blobs, lines, `import-${o.sourceId}-${String(part++).padStart(5, '0')}`);
    summary.objects += out.objects;
    lines = [];
  };
  const features = new Map<string, number[]>();
  const featuresOf = (c: { id: string; features?: unknown }) => {
    let f = features.get(c.id);
    if (!f) {
      const v = vector(c.features);
      f = Array.from(encodeFeatures(v ?? ((c.features ?? {}) as Record<string, number | string>), o.actionDim));
      features.set(c.id, f);
    }
    return f;
  };
  for (let i = 0; i < data.rounds.length; i++) {
    const round = data.rounds[i]!;
    const at = Math.floor(o.timeOf(i));
    const chosen = round.candidates[round.chosenIndex]!;
    const decisionId = `${o.decisionPoint}-${o.sourceId}-${i}`;
    const userId = `import-${o.sourceId}-${i}`;
    const dense = vector(round.context);
    const context = dense ?? (round.context as Record<string, number | string>);
    const p = round.propensity !== undefined && round.propensity > 0 ? round.propensity : 0;
    const parsed = decisionRecordSchema.safeParse({
      kind: 'decision',
      v: 1,
      decisionId,
      decisionPoint: o.decisionPoint,
      userId,
      at,
      context,
      x: Array.from(encodeFeatures(context, o.contextDim)),
      candidates: round.candidates.map((c) => c.id),
      chosen: [chosen.id],
      chosenFeatures: [featuresOf(chosen)],
      propensity: p,
      modelVersion: 'imported',
      attributionWindowSeconds: o.attributionWindowSeconds,
      rewards: {},
      rewardBounds: o.rewardBounds,
      acceptEventValues: true,
    });
    if (!parsed.success) throw new RetrainInputError(`round ${i + 1}: ${describeZodError(parsed.error)}`);
    lines.push(JSON.stringify(parsed.data));
    summary.decisions++;
    if (p > 0) summary.withPropensity++;
    else summary.withoutPropensity++;
    summary.firstAt = summary.firstAt === null ? at : Math.min(summary.firstAt, at);
    summary.lastAt = summary.lastAt === null ? at : Math.max(summary.lastAt, at);
    if (round.reward !== 0) {
      const receivedAt = at + 1000;
      const event = eventRecordSchema.safeParse({
        kind: 'event',
        v: 1,
        event: {
          eventId: `${decisionId}-reward`,
          userId,
          decisionId,
          actionId: chosen.id,
          type: 'reward',
          value: round.reward,
          timestamp: new Date(receivedAt).toISOString(),
        },
        receivedAt,
      });
      if (!event.success) throw new RetrainInputError(`round ${i + 1}: ${describeZodError(event.error)}`);
      lines.push(JSON.stringify(event.data));
      summary.events++;
    }
    if (lines.length >= chunk) await flush();
  }
  await flush();
  return summary;
}

/** The widths and reward range a history needs of the decision point it is imported into. */
export interface HistoryShape {
  /** Dense context length (the most of any round), or undefined when contexts are named. */
  denseContext: number | undefined;
  /** Dense action feature length (the most of any action), or undefined when named. */
  denseAction: number | undefined;
  rewards: { min: number; max: number } | undefined;
  /** Each action's features as first logged (dense arrays or named values), in order of appearance. */
  actions: Map<string, number[] | Record<string, number | string>>;
}

export function historyShape(data: LoggedData): HistoryShape {
  let denseContext: number | undefined;
  let denseAction: number | undefined;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  const actions = new Map<string, number[] | Record<string, number | string>>();
  for (const r of data.rounds) {
    const c = vector(r.context);
    if (c) denseContext = Math.max(denseContext ?? 0, c.length);
    for (const a of r.candidates) {
      if (actions.has(a.id)) continue;
      const f = vector(a.features);
      if (f) denseAction = Math.max(denseAction ?? 0, f.length);
      actions.set(a.id, f ?? { ...((a.features ?? {}) as Record<string, number | string>) });
    }
    min = Math.min(min, r.reward);
    max = Math.max(max, r.reward);
  }
  return { denseContext, denseAction, rewards: data.rounds.length > 0 ? { min, max } : undefined, actions };
}

/** What estimates on this history can and cannot claim, in words for the operator. */
export function propensityStatement(s: Pick<ImportSummary, 'decisions' | 'withoutPropensity'>): string {
  if (s.decisions === 0) return 'nothing was imported.';
  if (s.withoutPropensity === 0) {
    return (
      `all ${s.decisions} decisions carry the logging policy's propensity: retraining can importance-weight them to ` +
      "correct the logger's skew, and off-policy estimates (IPS, SNIPS, DR) with intervals and the high-confidence " +
      'lower bound the promotion gate needs are available.'
    );
  }
  const share = ((100 * s.withoutPropensity) / s.decisions).toFixed(1);
  return (
    `${s.withoutPropensity} of ${s.decisions} decisions (${share}%) carry no propensity. For those, retraining ` +
    "cannot correct the logging policy's skew (they count with weight 1, as logged), and off-policy evaluation " +
    'cannot use them: IPS, SNIPS, DR and the HCOPE lower bound need the probability with which the logged action ' +
    "was chosen. Only the direct method (a reward model's prediction) applies to them, and it comes without an " +
    "interval: its bias towards the logger's choices cannot be measured. A model evaluated only on such decisions " +
    'cannot pass the promotion gate, which requires a lower bound.'
  );
}
