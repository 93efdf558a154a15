/**
 * Position effects: learning from every slot of a slate without penalising an action for having been shown lower
 * (issue 16, item 2).
 *
 * **Model** (the position-based click model of Craswell et al. 2008, "An experimental comparison of click
 * position-bias models", made linear): the reward of action a shown in slot j in context x has mean
 *
 *   E[r | x, a, j] = κ_j · xᵀw_a,
 *
 * where κ_j is slot j's examination ratio (the share of slot 1's attention slot j gets; κ_1 = 1) and xᵀw_a is what
 * the action earns in slot 1. With κ known, action a's slot-j observations are a least-squares problem in w_a with
 * features κ_j x, so the sums the posterior needs are
 *
 *   Sxx_a = Σ_j κ_j² Sxx_{a,j},   Sxr_a = Σ_j κ_j Sxr_{a,j},   n, Σr, Σr² summed as they are,
 *
 * and every slot's evidence lands in slot-1 units. The posterior, its scores and its propensities are therefore
 * those of slot 1, as before; κ_j multiplies every candidate of slot j alike, so it changes no ranking of any slot.
 * The statistics are stored per slot (additive, exactly once, as every statistics item); κ is estimated when a model
 * is built ({@link examinationRatios}) and applied by {@link collapseSlots}. A slot whose κ is 0 is left out whole.
 *
 * **Estimating κ** from the per-slot sums alone (alternating least squares), starting from κ = 1:
 *  1. w_a = (I + Σ_j κ_j² Sxx_{a,j})⁻¹ Σ_j κ_j Sxr_{a,j} for each action: a ridge fit of the action's own data;
 *  2. for j ≥ 2, κ̂_j = Σ_a w_aᵀSxr_{a,j} / Σ_a w_aᵀSxx_{a,j}w_a, the least-squares ratio of what slot j's actions
 *     earned to what the same actions would earn in slot 1 in the same contexts, then shrunk towards 1 by
 *     {@link EXAMINATION_PRIOR_OBSERVATIONS} pseudo-observations, κ_j = (n_j κ̂_j + P) / (n_j + P), and clamped to
 *     [{@link MIN_EXAMINATION}, {@link MAX_EXAMINATION}];
 * until no κ moves by more than 1e-4, at most 20 times. Step 2 compares each action with itself over the contexts it
 * was shown in, so it is not fooled by which actions a policy puts lower (the weaker ones): the raw click rate per
 * slot would be. It is unit-free (w scales with the reward, the ratio does not). With many actions only the
 * most-observed ones take part, as in the prior fit ({@link evidenceActionCap}), which bounds its cost by d.
 */
import { evidenceActionCap } from './hyperparameters.ts';
import { choleskyInPlace, choleskySolveInPlace, packedSize, quadFormPacked, unpackSymmetric } from './linalg.ts';
import { type ActionStats, cloneStats, emptyStats, mergeStats } from './stats.ts';

/** An action's statistics per slot: index j holds slot j + 1 (undefined: never shown there). */
export type SlotStats = readonly (ActionStats | undefined)[];

/** Pseudo-observations pulling a slot's examination ratio towards 1 (no position effect) while its data are few. */
export const EXAMINATION_PRIOR_OBSERVATIONS = 20;
export const MIN_EXAMINATION = 0.01;
export const MAX_EXAMINATION = 2;
const MAX_ITERATIONS = 20;
const TOLERANCE = 1e-4;

/** A rule giving each slot's examination ratio (slot 1 first) from the actions' per-slot statistics. */
export type PositionModel = (actions: readonly SlotStats[], d: number) => number[];

/** κ for slots 1 … (the most slots any action has), κ_1 = 1; [1] when no action was shown below slot 1. */
export function examinationRatios(actions: readonly SlotStats[], d: number): number[] {
  const slots = actions.reduce((m, a) => Math.max(m, a.length), 1);
  const kappa = new Array<number>(slots).fill(1);
  const observed = new Array<number>(slots).fill(0);
  for (const a of actions) for (let j = 0; j < a.length; j++) observed[j]! += a[j]?.n ?? 0;
  if (slots === 1 || observed.slice(1).every((n) => n === 0)) return [1];
  // The most-observed actions, as the prior fit bounds its own cost.
  const total = (a: SlotStats) => a.reduce((t, s) => t + (s?.n ?? 0), 0);
  const used = actions
    .filter((a) => total(a) > 0)
    .sort((p, q) => total(q) - total(p))
    .slice(0, evidenceActionCap(d));
  const a = new Float64Array(d * d);
  const w = new Float64Array(d);
  const merged = emptyStats(d);
  for (let it = 0; it < MAX_ITERATIONS; it++) {
    const num = new Array<number>(slots).fill(0);
    const den = new Array<number>(slots).fill(0);
    for (const stats of used) {
      collapseInto(merged, stats, kappa);
      unpackSymmetric(merged.sxx, d, a);
      for (let i = 0; i < d; i++) a[i * d + i]! += 1;
      w.set(merged.sxr);
      choleskySolveInPlace(choleskyInPlace(a, d), d, w);
      for (let j = 1; j < stats.length; j++) {
        const s = stats[j];
        if (!s || s.n === 0) continue;
        for (let i = 0; i < d; i++) num[j]! += w[i]! * s.sxr[i]!;
        den[j]! += quadFormPacked(s.sxx, d, w);
      }
    }
    let moved = 0;
    for (let j = 1; j < slots; j++) {
      const ratio = den[j]! > 0 ? num[j]! / den[j]! : 1;
      const n = observed[j]!;
      const next = Math.min(
        MAX_EXAMINATION,
        Math.max(MIN_EXAMINATION, (n * ratio + EXAMINATION_PRIOR_OBSERVATIONS) / (n + EXAMINATION_PRIOR_OBSERVATIONS)),
      );
      moved = Math.max(moved, Math.abs(next - kappa[j]!));
      kappa[j] = next;
    }
    if (moved < TOLERANCE) break;
  }
  return kappa;
}

/** Adds `stats` to slot `slot` (1 = the top) of an action's per-slot statistics. */
export function addToSlot(slots: (ActionStats | undefined)[], slot: number, stats: ActionStats): void {
  const into = slots[slot - 1];
  if (into) mergeStats(into, stats);
  else slots[slot - 1] = cloneStats(stats);
}

/** One action's statistics in slot-1 units: Σ_j κ_j² Sxx_j, Σ_j κ_j Sxr_j, and n, Σr, Σr² as they are. */
export function collapseSlots(stats: SlotStats, kappa: readonly number[], d: number): ActionStats {
  return collapseInto(emptyStats(d), stats, kappa);
}

function collapseInto(into: ActionStats, stats: SlotStats, kappa: readonly number[]): ActionStats {
  into.n = 0;
  into.sumR = 0;
  into.sumR2 = 0;
  into.sxx.fill(0);
  into.sxr.fill(0);
  const size = packedSize(into.sxr.length);
  for (let j = 0; j < stats.length; j++) {
    const s = stats[j];
    const k = kappa[j] ?? kappa[kappa.length - 1]!;
    if (!s || k === 0) continue;
    if (k === 1) {
      mergeStats(into, s);
      continue;
    }
    into.n += s.n;
    into.sumR += s.sumR;
    into.sumR2 += s.sumR2;
    for (let i = 0; i < size; i++) into.sxx[i]! += k * k * s.sxx[i]!;
    for (let i = 0; i < s.sxr.length; i++) into.sxr[i]! += k * s.sxr[i]!;
  }
  return into;
}

/**
 * Statistics per objective, action and slot, summed as they arrive, then collapsed into slot-1 units per objective
 * with the examination ratios of one objective's statistics (the global policy's: the position effect belongs to
 * the page, not to an objective). What every reader that builds a posterior from stored statistics goes through.
 */
export class SlotStatsTable {
  private readonly cells = new Map<string, Map<string, (ActionStats | undefined)[]>>();

  constructor(private readonly d: number) {}

  /** Adds `stats` of `actionId` shown in `slot` (1 = the top) to `objective`'s table; other dimensions are skipped. */
  add(objective: string, actionId: string, slot: number, stats: ActionStats): void {
    if (stats.sxr.length !== this.d) return;
    let table = this.cells.get(objective);
    if (!table) {
      table = new Map();
      this.cells.set(objective, table);
    }
    let slots = table.get(actionId);
    if (!slots) {
      slots = [];
      table.set(actionId, slots);
    }
    addToSlot(slots, slot, stats);
  }

  /** Every objective's statistics in slot-1 units, and the examination ratios used (from `examinationFrom`). */
  collapse(examinationFrom: string): { stats: Map<string, Map<string, ActionStats>>; examination: number[] } {
    const examination = examinationRatios([...(this.cells.get(examinationFrom)?.values() ?? [])], this.d);
    const stats = new Map<string, Map<string, ActionStats>>();
    for (const [objective, table] of this.cells) {
      stats.set(objective, new Map([...table].map(([id, slots]) => [id, collapseSlots(slots, examination, this.d)])));
    }
    return { stats, examination };
  }
}
