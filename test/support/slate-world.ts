/**
 * A multi-slot world with position bias whose values are known exactly, for slate evaluation tests.
 *
 * - Contexts: a pool of `contexts` vectors in R^4, drawn uniformly.
 * - Clicks follow a position-based model: slot j's action a is clicked with probability κ_j · ρ(x, a), with
 *   ρ(x, a) = sigmoid(xᵀθ_a) the action's relevance and κ = `examination` (slot 1 first).
 * - Policies fill the slots top down, each slot by a softmax over the candidates left: the logger over preferences
 *   unrelated to relevance, mixed with a uniform share so every propensity stays away from 0; the target over the
 *   true relevance at a temperature, so it differs from the logger.
 * - A policy's exact whole-page value enumerates every ordered slate: Σ_s π(s | x) Σ_j κ_j ρ(x, s_j), averaged over
 *   the pool. Nothing here uses the estimators under test.
 */
import type { Round, SlateRound, TargetPolicy } from '../../shared/core/evaluation/index.ts';
import { createRng, type Rng } from '../../shared/core/random.ts';

export interface SlateWorld {
  readonly actions: number;
  readonly slots: number;
  readonly examination: readonly number[];
  readonly contexts: Float64Array[];
  relevance(x: Float64Array, a: number): number;
  /** Conditional probabilities of a policy over `left` (candidate indices) for context x. */
  readonly logger: (x: Float64Array, left: readonly number[]) => number[];
  readonly target: (x: Float64Array, left: readonly number[]) => number[];
}

/** The target's softmax temperature over relevance: sharp enough to differ from the logger by ≈ 0.35 per page. */
const TEMPERATURE = 0.3;
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

function softmax(logits: number[]): number[] {
  const m = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

export function slateWorld(options: { actions?: number; slots?: number; examination?: number[]; seed?: number } = {}) {
  const K = options.actions ?? 6;
  const L = options.slots ?? 3;
  const examination = options.examination ?? [1, 0.6, 0.35];
  const rng = createRng(options.seed ?? 7);
  const contexts = Array.from({ length: 32 }, () => Float64Array.from({ length: 4 }, () => rng.normal()));
  const theta = Array.from({ length: K }, () => Float64Array.from({ length: 4 }, () => rng.normal() * 1.2));
  const pref = Array.from({ length: K }, () => Float64Array.from({ length: 4 }, () => rng.normal()));
  const dot = (x: Float64Array, w: Float64Array) => x.reduce((s, v, i) => s + v * w[i]!, 0);
  const relevance = (x: Float64Array, a: number) => sigmoid(dot(x, theta[a]!) - 0.5);
  const world: SlateWorld = {
    actions: K,
    slots: L,
    examination,
    contexts,
    relevance,
    logger: (x, left) => {
      const p = softmax(left.map((a) => dot(x, pref[a]!)));
      return p.map((v) => 0.7 * v + 0.3 / left.length);
    },
    target: (x, left) => softmax(left.map((a) => relevance(x, a) / TEMPERATURE)),
  };
  return world;
}

/** The exact whole-page value of a policy: every ordered slate enumerated, averaged over the context pool. */
export function exactValue(world: SlateWorld, policy: SlateWorld['logger']): number {
  let total = 0;
  for (const x of world.contexts) {
    const walk = (left: number[], j: number, prob: number): number => {
      if (j === world.slots) return 0;
      const p = policy(x, left);
      let v = 0;
      left.forEach((a, i) => {
        const q = prob * p[i]!;
        v += q * world.examination[j]! * world.relevance(x, a);
        v += walk(
          left.filter((b) => b !== a),
          j + 1,
          q,
        );
      });
      return v;
    };
    total += walk(
      Array.from({ length: world.actions }, (_, a) => a),
      0,
      1,
    );
  }
  return total / world.contexts.length;
}

/** n slates logged by the world's logger, each slot's click drawn from the position-based model. */
export function logSlates(world: SlateWorld, n: number, rng: Rng): SlateRound[] {
  const candidates = Array.from({ length: world.actions }, (_, a) => ({ id: `a${a}` }));
  const rounds: SlateRound[] = [];
  for (let i = 0; i < n; i++) {
    const x = world.contexts[rng.int(world.contexts.length)]!;
    let left = candidates.map((_, a) => a);
    const chosen: number[] = [];
    const propensities: number[] = [];
    const rewards: number[] = [];
    for (let j = 0; j < world.slots; j++) {
      const p = world.logger(x, left);
      let u = rng.next();
      let k = 0;
      while (k < left.length - 1 && u >= p[k]!) u -= p[k++]!;
      const a = left[k]!;
      chosen.push(a);
      propensities.push(p[k]!);
      rewards.push(rng.next() < world.examination[j]! * world.relevance(x, a) ? 1 : 0);
      left = left.filter((b) => b !== a);
    }
    rounds.push({ context: x, candidates, chosen, propensities, rewards });
  }
  return rounds;
}

/** A world policy as the evaluation's target: its distribution over a round's candidates (those left). */
export function asTarget(policy: SlateWorld['target'], name = 'world-target'): TargetPolicy {
  return {
    name,
    distribution(round: Round, out: Float64Array) {
      const left = round.candidates.map((c) => Number(c.id.slice(1)));
      const p = policy(round.context as Float64Array, left);
      for (let i = 0; i < left.length; i++) out[i] = p[i]!;
    },
  };
}
