/**
 * The evaluate step: off-policy evaluation of the candidate against the current model on the held-out slice (the
 * most recent days before the cutoff), and the promotion gate.
 *
 * Both policies are evaluated as the engine would serve them: Thompson sampling with the decision point's
 * exploration settings, whose exact slot-1 probabilities over each logged decision's candidates come from
 * buildPosterior + scoreInto + argmaxProbabilities. Both are trained only on data from before the slice:
 * - candidate: the fit's `evaluation` statistics (days < holdoutFromBucket);
 * - current: what serves now, restricted the same way: the active offline model's statistics plus the online
 *   statistics of days in [its cutoff, holdoutFromBucket); without an active model, the online statistics of days
 *   before the slice. If the active model was itself trained on the slice, its estimate is optimistic and the
 *   report says so (the gate is then only harder to pass).
 *
 * **Gate.** Promote iff the candidate's HCOPE lower bound (empirical Bernstein, 1 − δ) ≥ the current policy's
 * estimated value (recommended estimator, doubly robust when propensities exist) − tolerance, the slice has at
 * least `minEvalRounds` decisions, and no data are missing (failed map items, incomplete lake days). `force`
 * overrides the statistical part of the gate only.
 */
import { buildPosterior, type HybridPosterior, type PosteriorAction } from '../../core/bandit/posterior.ts';
import { scoreInto } from '../../core/bandit/score.ts';
import { type ActionStats, emptyStats, mergeStats } from '../../core/bandit/stats.ts';
import { argmaxProbabilities } from '../../core/bandit/thompson.ts';
import { type CatalogAction, DEFAULT_OBJECTIVE } from '../../core/domain.ts';
import {
  type EvaluationReport,
  evaluatePolicy,
  type LoggedData,
  loggingPolicy,
  type Round,
  type TargetPolicy,
} from '../../core/evaluation/index.ts';
import { encodeFeatures } from '../../core/features/encode.ts';
import type { StateStore } from '../../core/ports.ts';
import { decodeAggregate, type HoldoutRound } from './aggregate.ts';
import { ArtifactError } from './errors.ts';
import { decodeModel, type OfflineModel } from './fit.ts';
import { evaluationKey } from './keys.ts';
import type { BlobStore } from './ports.ts';
import type { PolicySummary, RunContext, RunParams } from './run-context.ts';

/**
 * The engine's serving policy over a posterior as an evaluation target: Thompson sampling with exploration floor ε,
 * slot-1 probabilities of each round's candidates. Rounds must carry the encoded context as a Float64Array.
 */
export function thompsonPolicy(
  name: string,
  post: HybridPosterior,
  exploration: { epsilon: number; scale: number },
): TargetPolicy {
  let idx = new Int32Array(64);
  let mean = new Float64Array(64);
  let sd = new Float64Array(64);
  return {
    name,
    distribution(round, out) {
      const k = round.candidates.length;
      if (idx.length < k) {
        idx = new Int32Array(2 * k);
        mean = new Float64Array(2 * k);
        sd = new Float64Array(2 * k);
      }
      for (let i = 0; i < k; i++) {
        const id = (round.candidates[i] as { id: string }).id;
        const a = post.index.get(id);
        if (a === undefined) throw new ArtifactError(`policy ${name} does not know action ${id}`);
        idx[i] = a;
      }
      scoreInto(post, round.context as Float64Array, idx.subarray(0, k), exploration.scale, mean, sd);
      argmaxProbabilities(mean, sd, k, exploration.epsilon, out);
    },
  };
}

/** The actions a posterior must know: the catalog, plus anything the statistics or the slice mention. */
function universe(
  run: RunParams,
  catalog: readonly CatalogAction[],
  logged: ReadonlyMap<string, number[]>,
  extra: Iterable<string>,
): { id: string; features: Float64Array }[] {
  const out = new Map<string, Float64Array>();
  for (const a of catalog) out.set(a.actionId, encodeFeatures(a.features, run.actionDim));
  for (const id of extra) {
    if (out.has(id)) continue;
    const f = logged.get(id);
    // An action the catalog does not describe: its features as logged with its decisions, else bias only.
    out.set(id, f && f.length === run.actionDim ? Float64Array.from(f) : encodeFeatures({}, run.actionDim));
  }
  return [...out].sort((p, q) => (p[0] < q[0] ? -1 : 1)).map(([id, features]) => ({ id, features }));
}

export function posteriorOf(
  run: Pick<RunParams, 'contextDim' | 'actionDim' | 'priors'>,
  actions: readonly { id: string; features: Float64Array }[],
  stats: ReadonlyMap<string, ActionStats>,
): HybridPosterior {
  const input: PosteriorAction[] = actions.map((a) => ({ id: a.id, features: a.features, stats: stats.get(a.id) }));
  return buildPosterior({ d: run.contextDim, m: run.actionDim }, run.priors, input);
}

function toLogged(rounds: readonly HoldoutRound[]): LoggedData {
  return {
    rounds: rounds.map(
      (r): Round => ({
        context: Float64Array.from(r.x),
        candidates: r.candidates.map((id) => ({ id })),
        chosenIndex: r.chosenIndex,
        reward: r.reward,
        ...(r.propensity > 0 && { propensity: r.propensity }),
      }),
    ),
  };
}

function summarize(name: string, r: EvaluationReport | null): PolicySummary {
  if (r === null) return { name, estimator: 'none', estimate: null, lowerBound: null, ess: null };
  const e = r.estimates[r.recommended];
  return {
    name,
    estimator: r.recommended,
    estimate: e && { value: e.value, lower: e.lower, upper: e.upper },
    lowerBound: r.lowerBound,
    ess: r.ess,
  };
}

export interface CurrentModelInput {
  catalog: readonly CatalogAction[];
  /** Online statistics items (any bucket). */
  online: readonly { objective: string; actionId: string; bucket: number; stats: ActionStats }[];
  /** The active offline model's statistics, if one is active. */
  active:
    | { version: string; cutoffBucket: number; itemVersion: number; stats: ReadonlyMap<string, ActionStats> }
    | undefined;
}

export interface Evaluation {
  rounds: number;
  candidate: EvaluationReport | null;
  current: EvaluationReport | null;
  logging: EvaluationReport | null;
  promote: boolean;
  forced: boolean;
  reasons: string[];
  warnings: string[];
}

/** Pure core of the evaluation and the gate. */
export function evaluateCandidate(
  ctx: RunContext,
  model: OfflineModel,
  rounds: readonly HoldoutRound[],
  current: CurrentModelInput,
): Evaluation {
  const { run } = ctx;
  const reasons: string[] = [];
  const warnings: string[] = [];
  const d = run.contextDim;
  const H = run.holdoutFromBucket;

  const candidateStats = model.objectives.get(DEFAULT_OBJECTIVE)?.evaluation ?? new Map<string, ActionStats>();
  const currentStats = new Map<string, ActionStats>();
  const add = (id: string, s: ActionStats) => {
    let t = currentStats.get(id);
    if (!t) {
      t = emptyStats(d);
      currentStats.set(id, t);
    }
    mergeStats(t, s);
  };
  const from = current.active?.cutoffBucket ?? Number.NEGATIVE_INFINITY;
  if (current.active) {
    for (const [id, s] of current.active.stats) if (s.sxr.length === d) add(id, s);
    if (current.active.cutoffBucket > H) {
      warnings.push(
        `the active model ${current.active.version} was trained on days of the held-out slice: its estimate is ` +
          'optimistic, which only makes the gate harder to pass',
      );
    }
  }
  for (const s of current.online) {
    if (s.objective === DEFAULT_OBJECTIVE && s.bucket >= from && s.bucket < H && s.stats.sxr.length === d) {
      add(s.actionId, s.stats);
    }
  }

  const mentioned = new Set<string>([...candidateStats.keys(), ...currentStats.keys()]);
  for (const r of rounds) for (const id of r.candidates) mentioned.add(id);
  const actions = universe(run, current.catalog, model.features, mentioned);

  if (ctx.reduce && ctx.reduce.missingItems.length > 0) {
    reasons.push(
      `${ctx.reduce.missingItems.length} of ${ctx.reduce.itemsExpected} map items failed: the model lacks their ` +
        'decisions, and serving would drop them',
    );
  }
  const stageMoves = ctx.reduce?.counters.stageMovesNotLearned ?? 0;
  if (stageMoves > 0) {
    reasons.push(
      `${stageMoves} stage moves in the training data cannot be valued offline yet (they need the user's previous ` +
        'stage): promotion would replace the online statistics that learned them',
    );
  }
  for (const b of ctx.fit?.incompleteBuckets ?? []) {
    reasons.push(
      `the lake holds ${b.lake} impressions for ${new Date(b.bucket * 86_400_000).toISOString().slice(0, 10)} but ` +
        `the online learner counted ${b.online}: promotion would drop the difference`,
    );
  }
  const dataIncomplete = reasons.length > 0;

  let candidate: EvaluationReport | null = null;
  let cur: EvaluationReport | null = null;
  let logging: EvaluationReport | null = null;
  if (rounds.length === 0) {
    reasons.push('the held-out slice holds no decisions: nothing can be certified');
  } else {
    const data = toLogged(rounds);
    const options = { delta: run.delta, seed: 0 };
    candidate = evaluatePolicy(
      data,
      thompsonPolicy('candidate', posteriorOf(run, actions, candidateStats), run.exploration),
      options,
    );
    cur = evaluatePolicy(
      data,
      thompsonPolicy('current', posteriorOf(run, actions, currentStats), run.exploration),
      options,
    );
    logging = evaluatePolicy(data, loggingPolicy, options);
    for (const w of candidate.warnings) warnings.push(`candidate: ${w}`);
    if (rounds.length < run.minEvalRounds) {
      reasons.push(`the held-out slice has ${rounds.length} decisions, fewer than the ${run.minEvalRounds} required`);
    }
    const lb = candidate.lowerBound;
    const currentValue = (cur.estimates[cur.recommended] ?? cur.estimates.dm).value;
    if (lb === null) {
      reasons.push(
        'the held-out decisions carry no propensities: no lower bound on the candidate exists, so it cannot be certified',
      );
    } else if (lb < currentValue - run.tolerance) {
      reasons.push(
        `the candidate's ${(100 * (1 - run.delta)).toFixed(0)}% lower bound ${lb.toPrecision(4)} is below the current ` +
          `model's estimated value ${currentValue.toPrecision(4)} (${cur.recommended}) minus the tolerance ${run.tolerance}`,
      );
    }
  }
  const forced = run.force && !dataIncomplete && reasons.length > 0;
  if (forced) warnings.push(`promotion forced despite: ${reasons.join('; ')}`);
  return {
    rounds: rounds.length,
    candidate,
    current: cur,
    logging,
    promote: reasons.length === 0 || forced,
    forced,
    reasons,
    warnings,
  };
}

export interface EvaluateDeps {
  blobs: BlobStore;
  state: StateStore;
}

export async function evaluate(ctx: RunContext, deps: EvaluateDeps): Promise<RunContext> {
  const { run } = ctx;
  if (!ctx.fit || !ctx.reduce) throw new ArtifactError('evaluate needs the fitted model and the reduced aggregate');
  const [modelBody, reducedBody] = await Promise.all([deps.blobs.get(ctx.fit.key), deps.blobs.get(ctx.reduce.key)]);
  if (!modelBody || !reducedBody) throw new ArtifactError('the model or the reduced aggregate is missing');
  const model = decodeModel(modelBody, ctx.fit.key);
  const reduced = decodeAggregate(reducedBody, run.contextDim, ctx.reduce.key);
  const state = await deps.state.loadChanges(run.decisionPoint, 0);
  const active = state.activeModel;
  const activeStats = new Map<string, ActionStats>();
  if (active) {
    for (const b of state.baseStats) {
      if (b.version === active.version && b.objective === DEFAULT_OBJECTIVE) activeStats.set(b.actionId, b.stats);
    }
  }
  const result = evaluateCandidate(ctx, model, reduced.holdout, {
    catalog: state.actions,
    online: state.stats,
    active: active && { ...active, stats: activeStats },
  });
  const key = evaluationKey(run);
  await deps.blobs.put(key, JSON.stringify({ ...result, activeVersion: active?.version ?? null }), 'application/json');
  return {
    ...ctx,
    evaluation: {
      key,
      rounds: result.rounds,
      promote: result.promote,
      forced: result.forced,
      reasons: result.reasons,
      warnings: result.warnings,
      candidate: summarize('candidate', result.candidate),
      current: summarize(active ? `current (${active.version})` : 'current (online)', result.current),
      logging: summarize('logging', result.logging),
      activeItemVersion: active?.itemVersion ?? null,
      activeVersion: active?.version ?? null,
    },
  };
}
