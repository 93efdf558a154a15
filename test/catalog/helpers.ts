/** Builders shared by the catalog tests: catalog actions and a serving-model-shaped view over a real posterior. */
import { buildPosterior, DEFAULT_PRIORS, type HybridPosterior } from '../../shared/core/bandit/posterior.ts';
import type { ActionStats } from '../../shared/core/bandit/stats.ts';
import type { CatalogView } from '../../shared/core/catalog/eligible.ts';
import type { CatalogAction } from '../../shared/core/domain.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';

export function action(actionId: string, extra: Partial<CatalogAction> = {}): CatalogAction {
  return {
    decisionPoint: 'dp',
    actionId,
    features: {},
    status: 'live',
    createdAt: 0,
    updatedAt: 0,
    version: 1,
    ...extra,
  };
}

export interface TestView extends CatalogView {
  posterior: HybridPosterior;
}

/** A view with a real hybrid posterior (d = 4, m = 4), actions in the given order, optional statistics per id. */
export function view(actions: CatalogAction[], stats: Record<string, ActionStats> = {}, d = 4, m = 4): TestView {
  const posterior = buildPosterior(
    { d, m },
    DEFAULT_PRIORS,
    actions.map((a) => ({ id: a.actionId, features: encodeFeatures(a.features, m), stats: stats[a.actionId] })),
  );
  return { posterior, catalog: new Map(actions.map((a) => [a.actionId, a])) };
}

export const all = (v: CatalogView) => Int32Array.from(v.posterior.ids, (_, i) => i);
export const idsOf = (v: CatalogView, idx: Int32Array) => Array.from(idx, (i) => v.posterior.ids[i]);
