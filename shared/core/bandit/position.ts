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
 * is built ({@link examinationRatios}) and applied by {@link collapseSlots}, through {@link SlotStatsTable}, which
 * every reader that builds a posterior from stored statistics uses. A slot whose κ is 0 is left out whole.
 *
 * **Estimating κ** from the per-slot sums alone, by alternating least squares on the working model
 * f(x, a) = α_a + x̃ᵀβ (an intercept per action, context effects shared by all actions; x̃ is the context without its
 * bias entry, slot 0 of every encoded context), starting from κ = 1:
 *  1. given κ, α and β minimise Σ_j Σ_{(x,a,r) in slot j} (r − κ_j f(x, a))², solved with the Schur complement on α
 *     (K + d − 1 unknowns, a tiny ridge keeping it defined);
 *  2. given α and β, for j ≥ 2, κ̂_j = Σ f·r / Σ f² over slot j's observations, the least-squares ratio of what slot
 *     j's actions earned to what the same actions would earn in slot 1 in the same contexts, then shrunk towards 1 by
 *     {@link EXAMINATION_PRIOR_OBSERVATIONS} pseudo-observations, κ_j = (n_j κ̂_j + P) / (n_j + P), and clamped to
 *     [{@link MIN_EXAMINATION}, {@link MAX_EXAMINATION}];
 * until no κ moves by more than 1e-4, at most 20 times. Step 2 compares each action with itself (its own intercept),
 * so it is not fooled by which actions a policy puts lower (the weaker ones): the raw click rate per slot would be.
 * Why this working model and not each action's full regression: that one has K·d parameters, overfits once an action
 * has fewer observations than d (κ̂ 1.96 for a true 0.5 at d = 64 with 60 observations per action) and lets
 * near-greedy placement bias κ̂ up; this one costs O(K·L·d + K·d² + d³) per iteration. It is unit-free (f scales with
 * the reward, the ratio does not).
 */
import { choleskyInPlace, choleskySolveInPlace, packedSize, unpackSymmetric } from './linalg.ts';
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
  const observed = new Array<number>(slots).fill(0);
  for (const a of actions) for (let j = 0; j < a.length; j++) observed[j]! += a[j]?.n ?? 0;
  if (slots === 1 || observed.slice(1).every((n) => n === 0)) return [1];
  const used = actions.filter((a) => a.some((s) => s !== undefined && s.n > 0));
  const K = used.length;
  const p = d - 1;
  // Fixed sums, read once: per action and slot, n, Σr and Σx̃ (x̃: the context without its bias entry); per slot,
  // Σ_a Σx̃x̃ᵀ and Σ_a Σx̃r. Each iteration then costs O(K·L·p + K·p² + p³).
  const n = new Float64Array(K * slots);
  const sr = new Float64Array(K * slots);
  const sx = new Float64Array(K * slots * p);
  const sxx = Array.from({ length: slots }, () => new Float64Array(p * p));
  const sxr = Array.from({ length: slots }, () => new Float64Array(p));
  const full = new Float64Array(d * d);
  used.forEach((stats, a) => {
    for (let j = 0; j < stats.length; j++) {
      const st = stats[j];
      if (!st || st.n === 0) continue;
      unpackSymmetric(st.sxx, d, full);
      n[a * slots + j] = full[0]!;
      sr[a * slots + j] = st.sxr[0]!;
      for (let u = 0; u < p; u++) {
        sx[(a * slots + j) * p + u] = full[1 + u]!;
        sxr[j]![u]! += st.sxr[1 + u]!;
        for (let v = 0; v < p; v++) sxx[j]![u * p + v]! += full[(1 + u) * d + 1 + v]!;
      }
    }
  });
  const kappa = new Array<number>(slots).fill(1);
  const alpha = new Float64Array(K);
  const beta = new Float64Array(p);
  const m = new Float64Array(p * p);
  const c = new Float64Array(p);
  const s = new Float64Array(p);
  const nA = new Float64Array(K);
  const bA = new Float64Array(K);
  const sA = new Float64Array(K * p);
  for (let it = 0; it < MAX_ITERATIONS; it++) {
    // 1. Given κ: least squares for α (per action) and β (shared), via the Schur complement on α.
    m.fill(0);
    c.fill(0);
    for (let j = 0; j < slots; j++) {
      const k2 = kappa[j]! * kappa[j]!;
      for (let i = 0; i < p * p; i++) m[i]! += k2 * sxx[j]![i]!;
      for (let u = 0; u < p; u++) c[u]! += kappa[j]! * sxr[j]![u]!;
    }
    for (let u = 0; u < p; u++) m[u * p + u]! += RIDGE;
    for (let a = 0; a < K; a++) {
      s.fill(0);
      let na = 0;
      let ba = 0;
      for (let j = 0; j < slots; j++) {
        const k = kappa[j]!;
        na += k * k * n[a * slots + j]!;
        ba += k * sr[a * slots + j]!;
        for (let u = 0; u < p; u++) s[u]! += k * k * sx[(a * slots + j) * p + u]!;
      }
      na += RIDGE;
      nA[a] = na;
      bA[a] = ba;
      sA.set(s, a * p);
      for (let u = 0; u < p; u++) {
        c[u]! -= (s[u]! * ba) / na;
        for (let v = 0; v < p; v++) m[u * p + v]! -= (s[u]! * s[v]!) / na;
      }
    }
    beta.set(c);
    if (p > 0) choleskySolveInPlace(choleskyInPlace(m, p), p, beta);
    for (let a = 0; a < K; a++) {
      let sb = 0;
      for (let u = 0; u < p; u++) sb += sA[a * p + u]! * beta[u]!;
      alpha[a] = (bA[a]! - sb) / nA[a]!;
    }
    // 2. Given α and β: each lower slot's least-squares ratio, shrunk towards 1 and clamped.
    let moved = 0;
    for (let j = 1; j < slots; j++) {
      let num = 0;
      let den = 0;
      for (let u = 0; u < p; u++) num += beta[u]! * sxr[j]![u]!;
      den += quadFull(sxx[j]!, p, beta);
      for (let a = 0; a < K; a++) {
        const at = a * slots + j;
        if (n[at] === 0) continue;
        let xb = 0;
        for (let u = 0; u < p; u++) xb += sx[at * p + u]! * beta[u]!;
        num += alpha[a]! * sr[at]!;
        den += alpha[a]! * alpha[a]! * n[at]! + 2 * alpha[a]! * xb;
      }
      const ratio = den > 0 ? num / den : 1;
      const o = observed[j]!;
      const next = Math.min(
        MAX_EXAMINATION,
        Math.max(MIN_EXAMINATION, (o * ratio + EXAMINATION_PRIOR_OBSERVATIONS) / (o + EXAMINATION_PRIOR_OBSERVATIONS)),
      );
      moved = Math.max(moved, Math.abs(next - kappa[j]!));
      kappa[j] = next;
    }
    if (moved < TOLERANCE) break;
  }
  return kappa;
}

/** A tiny ridge keeping the least squares of step 1 defined when an action or a context entry has no variation. */
const RIDGE = 1e-6;

function quadFull(a: Float64Array, p: number, x: Float64Array): number {
  let q = 0;
  for (let u = 0; u < p; u++) {
    let row = 0;
    for (let v = 0; v < p; v++) row += a[u * p + v]! * x[v]!;
    q += x[u]! * row;
  }
  return q;
}

/** Adds `stats` to slot `slot` (1 = the top) of an action's per-slot statistics. */
function addToSlot(slots: (ActionStats | undefined)[], slot: number, stats: ActionStats): void {
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

  /**
   * Every objective's statistics in slot-1 units, and the examination ratios used: `positionModel`'s (the engine's
   * estimate unless an experiment passes another rule) from `examinationFrom`'s statistics.
   */
  collapse(
    examinationFrom: string,
    positionModel: PositionModel = examinationRatios,
  ): { stats: Map<string, Map<string, ActionStats>>; examination: number[] } {
    const examination = positionModel([...(this.cells.get(examinationFrom)?.values() ?? [])], this.d);
    const stats = new Map<string, Map<string, ActionStats>>();
    for (const [objective, table] of this.cells) {
      // An action seen in slot 1 only (every action of a one-slot decision point) is in slot-1 units already.
      const inSlotOne = (slots: SlotStats) =>
        slots.length === 1 && slots[0] ? slots[0] : collapseSlots(slots, examination, this.d);
      stats.set(objective, new Map([...table].map(([id, slots]) => [id, inSlotOne(slots)])));
    }
    return { stats, examination };
  }
}
