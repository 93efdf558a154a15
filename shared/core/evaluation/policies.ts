import { InvalidTargetSpecError, TargetUnavailableError } from './errors.ts';
import type { ActionId, Round, TargetPolicy } from './types.ts';

/**
 * Every candidate equally likely. With positions (OBD) the round is one slot, so this is 1/n_items at the logged
 * position, which is what the OBD random logger did.
 */
export const uniformPolicy: TargetPolicy = {
  name: 'uniform',
  distribution(round, out) {
    const k = round.candidates.length;
    for (let i = 0; i < k; i++) out[i] = 1 / k;
  },
};

/**
 * The logging policy itself, as far as the log reveals it: the chosen action gets its logged propensity (importance
 * weight exactly 1, so IPS and SNIPS reduce to the on-policy mean reward) and the remaining mass is spread evenly
 * over the other candidates, because the log does not say how the logger split it. DM and DR for this target are
 * therefore approximations; it exists as a sanity check of the pipeline, not as a policy to deploy.
 * Without a logged propensity the chosen action gets all the mass (the logged behaviour as realised).
 */
export const loggingPolicy: TargetPolicy = {
  name: 'logging',
  distribution(round, out) {
    const k = round.candidates.length;
    const p = round.propensity;
    const chosenMass = p !== undefined && p > 0 && k > 1 ? p : 1;
    const rest = k > 1 ? (1 - chosenMass) / (k - 1) : 0;
    for (let i = 0; i < k; i++) out[i] = i === round.chosenIndex ? chosenMass : rest;
  },
};

/** Adapts a per-action probability function π(a | round) to the buffer-filling interface. */
export function policyFromFunction(
  name: string,
  probability: (round: Round, actionId: ActionId) => number,
): TargetPolicy {
  return {
    name,
    distribution(round, out) {
      const cs = round.candidates;
      for (let i = 0; i < cs.length; i++) out[i] = probability(round, cs[i]!.id);
    },
  };
}

/** Adapts a policy that returns a whole distribution as a Map; candidates absent from the map get 0. */
export function policyFromProbabilities(
  name: string,
  probabilities: (round: Round) => ReadonlyMap<ActionId, number>,
): TargetPolicy {
  return {
    name,
    distribution(round, out) {
      const m = probabilities(round);
      const cs = round.candidates;
      for (let i = 0; i < cs.length; i++) out[i] = m.get(cs[i]!.id) ?? 0;
    },
  };
}

export type TargetSpec = { kind: 'uniform' } | { kind: 'logging' } | { kind: 'model'; version: string };

const MODEL_VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Parses `uniform`, `logging` or `model:VERSION`. */
export function parseTargetSpec(text: string): TargetSpec {
  if (text === 'uniform' || text === 'logging') return { kind: text };
  if (text.startsWith('model:')) {
    const version = text.slice('model:'.length);
    if (!MODEL_VERSION.test(version)) {
      throw new InvalidTargetSpecError(
        `target "${text}": model version must be 1-128 characters of letters, digits, ".", "_" or "-"`,
      );
    }
    return { kind: 'model', version };
  }
  throw new InvalidTargetSpecError(`unknown target "${text}": expected uniform, logging or model:VERSION`);
}

/** Loads the engine's policy for a model version; supplied by whoever assembles the engine. */
export type ModelPolicyResolver = (version: string) => TargetPolicy;

/**
 * Turns a parsed spec into a policy. Model targets go through `resolveModel`, which only a process holding the
 * engine's state can provide; without it they fail with `TargetUnavailableError`.
 */
export function resolveTarget(spec: TargetSpec, resolveModel?: ModelPolicyResolver): TargetPolicy {
  switch (spec.kind) {
    case 'uniform':
      return uniformPolicy;
    case 'logging':
      return loggingPolicy;
    case 'model':
      if (resolveModel === undefined) {
        throw new TargetUnavailableError('model targets need a running engine state; not available in this build');
      }
      return resolveModel(spec.version);
  }
}
