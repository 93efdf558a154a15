/**
 * Where a decision is made: candidates resolved against the live catalog, the context encoded, every candidate scored
 * against the cached posterior, Thompson sampling with an exploration floor picks one action per slot, and the exact
 * slot-1 probability of every candidate is computed (the chosen one's is the logged propensity). The decision is
 * written to the stream before the answer goes out, so every served decision is in the log.
 */
import { randomUUID } from 'node:crypto';
import { scoreInto } from '../../core/bandit/score.ts';
import { argmaxProbabilities, selectThompson } from '../../core/bandit/thompson.ts';
import { DependencyError, UnprocessableError, ValidationError } from '../../core/errors.ts';
import { encodeFeatures } from '../../core/features/encode.ts';
import type { EventStream } from '../../core/ports.ts';
import type { DecisionRecord, DecisionRequest, DecisionResponse } from '../../core/schemas.ts';
import type { Rng } from '../../core/random.ts';
import type { ModelCache } from './model-cache.ts';

export interface DecideDeps {
  models: ModelCache;
  stream: EventStream;
  rng: Rng;
  now?: () => number;
  newId?: () => string;
}

export class DecisionService {
  private mean = new Float64Array(64);
  private sd = new Float64Array(64);
  private probs = new Float64Array(64);
  private readonly now: () => number;
  private readonly newId: () => string;

  constructor(private readonly deps: DecideDeps) {
    this.now = deps.now ?? Date.now;
    this.newId = deps.newId ?? randomUUID;
  }

  async decide(req: DecisionRequest): Promise<DecisionResponse> {
    const model = await this.deps.models.get(req.decisionPoint);
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
        // A retired action is never served, even when a caller names it.
        if (action.status === 'live') idx.push(i);
      }
      candidates = Int32Array.from(idx);
    } else candidates = model.live;
    if (req.exclude && req.exclude.length > 0) {
      const excluded = new Set(req.exclude.map((id) => post.index.get(id)).filter((i) => i !== undefined));
      candidates = candidates.filter((i) => !excluded.has(i));
    }
    const count = candidates.length;
    if (count === 0) throw new UnprocessableError(`decision point ${req.decisionPoint} has no eligible candidate`);

    if (this.mean.length < count) {
      const size = Math.max(count, this.mean.length * 2);
      this.mean = new Float64Array(size);
      this.sd = new Float64Array(size);
      this.probs = new Float64Array(size);
    }
    const x = encodeFeatures(req.context, settings.contextDim);
    scoreInto(post, x, candidates, settings.exploration.scale, this.mean, this.sd);
    const slots = Math.min(req.slots, count);
    const chosenPos = selectThompson(this.mean, this.sd, count, this.deps.rng, settings.exploration.epsilon, slots);
    argmaxProbabilities(this.mean, this.sd, count, settings.exploration.epsilon, this.probs);

    const chosen = Array.from(chosenPos.subarray(0, slots), (p) => post.ids[candidates[p]!]!);
    const ranking = Array.from({ length: count }, (_, p) => ({
      actionId: post.ids[candidates[p]!]!,
      score: this.mean[p]!,
      probability: this.probs[p]!,
    })).sort((a, b) => b.probability - a.probability || b.score - a.score);

    const decisionId = this.newId();
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
      propensity: this.probs[chosenPos[0]!]!,
      modelVersion: model.version,
      attributionWindowSeconds: settings.attributionWindowSeconds,
      rewards: settings.rewards,
    };
    let failed: number[];
    try {
      failed = await this.deps.stream.put([record]);
    } catch (err) {
      throw new DependencyError('the decision log is unavailable; nothing was decided', undefined, { cause: err });
    }
    if (failed.length > 0) throw new DependencyError('the decision log is unavailable; nothing was decided');
    return { decisionId, chosen, ranking, modelVersion: model.version };
  }
}
