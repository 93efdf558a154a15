import { createRng } from '../random.ts';
import { InvalidOptionError } from './errors.ts';
import type { Candidate, LoggedData, Round, TargetPolicy } from './types.ts';

export interface SimulationOptions {
  readonly rounds: number;
  readonly dim?: number;
  readonly actions?: number;
  /** Distinct contexts the rounds are drawn from (uniformly); a finite pool makes the true value exact. */
  readonly contextPool?: number;
  /** Every logging propensity is at least this (must be < 1/actions). */
  readonly propensityFloor?: number;
  readonly seed?: number;
}

export interface SimulatedLog {
  readonly data: LoggedData;
  /** A greedy-ish softmax over the true click rates, unlike the logger. */
  readonly target: TargetPolicy;
  /** The target's exact expected reward over the context pool. */
  readonly trueValue: number;
  /** The logging policy's exact expected reward. */
  readonly loggingValue: number;
}

function softmaxInto(logits: Float64Array, k: number, out: Float64Array): void {
  let mx = Number.NEGATIVE_INFINITY;
  for (let a = 0; a < k; a++) mx = Math.max(mx, logits[a]!);
  let s = 0;
  for (let a = 0; a < k; a++) {
    const e = Math.exp(logits[a]! - mx);
    out[a] = e;
    s += e;
  }
  for (let a = 0; a < k; a++) out[a] = out[a]! / s;
}

/**
 * A synthetic logged bandit problem with a known answer, for coverage tests and benchmarks. Rewards are Bernoulli
 * with a logistic click rate in the context; the logger is a softmax over preferences unrelated to reward, mixed with
 * a uniform floor so every propensity is ≥ `propensityFloor`; the target is a softmax over the true click rates.
 * Deterministic given `seed`.
 */
export function simulateLog(options: SimulationOptions): SimulatedLog {
  const n = options.rounds;
  const d = options.dim ?? 5;
  const k = options.actions ?? 5;
  const poolSize = options.contextPool ?? 64;
  const floor = options.propensityFloor ?? 0.02;
  if (!(floor >= 0 && floor * k < 1))
    throw new InvalidOptionError(`propensityFloor ${floor} must be in [0, 1/actions)`);
  const rng = createRng(options.seed ?? 1);
  // The problem (click model, logger, contexts) is fixed by a seed of its own so that logs from different seeds
  // share one true value; only the sampling of rounds varies with `seed`.
  const world = createRng(0x0bd_5eed ^ (d * 131 + k));
  const theta = Float64Array.from({ length: k * d }, () => (1.2 * world.normal()) / Math.sqrt(d));
  const bias = Float64Array.from({ length: k }, () => -1.5 + 0.8 * world.normal());
  const pref = Float64Array.from({ length: k * d }, () => world.normal() / Math.sqrt(d));
  const prefBias = Float64Array.from({ length: k }, () => 1.5 * world.normal());
  const pool = Array.from({ length: poolSize }, () => Float64Array.from({ length: d }, () => world.normal()));
  const candidates: Candidate[] = Array.from({ length: k }, (_, a) => ({ id: `a${a}` }));
  const logits = new Float64Array(k);

  const clickRates = (x: Float64Array, out: Float64Array): void => {
    for (let a = 0; a < k; a++) {
      let s = bias[a]!;
      for (let j = 0; j < d; j++) s += theta[a * d + j]! * x[j]!;
      out[a] = 1 / (1 + Math.exp(-s));
    }
  };
  const target: TargetPolicy = {
    name: 'simulated-target',
    distribution(round, out) {
      clickRates(round.context as Float64Array, logits);
      for (let a = 0; a < k; a++) logits[a] = 8 * logits[a]!;
      softmaxInto(logits, k, out);
    },
  };
  const logging = (x: Float64Array, out: Float64Array): void => {
    for (let a = 0; a < k; a++) {
      let s = prefBias[a]!;
      for (let j = 0; j < d; j++) s += pref[a * d + j]! * x[j]!;
      logits[a] = s;
    }
    softmaxInto(logits, k, out);
    for (let a = 0; a < k; a++) out[a] = floor + (1 - floor * k) * out[a]!;
  };

  const rates = new Float64Array(k);
  const probs = new Float64Array(k);
  let trueValue = 0;
  let loggingValue = 0;
  for (const x of pool) {
    clickRates(x, rates);
    const stub: Round = { context: x, candidates, chosenIndex: 0, reward: 0 };
    target.distribution(stub, probs);
    for (let a = 0; a < k; a++) trueValue += (probs[a]! * rates[a]!) / poolSize;
    logging(x, probs);
    for (let a = 0; a < k; a++) loggingValue += (probs[a]! * rates[a]!) / poolSize;
  }

  const rounds: Round[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const x = pool[rng.int(poolSize)]!;
    logging(x, probs);
    let u = rng.next();
    let a = 0;
    while (a < k - 1 && u >= probs[a]!) {
      u -= probs[a]!;
      a++;
    }
    clickRates(x, rates);
    rounds[i] = {
      context: x,
      candidates,
      chosenIndex: a,
      propensity: probs[a]!,
      reward: rng.next() < rates[a]! ? 1 : 0,
    };
  }
  return { data: { rounds, rewardRange: { min: 0, max: 1 } }, target, trueValue, loggingValue };
}
