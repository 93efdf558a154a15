/**
 * The request-path catalog filter: which candidates may be served to this request, right now. It applies, per
 * action, retirement, the schedule window (against the request's clock, so expiry is immediate), the eligibility rules
 * (on the request's context and the user's stage) and the new-action traffic cap (see `traffic-cap.ts` for why the
 * logged propensity stays exact).
 *
 * Everything that does not depend on the request is prepared once per serving model and cached by model identity, so a
 * request costs two comparisons per candidate plus its rules; when no action has a window, rules or a cap, the
 * candidates are returned as they are, without a pass or an allocation.
 */
import type { CatalogAction } from '../domain.ts';
import { type CompiledRule, compileRule, type RuleInput, rulesHold } from './eligibility.ts';
import { capAdmits, isNew } from './traffic-cap.ts';

/** What the filter needs of a serving model: action ids and impressions by index, and the catalog entries. */
export interface CatalogView {
  readonly posterior: { readonly ids: readonly string[]; readonly n: ArrayLike<number> };
  readonly catalog: ReadonlyMap<string, CatalogAction>;
}

export interface EligibilityRequest {
  context: RuleInput['context'];
  /** The user's lifecycle stage when the decision knows it; rules on `stage` treat undefined as absent. */
  stage?: string | undefined;
  /** The request's clock, milliseconds since the epoch. */
  now: number;
  /** Per-decision key of the traffic cap's hash (the decision id). */
  key: string;
}

/** Request-independent filter data, aligned with the posterior's action indexes. */
export interface PreparedCatalog {
  /** False when no action has a window, rules or an active cap (and none is retired): nothing to filter. */
  readonly filters: boolean;
  /** True when some live action has a rule on the user's stage, so the decision must look the stage up. */
  readonly readsStage: boolean;
  readonly retired: Uint8Array;
  /** Window bounds; −∞/+∞ when open. */
  readonly startsAt: Float64Array;
  readonly endsAt: Float64Array;
  readonly rules: (readonly CompiledRule[] | undefined)[];
  /** Share of decisions the action may be a candidate in: its cap while new, otherwise 1. */
  readonly capShare: Float64Array;
  readonly ids: readonly string[];
}

const cache = new WeakMap<CatalogView, PreparedCatalog>();

/** Prepares (once per model object) the request-independent part of the filter. */
export function prepareCatalog(view: CatalogView): PreparedCatalog {
  const hit = cache.get(view);
  if (hit) return hit;
  const ids = view.posterior.ids;
  const size = ids.length;
  const retired = new Uint8Array(size);
  const startsAt = new Float64Array(size).fill(Number.NEGATIVE_INFINITY);
  const endsAt = new Float64Array(size).fill(Number.POSITIVE_INFINITY);
  const rules: (readonly CompiledRule[] | undefined)[] = new Array(size).fill(undefined);
  const capShare = new Float64Array(size).fill(1);
  let filters = false;
  let readsStage = false;
  for (let i = 0; i < size; i++) {
    const a = view.catalog.get(ids[i]!);
    if (a?.status !== 'live') {
      retired[i] = 1;
      filters = true;
      continue;
    }
    if (a.startsAt !== undefined) startsAt[i] = a.startsAt;
    if (a.endsAt !== undefined) endsAt[i] = a.endsAt;
    if (a.eligibility && a.eligibility.length > 0) {
      try {
        rules[i] = a.eligibility.map(compileRule);
        if (rules[i]!.some((r) => r.onStage)) readsStage = true;
      } catch {
        // Rules are validated when written; one that cannot be compiled anyway fails closed: the action never serves.
        retired[i] = 1;
        filters = true;
        continue;
      }
    }
    const cap = a.trafficCapWhileNew;
    if (cap && cap.maxShare < 1 && isNew(cap, Number(view.posterior.n[i] ?? 0))) capShare[i] = cap.maxShare;
    if (a.startsAt !== undefined || a.endsAt !== undefined || rules[i] !== undefined || capShare[i]! < 1)
      filters = true;
  }
  const prepared: PreparedCatalog = { filters, readsStage, retired, startsAt, endsAt, rules, capShare, ids };
  cache.set(view, prepared);
  return prepared;
}

/** Whether a decision on this model needs the user's stage for the eligibility rules (cheap after the first call). */
export const readsStage = (view: CatalogView): boolean => prepareCatalog(view).readsStage;

/**
 * The candidates (indexes into the model's posterior) that may be served to this request: live, inside their schedule
 * window at `req.now`, whose every eligibility rule holds, and admitted by their traffic cap if new. Keeps the input
 * order. Returns `candidates` itself when nothing is filtered out, otherwise a new array.
 */
export function eligibleCandidates(view: CatalogView, candidates: Int32Array, req: EligibilityRequest): Int32Array {
  const p = prepareCatalog(view);
  if (!p.filters) return candidates;
  const now = req.now;
  let out: Int32Array | undefined;
  let kept = 0;
  for (let pos = 0; pos < candidates.length; pos++) {
    const i = candidates[pos]!;
    const ok =
      p.retired[i] === 0 &&
      now >= p.startsAt[i]! &&
      now < p.endsAt[i]! &&
      (p.rules[i] === undefined || rulesHold(p.rules[i]!, req)) &&
      (p.capShare[i] === 1 || capAdmits(req.key, p.ids[i]!, p.capShare[i]!));
    if (ok) {
      if (out) out[kept] = i;
      kept++;
    } else if (!out) {
      // First rejection: copy the accepted prefix, then keep appending.
      out = new Int32Array(candidates.length - 1);
      out.set(candidates.subarray(0, kept));
    }
  }
  return out ? out.subarray(0, kept) : candidates;
}

/**
 * Why one action (an index into the model's posterior) may not be served to this request, in words for the caller;
 * undefined when it may. The same checks as {@link eligibleCandidates}, in the same order; only for the error path.
 */
export function whyIneligible(view: CatalogView, i: number, req: EligibilityRequest): string | undefined {
  const p = prepareCatalog(view);
  const id = p.ids[i]!;
  const iso = (t: number) => new Date(t).toISOString();
  if (p.retired[i] !== 0) {
    return view.catalog.get(id)?.status === 'live' ? `${id}: its eligibility rules cannot be read` : `${id}: retired`;
  }
  if (req.now < p.startsAt[i]!) return `${id}: scheduled from ${iso(p.startsAt[i]!)}`;
  if (req.now >= p.endsAt[i]!) return `${id}: its schedule ended ${iso(p.endsAt[i]!)}`;
  if (p.rules[i] !== undefined && !rulesHold(p.rules[i]!, req))
    return `${id}: its eligibility rules exclude this request`;
  if (p.capShare[i] !== 1 && !capAdmits(req.key, id, p.capShare[i]!)) {
    return `${id}: new, and this request is outside its traffic cap (${p.capShare[i]} of requests)`;
  }
  return undefined;
}
