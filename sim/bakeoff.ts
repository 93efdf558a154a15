/**
 * Classification data as a contextual bandit, by the method of the contextual bandit bake-off (Bietti, Agarwal and
 * Langford, "A Contextual Bandit Bake-off", JMLR 22, 2021; arXiv 1802.04064): each example is one round, the actions
 * are the classes, the context is the example's features, and the reward is 1 when the chosen class is the example's
 * label, else 0. The examples are shuffled (each pass with its own seeded permutation) and may be played for several
 * passes, so a small data set gives a horizon long enough to learn on.
 *
 * Rounds carry `expected` equal to `rewards` (the label is the truth), so the simulator's oracle is 1 (always the
 * label) and its uniform line is exactly 1/K. Classes are actions with no features of their own (an empty dense
 * array: the bias alone), so `actionDim: 1` fits them and a hybrid model's shared part reduces to a context model
 * common to all classes; what tells classes apart is each action's own coefficients.
 */
import { createRng } from '../shared/core/random.ts';
import { SimOptionError } from './errors.ts';
import type { OnlineRound } from './formats.ts';

export interface LabelledExample {
  readonly features: readonly number[];
  /** Index into {@link ClassificationData.classes}. */
  readonly label: number;
}

export interface ClassificationData {
  readonly name: string;
  readonly classes: readonly string[];
  readonly examples: readonly LabelledExample[];
}

export interface BakeoffOptions {
  /** Seeds the shuffle of every pass. */
  readonly seed: number;
  /** Passes over the data (default 1). */
  readonly passes?: number;
}

/** Rescales every feature to mean 0 and standard deviation 1 over the data set (constant features become 0). */
export function standardize(data: ClassificationData): ClassificationData {
  const p = data.examples[0]?.features.length ?? 0;
  const mean = new Float64Array(p);
  const sd = new Float64Array(p);
  const n = data.examples.length;
  for (const e of data.examples)
    for (let j = 0; j < p; j++) mean[j] = (mean[j] as number) + (e.features[j] as number) / n;
  for (const e of data.examples) {
    for (let j = 0; j < p; j++) sd[j] = (sd[j] as number) + ((e.features[j] as number) - (mean[j] as number)) ** 2 / n;
  }
  for (let j = 0; j < p; j++) sd[j] = Math.sqrt(sd[j] as number);
  return {
    ...data,
    examples: data.examples.map((e) => ({
      label: e.label,
      features: e.features.map((v, j) => {
        const s = sd[j] as number;
        return s > 0 ? Math.round(((v - (mean[j] as number)) / s) * 1e6) / 1e6 : 0;
      }),
    })),
  };
}

/** The action id of class `c` (ids are stable, whatever the class name's characters). */
export function classActionId(data: ClassificationData, c: number): string {
  return `class-${c}-${data.classes[c]}`;
}

/** The bandit rounds of a classification data set (see the module documentation). Deterministic in the seed. */
export function bakeoffRounds(data: ClassificationData, options: BakeoffOptions): OnlineRound[] {
  const passes = options.passes ?? 1;
  if (!Number.isSafeInteger(passes) || passes < 1) throw new SimOptionError(`passes must be an integer >= 1`);
  const K = data.classes.length;
  if (K < 2) throw new SimOptionError(`${data.name}: a bandit needs at least 2 classes, got ${K}`);
  const p = data.examples[0]?.features.length;
  if (p === undefined) throw new SimOptionError(`${data.name}: no examples`);
  data.examples.forEach((e, i) => {
    if (e.features.length !== p)
      throw new SimOptionError(`${data.name}: example ${i} has ${e.features.length} features, not ${p}`);
    if (!Number.isInteger(e.label) || e.label < 0 || e.label >= K)
      throw new SimOptionError(`${data.name}: example ${i} has label ${e.label}, not a class index below ${K}`);
  });
  const ids = data.classes.map((_, c) => classActionId(data, c));
  const rounds: OnlineRound[] = [];
  const order = data.examples.map((_, i) => i);
  for (let pass = 0; pass < passes; pass++) {
    const rng = createRng(`bakeoff-${data.name}-${options.seed}-${pass}`);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const tmp = order[i] as number;
      order[i] = order[j] as number;
      order[j] = tmp;
    }
    for (const i of order) {
      const e = data.examples[i] as LabelledExample;
      const rewards: Record<string, number> = {};
      for (let c = 0; c < K; c++) rewards[ids[c] as string] = c === e.label ? 1 : 0;
      rounds.push({
        t: rounds.length,
        context: [...e.features],
        // Features are given once, at an action's first sight, as the simulator's format has it.
        actions: ids.map((id) => (rounds.length === 0 ? { id, features: [] } : { id })),
        rewards,
        expected: rewards,
      });
    }
  }
  return rounds;
}
