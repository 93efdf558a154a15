/**
 * A synthetic decision log in the lake format, with a known truth and a skewed, confounded logging policy: the test
 * bed of importance-weighted retraining and of the promotion gate, and the input of the offline-pass benchmark.
 *
 * The world: each decision's user has a hidden type u ∈ {0, 1} (equally likely) that the model never sees (it is not
 * in the context). Click probabilities:
 *
 *   action A: 0.6 for u = 0, 0.0 for u = 1   → value 0.30 under the real population
 *   action B: 0.6 for u = 0, 0.4 for u = 1   → value 0.50 (the best action)
 *   fillers:  0.1                            → value 0.10
 *
 * The logging policy knew u: it showed A to u = 0 and B to u = 1 with probability `skew`, and spread the rest evenly
 * over the other candidates, logging that probability as the propensity. Where A was shown its users were mostly of
 * type 0, so its mean logged reward is about 0.6 × skew; B's users were mostly of type 1. An unweighted fit therefore
 * ranks A above B (0.48 vs 0.44 at skew 0.8, with two actions); weighting each decision by (1/K) / propensity
 * restores the population each action would have met under uniform exploration (0.30 vs 0.50).
 */
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { createRng } from '../../shared/core/random.ts';

export const TRUE_VALUE: Readonly<Record<string, number>> = { A: 0.3, B: 0.5 };
const CLICK: Readonly<Record<string, readonly [number, number]>> = { A: [0.6, 0], B: [0.6, 0.4] };
const FILLER_CLICK = 0.1;

export interface SyntheticLogOptions {
  decisionPoint: string;
  /** First decision time (ms); decisions are spread evenly over `days` days from here. */
  startMs: number;
  days: number;
  perDay: number;
  contextDim: number;
  actionDim: number;
  /** Probability that the logger picks the action suiting the hidden type. */
  skew: number;
  /** Candidates per decision: A, B and K − 2 fillers. */
  candidates?: number;
  seed: number;
  /** Log propensities (false: imported history that never logged them; written as 0). */
  withPropensity?: boolean;
  attributionWindowSeconds?: number;
  /** Share of decisions written twice (the lake is at-least-once). */
  duplicateShare?: number;
}

const hex = (rng: { next(): number }) =>
  Math.floor(rng.next() * 2 ** 32)
    .toString(16)
    .padStart(8, '0');

export function syntheticActionIds(candidates = 2): string[] {
  return ['A', 'B', ...Array.from({ length: candidates - 2 }, (_, i) => `F${i}`)];
}

/** Catalog features of the synthetic actions (what the decision point's catalog should hold). */
export function syntheticActionFeatures(id: string): Record<string, string> {
  return { kind: id.startsWith('F') ? 'filler' : id };
}

/**
 * Yields the log hour by hour (ms of the hour start, JSON lines of its decision and event records), so a caller can
 * write a million decisions into the lake without holding them all.
 */
export function* syntheticLog(o: SyntheticLogOptions): Generator<{ hourStart: number; lines: string[] }> {
  const rng = createRng(o.seed);
  const ids = syntheticActionIds(o.candidates ?? 2);
  const k = ids.length;
  const features = ids.map((id) => Array.from(encodeFeatures(syntheticActionFeatures(id), o.actionDim)));
  const window = o.attributionWindowSeconds ?? 3600;
  const total = o.days * o.perDay;
  const spacing = (o.days * 86_400_000) / total;
  const devices = ['mobile', 'desktop', 'tablet'];
  let hour = Math.floor(o.startMs / 3_600_000) * 3_600_000;
  let lines: string[] = [];
  for (let n = 0; n < total; n++) {
    const at = Math.floor(o.startMs + n * spacing);
    while (at >= hour + 3_600_000) {
      if (lines.length > 0) yield { hourStart: hour, lines };
      lines = [];
      hour += 3_600_000;
    }
    const u = rng.next() < 0.5 ? 0 : 1;
    const preferred = u === 0 ? 0 : 1;
    let chosen: number;
    if (rng.next() < o.skew) chosen = preferred;
    else {
      chosen = rng.int(k - 1);
      if (chosen >= preferred) chosen++;
    }
    const propensity = chosen === preferred ? o.skew : (1 - o.skew) / (k - 1);
    const context = {
      device: devices[rng.int(3)] as string,
      region: `r${rng.int(5)}`,
      age: Math.round(rng.next() * 60 + 18),
      score: Math.round(rng.next() * 1e4) / 1e4,
    };
    // Random-looking ids, as the engine's UUIDs are (they are most of what a compressed log holds).
    const decisionId = `${hex(rng)}${hex(rng)}-${n.toString(36)}`;
    const userId = `u-${hex(rng)}`;
    const id = ids[chosen] as string;
    const record = {
      kind: 'decision',
      v: 1,
      decisionId,
      decisionPoint: o.decisionPoint,
      userId,
      at,
      context,
      x: Array.from(encodeFeatures(context, o.contextDim)),
      candidates: ids,
      chosen: [id],
      chosenFeatures: [features[chosen] as number[]],
      propensity: o.withPropensity === false ? 0 : propensity,
      modelVersion: 'logger',
      attributionWindowSeconds: window,
      rewards: {},
    };
    const line = JSON.stringify(record);
    lines.push(line);
    if (o.duplicateShare !== undefined && rng.next() < o.duplicateShare) lines.push(line);
    const p = CLICK[id]?.[u] ?? FILLER_CLICK;
    if (rng.next() < p) {
      const receivedAt = at + 1000 + rng.int(Math.floor((window * 1000) / 2));
      lines.push(
        JSON.stringify({
          kind: 'event',
          v: 1,
          event: { eventId: `e-${decisionId}`, userId, decisionId, type: 'click' },
          receivedAt,
        }),
      );
    }
  }
  if (lines.length > 0) yield { hourStart: hour, lines };
}
