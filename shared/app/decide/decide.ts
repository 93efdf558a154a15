/**
 * Where a decision is made: candidates resolved against the live catalog, the context encoded, every candidate scored
 * under the serving policy (the global posterior, the weighted combination of the objectives' posteriors, or the
 * intent-selected objective's posterior: core/policy/serving-policy.ts), Thompson sampling with an exploration floor
 * picks one action per slot, and the exact slot-1 probability of every candidate is computed (the chosen one's is the
 * logged propensity). The decision is written to the stream before the answer goes out, so every served decision is
 * in the log.
 */
import { randomUUID } from 'node:crypto';
import { selectThompson } from '../../core/bandit/thompson.ts';
import { eligibleCandidates, readsStage, whyIneligible } from '../../core/catalog/eligible.ts';
import { UnprocessableError, ValidationError } from '../../core/errors.ts';
import { encodeFeatures, FeatureEncodingError } from '../../core/features/encode.ts';
import { FALLBACK_DECISION_PREFIX } from '../../core/feedback/join.ts';
import { ServingScores, scoreServingPolicy } from '../../core/policy/serving-policy.ts';
import type { DecisionStore, EventStream } from '../../core/ports.ts';
import type { Rng } from '../../core/random.ts';
import type { DecisionRecord, DecisionRequest } from '../../core/schemas.ts';
import { type ResilientDecisionResponse, uniformFallback } from '../resilience/fallback.ts';
import { DecisionGuard, type DecisionResilience } from '../resilience/guard.ts';
import type { ModelSource } from './model-cache.ts';

export interface DecideDeps {
  models: ModelSource;
  stream: EventStream;
  /** Where users' lifecycle stages are read (only for decision points with stage ladders). */
  users?: Pick<DecisionStore, 'getUserStage'>;
  rng: Rng;
  now?: () => number;
  newId?: () => string;
  /** Latency budget and fallbacks for slow or failing dependencies (see `resilience/guard.ts`). */
  resilience?: DecisionResilience;
}

export class DecisionService {
  private readonly scores = new ServingScores();
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly guard: DecisionGuard;

  constructor(private readonly deps: DecideDeps) {
    this.now = deps.now ?? Date.now;
    this.newId = deps.newId ?? randomUUID;
    this.guard = new DecisionGuard(deps.resilience);
  }

  async decide(req: DecisionRequest): Promise<ResilientDecisionResponse> {
    const left = this.guard.begin(this.deps.stream);
    const loaded = await this.guard.model(req, () => this.deps.models.get(req.decisionPoint), left);
    if (loaded.kind === 'fallback') {
      const id = `${FALLBACK_DECISION_PREFIX}${this.newId()}`;
      return uniformFallback(req, loaded.candidates, this.deps.rng, id, loaded.reason);
    }
    const model = loaded.model;
    const { settings } = model.decisionPoint;
    const post = model.posterior;

    let candidates: Int32Array;
    if (req.candidates) {
      const idx: number[] = [];
      const seen = new Set<string>();
      for (const id of req.candidates) {
        if (seen.has(id)) continue;
        seen.add(id);
        const i = post.index.get(id);
        const action = model.catalog.get(id);
        if (i === undefined || !action) throw new ValidationError(`candidates: unknown action ${id}`);
        // A retired action is never served, even when a caller names it (eligibleCandidates leaves it out, and says
        // why when nothing is left).
        idx.push(i);
      }
      candidates = Int32Array.from(idx);
    } else candidates = model.live;
    if (req.exclude && req.exclude.length > 0) {
      const excluded = new Set(req.exclude.map((id) => post.index.get(id)).filter((i) => i !== undefined));
      candidates = candidates.filter((i) => !excluded.has(i));
    }
    // Schedule windows (this request's clock), eligibility rules and the new-action traffic cap; the cap hashes the
    // decision id, so the logged candidates and propensity are exact (see core/catalog/eligible.ts).
    const decisionId = this.newId();
    // The user's lifecycle stage, read once: for stage eligibility rules and, with stage ladders, as a context feature.
    const usesStages = settings.objectives.some((o) => o.stages !== undefined);
    const stage =
      usesStages || readsStage(model) ? await this.userStage(req.userId, req.decisionPoint, left) : undefined;
    // Dense contexts have no names: the stage cannot join them, and eligibility rules read positions as "0", "1", …
    // (an array's own keys), with no copy on the decision path.
    if (usesStages && Array.isArray(req.context)) {
      throw new ValidationError(
        `context: decision point ${req.decisionPoint} has stage ladders, so its context must be named features (the stage joins them); a dense array cannot carry it`,
      );
    }
    const eligibility = {
      context: req.context,
      stage,
      now: this.now(),
      key: decisionId,
    };
    const asked = candidates;
    candidates = eligibleCandidates(model, candidates, eligibility);
    const count = candidates.length;
    if (count === 0) {
      const why = [...asked.subarray(0, 5)].map((i) => whyIneligible(model, i, eligibility)).filter(Boolean);
      throw new UnprocessableError(
        asked.length === 0
          ? `decision point ${req.decisionPoint} has no eligible candidate: ${req.exclude?.length ? 'every live action is excluded by the request' : `it has no live action (PUT one under /v1/decision-points/${req.decisionPoint}/actions)`}`
          : `decision point ${req.decisionPoint} has no eligible candidate: ${why.join('; ')}${asked.length > 5 ? `; and ${asked.length - 5} more` : ''}`,
      );
    }

    const context =
      usesStages && stage !== undefined && !Array.isArray(req.context)
        ? { ...req.context, [STAGE_FEATURE]: stage }
        : req.context;
    let x: Float64Array;
    try {
      x = encodeFeatures(context, settings.contextDim);
    } catch (err) {
      if (err instanceof FeatureEncodingError) throw new ValidationError(`context: ${err.message}`);
      throw err;
    }
    // The serving policy (see core/policy/serving-policy.ts): the same function the promotion gate evaluates.
    const scores = this.scores;
    const servedBy = scoreServingPolicy(model, settings, x, candidates, scores);
    const slots = Math.min(req.slots, count);
    const chosenPos = selectThompson(scores.mean, scores.sd, count, this.deps.rng, scores.epsilon, slots);

    const chosen = Array.from(chosenPos.subarray(0, slots), (p) => post.ids[candidates[p]!]!);
    const ranking = Array.from({ length: count }, (_, p) => ({
      actionId: post.ids[candidates[p]!]!,
      score: scores.mean[p]!,
      probability: scores.probability[p]!,
    })).sort((a, b) => b.probability - a.probability || b.score - a.score);

    const record: DecisionRecord = {
      kind: 'decision',
      v: 1,
      decisionId,
      decisionPoint: req.decisionPoint,
      userId: req.userId,
      at: this.now(),
      context: req.context,
      x: Array.from(x),
      candidates: Array.from(candidates, (i) => post.ids[i]!),
      chosen,
      chosenFeatures: Array.from(chosenPos.subarray(0, slots), (p) => Array.from(model.features[candidates[p]!]!)),
      propensity: scores.probability[chosenPos[0]!]!,
      modelVersion: model.version,
      attributionWindowSeconds: settings.attributionWindowSeconds,
      rewards: settings.rewards,
      objectives: settings.objectives.map((o) => ({
        name: o.name,
        events: o.events,
        ...(o.stages ? { stages: o.stages } : {}),
        ...(o.stageValues ? { stageValues: o.stageValues } : {}),
        attributionWindowSeconds: o.attributionWindowSeconds ?? settings.attributionWindowSeconds,
        weight: o.weight,
      })),
      // F9: the value policy travels with the decision, so feedback is bounded by what held when it was made.
      ...(settings.rewardBounds ? { rewardBounds: settings.rewardBounds } : {}),
      ...(settings.acceptEventValues ? {} : { acceptEventValues: false }),
      servedBy,
      ...(stage === undefined ? {} : { stage }),
    };
    const response = { decisionId, chosen, ranking, modelVersion: model.version, objective: servedBy };
    const logged = await this.guard.log(record, () => this.deps.stream.put([record]), left);
    return logged === 'deferred' ? { ...response, decisionLog: 'deferred' } : response;
  }

  private async userStage(userId: string, decisionPoint: string, left: () => number): Promise<string | undefined> {
    const users = this.deps.users;
    if (!users) return undefined;
    // Without the stage the decision is still sound: it is scored (and logged) without that feature. So a failed or
    // slow read (past the request's budget) is decided without it.
    return this.guard.optional(() => users.getUserStage(userId, decisionPoint), left);
  }
}

/** Context feature under which the user's lifecycle stage is encoded (a categorical feature). */
export const STAGE_FEATURE = '_stage';
