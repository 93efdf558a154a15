/**
 * A stored offline model as an evaluation target (`npm run evaluate -- --target model:VERSION`): the model's base
 * statistics of every objective (no online statistics) under the decision point's priors and catalog, served the way
 * the engine serves, i.e. the decision point's serving policy (core/policy/serving-policy.ts: the global posterior,
 * the weighted combination or the intent-selected objective, Thompson sampling with its exploration settings, and the
 * Thompson scale promoted with that version where the settings leave the scale out), as the promotion gate evaluates
 * it. `model:active` names the active model.
 *
 * A logged round's context is encoded with the engine's rule (`encodeFeatures`): named features are hashed, a dense
 * vector keeps its positions after the bias, exactly as `npm run import` encodes history.
 */

import { DEFAULT_OBJECTIVE } from '../../core/domain.ts';
import { TargetUnavailableError } from '../../core/evaluation/errors.ts';
import type { Round, TargetPolicy } from '../../core/evaluation/types.ts';
import { encodeFeatures } from '../../core/features/encode.ts';
import { compoundEventObjectives } from '../../core/feedback/reward.ts';
import type { StateStore } from '../../core/ports.ts';
import { baseStatsByObjective, servingModelOf, servingSettings, servingTargetPolicy } from './evaluate.ts';

export async function loadModelPolicy(
  state: StateStore,
  decisionPoint: string,
  version: string,
): Promise<TargetPolicy> {
  const changes = await state.loadChanges(decisionPoint, 0);
  const dp = changes.decisionPoint;
  if (!dp) throw new TargetUnavailableError(`decision point ${decisionPoint} does not exist`);
  const wanted = version === 'active' ? changes.activeModel?.version : version;
  if (wanted === undefined) throw new TargetUnavailableError(`decision point ${decisionPoint} has no active model`);
  const stats = baseStatsByObjective(changes.baseStats, wanted);
  const global = stats.get(DEFAULT_OBJECTIVE);
  if (!global) throw new TargetUnavailableError(`decision point ${decisionPoint} has no model ${wanted}`);
  const s = dp.settings;
  const run = {
    contextDim: s.contextDim,
    actionDim: s.actionDim,
    priors: s.priors,
    objectives: s.objectives,
    compoundEvents: compoundEventObjectives(s),
    exploration: s.exploration,
  };
  // The scale promoted with that version serves it where the settings leave the scale out (as in the model cache).
  const active = changes.activeModel;
  const promoted = [active, ...(active?.history ?? [])].find((m) => m?.version === wanted)?.settings;
  const known = new Map(changes.actions.map((a) => [a.actionId, encodeFeatures(a.features, s.actionDim)]));
  const build = (ids: Iterable<string>) => {
    for (const id of ids) if (!known.has(id)) known.set(id, encodeFeatures({}, s.actionDim));
    const actions = [...known].sort((p, q) => (p[0] < q[0] ? -1 : 1)).map(([id, features]) => ({ id, features }));
    const model = servingModelOf(run, actions, stats);
    return servingTargetPolicy(
      `model:${wanted}`,
      promoted?.scale === undefined ? model : { ...model, learned: { scale: promoted.scale } },
      servingSettings(s),
    );
  };
  let inner = build(global.keys());
  const x = new Float64Array(s.contextDim);
  const encoded = (round: Round): Round => {
    // An action of the log the catalog never had: scored from its features alone (bias only), as a cold action.
    if (round.candidates.some((c) => !known.has(c.id))) inner = build(round.candidates.map((c) => c.id));
    const ctx = round.context;
    encodeFeatures(ctx instanceof Float64Array ? Array.from(ctx) : ctx, s.contextDim, x);
    return { ...round, context: x };
  };
  return {
    name: `model:${wanted}`,
    distribution(round: Round, out: Float64Array) {
      inner.distribution(encoded(round), out);
    },
    nextSlot(round: Round, above: readonly number[], out: Float64Array) {
      const r = encoded(round);
      inner.nextSlot!(r, above, out);
    },
  };
}
