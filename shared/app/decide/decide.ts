/**
 * Where a decision is made: candidates resolved against the live catalog, the context encoded, every candidate scored
 * under the serving policy (the global posterior, the weighted combination of the objectives' posteriors, or the
 * intent-selected objective's posterior: core/policy/serving-policy.ts), Thompson sampling with an exploration floor
 * picks one action per slot, and the exact slot-1 probability of every candidate is computed (the chosen one's is the
 * logged propensity). The decision is written to the stream before the answer goes out, so every served decision is
 * in the log.
 */
import { randomUUID } from 'node:crypto';
import { selectThompson, slotPropensities } from '../../core/bandit/thompson.ts';
import { type LiveCatalog, liveCatalog, referenceOf } from '../../core/catalog/catalog-version.ts';
import { eligibleCandidates, readsStage, whyIneligible } from '../../core/catalog/eligible.ts';
import { DependencyError, NotFoundError, UnprocessableError, ValidationError } from '../../core/errors.ts';
import { encodeFeatures, FeatureEncodingError } from '../../core/features/encode.ts';
import { FALLBACK_DECISION_PREFIX } from '../../core/feedback/join.ts';
import { ServingScores, scoreServingPolicy } from '../../core/policy/serving-policy.ts';
import type { DecisionStore, EventStream } from '../../core/ports.ts';
import type { Rng } from '../../core/random.ts';
import {
  type DecisionRecord,
  type DecisionRequest,
  decisionRequestSchema,
  describeZodError,
} from '../../core/schemas.ts';
import { type ResilientDecisionResponse, uniformFallback } from '../resilience/fallback.ts';
import { type Deadline, DecisionGuard, type DecisionResilience } from '../resilience/guard.ts';
import type { ModelSource, ServingModel } from './model-cache.ts';

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
  /** `decisionPoint\nversion` of the catalog versions a logged record of this service has declared (C3). */
  private readonly declared = new Set<string>();

  constructor(private readonly deps: DecideDeps) {
    this.now = deps.now ?? Date.now;
    this.newId = deps.newId ?? randomUUID;
    this.guard = new DecisionGuard(deps.resilience);
  }

  async decide(req: DecisionRequest): Promise<ResilientDecisionResponse> {
    const left = this.guard.begin(this.deps.stream);
    const drafted = await this.draft(req, (dp) => this.deps.models.get(dp), left);
    if (drafted.kind === 'fallback') return drafted.response;
    const [logged] = await this.guard.log([drafted.record], () => this.deps.stream.put([drafted.record]), left);
    if (logged === 'failed') throw new DependencyError('the decision log is unavailable; nothing was decided');
    if (logged === 'logged') this.logged(drafted.record);
    return logged === 'deferred' ? { ...drafted.response, decisionLog: 'deferred' } : drafted.response;
  }

  /**
   * `POST /v1/decisions:batch`: each item is decided as `decide` would decide it alone (same policy, same exact
   * propensities, its own decision id), validated on its own (a bad item is rejected with its reason and changes
   * nothing; the others are decided), and answered in its own result. What the items share is the request's cost:
   * one model lookup per decision point and one stream put for every log entry. An item whose log entry cannot be
   * written is `failed` (nothing was decided for it; retrying it is safe), unless the deferred log keeps it.
   */
  async decideMany(items: readonly unknown[], opts: DecideManyOptions): Promise<DecideManyAnswer> {
    const left = this.guard.begin(this.deps.stream);
    const models = new Map<string, Promise<ServingModel>>();
    const load = (dp: string) => {
      let m = models.get(dp);
      if (!m) {
        m = this.deps.models.get(dp);
        // Awaited by the item that asked; a rejection is that item's answer, not an unhandled one.
        m.catch(() => undefined);
        models.set(dp, m);
      }
      return m;
    };
    let entries = 0;
    const item = (r: ResilientDecisionResponse): DecidedItem => {
      const { ranking, ...rest } = r;
      const propensity = ranking.find((e) => e.actionId === r.chosen[0])?.probability ?? 0;
      entries += opts.ranking ? ranking.length : 0;
      return opts.ranking ? { ...rest, propensity, ranking } : { ...rest, propensity };
    };
    // Each item waits on its dependencies (model, stage) within the budget as if it were decided alone: the items are
    // drafted concurrently, so the request's budget is each item's. Drafting is synchronous from its last await on
    // (scoring, sampling, the record), so concurrent drafts never share the scratch scores.
    const outcomes = await Promise.all(
      items.map(async (raw, index): Promise<{ result: DecideManyResult; record?: DecisionRecord }> => {
        const parsed = decisionRequestSchema.safeParse(raw);
        if (!parsed.success) {
          return { result: { index, status: 'rejected', code: 'invalid', error: describeZodError(parsed.error) } };
        }
        const req = parsed.data;
        if (opts.scope && !opts.scope.includes(req.decisionPoint)) {
          const error = `decisionPoint: ${req.decisionPoint} is outside this API key's decision points`;
          return { result: { index, status: 'rejected', code: 'forbidden', error } };
        }
        try {
          const drafted = await this.draft({ ...req, userId: opts.pseudonymise(req.userId) }, load, left);
          const result: DecideManyResult = { index, status: 'decided', ...item(drafted.response) };
          return drafted.kind === 'decided' ? { result, record: drafted.record } : { result };
        } catch (err) {
          if (err instanceof DependencyError) return { result: { index, status: 'failed', error: err.message } };
          const rejected = rejectionOf(err);
          if (!rejected) throw err;
          return { result: { index, status: 'rejected', ...rejected } };
        }
      }),
    );
    const results = outcomes.map((o) => o.result);
    const drafts = outcomes.flatMap((o) =>
      o.record && o.result.status === 'decided'
        ? [{ index: o.result.index, record: o.record, response: o.result }]
        : [],
    );
    // Nothing is logged yet: an answer too big to send is refused whole, and nothing was decided.
    if (entries > MAX_BATCH_RANKING_ENTRIES) {
      throw new ValidationError(
        `ranking: the rankings of this call would hold ${entries} entries (at most ${MAX_BATCH_RANKING_ENTRIES}, the size an answer can have): leave ranking out, or send fewer requests or candidates per call`,
      );
    }
    if (drafts.length > 0) {
      const records = drafts.map((d) => d.record);
      const logged = await this.guard.log(records, () => this.deps.stream.put(records), left);
      logged.forEach((status, i) => {
        const { index, response } = drafts[i]!;
        if (status === 'logged') this.logged(records[i]!);
        if (status === 'deferred') results[index] = { ...response, decisionLog: 'deferred' };
        if (status === 'failed') {
          const error = 'the decision log is unavailable; nothing was decided for this item (retrying it is safe)';
          results[index] = { index, status: 'failed', error };
        }
      });
    }
    const count = (s: DecideManyResult['status']) => results.filter((r) => r.status === s).length;
    return { decided: count('decided'), rejected: count('rejected'), failed: count('failed'), results };
  }

  /** The decision and its log entry, not yet logged; or the uniform fallback (never logged). */
  private async draft(
    req: DecisionRequest,
    load: (decisionPoint: string) => Promise<ServingModel>,
    left: Deadline,
  ): Promise<
    | { kind: 'fallback'; response: ResilientDecisionResponse }
    | { kind: 'decided'; response: ResilientDecisionResponse; record: DecisionRecord }
  > {
    const loaded = await this.guard.model(req, () => load(req.decisionPoint), left);
    if (loaded.kind === 'fallback') {
      const id = `${FALLBACK_DECISION_PREFIX}${this.newId()}`;
      return { kind: 'fallback', response: uniformFallback(req, loaded.candidates, this.deps.rng, id, loaded.reason) };
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
    // Each slot's probability given the slots above it (core/bandit/thompson.ts); slot 1's is already computed.
    const perSlot =
      slots === 1
        ? [scores.probability[chosenPos[0]!]!]
        : slotPropensities(
            scores.mean,
            scores.sd,
            count,
            scores.epsilon,
            chosenPos.subarray(0, slots),
            scores.probability,
          );
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
      ...(this.named(model, req.candidates === undefined ? candidates : undefined) ?? {
        candidates: Array.from(candidates, (i) => post.ids[i]!),
      }),
      chosen,
      chosenFeatures: Array.from(chosenPos.subarray(0, slots), (p) => Array.from(model.features[candidates[p]!]!)),
      propensity: perSlot[0]!,
      ...(slots > 1 && { slotPropensities: perSlot }),
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
    const response = {
      decisionId,
      chosen,
      slots: chosen.map((actionId, k) => ({ actionId, propensity: perSlot[k]! })),
      ranking,
      modelVersion: model.version,
      objective: servedBy,
    };
    return { kind: 'decided', response, record };
  }

  /**
   * C2–C3 of core/catalog/catalog-version.ts: the record's reference to the live catalog for candidates drawn from it
   * (undefined: list them), declaring the version until a record that declared it has been logged.
   */
  private named(model: ServingModel, fromLive: Int32Array | undefined) {
    if (!fromLive) return undefined;
    const { live, position } = liveCatalogOf(model);
    const declare = !this.declared.has(`${model.decisionPoint.decisionPoint}\n${live.version}`);
    // Candidates in live order; all of them (the common case) need no positions.
    const positions = fromLive.length === live.ids.length ? undefined : Int32Array.from(fromLive, (i) => position[i]!);
    return referenceOf(live, positions, declare);
  }

  /** A record is in the log: the catalog version it declares need not be declared again (C3). */
  private logged(record: DecisionRecord): void {
    if (record.catalog?.ids) this.declared.add(`${record.decisionPoint}\n${record.catalog.version}`);
  }

  private async userStage(userId: string, decisionPoint: string, left: Deadline): Promise<string | undefined> {
    const users = this.deps.users;
    if (!users) return undefined;
    // Without the stage the decision is still sound: it is scored (and logged) without that feature. So a failed or
    // slow read (past the request's budget) is decided without it.
    return this.guard.optional(() => users.getUserStage(userId, decisionPoint), left);
  }
}

export interface DecideManyOptions {
  /** The decision points the caller's key may use; undefined: all. */
  scope?: readonly string[] | undefined;
  /** Replaces a user id by its pseudonym (core/privacy.ts) before anything is read or logged. */
  pseudonymise: (userId: string) => string;
  /** Answer each decision's full ranking (every candidate's score and probability); default: the propensity only. */
  ranking?: boolean;
}

/**
 * Ranking entries one `:batch` answer may hold: a Lambda answer is at most 6 MB and an entry takes ≈ 70 bytes, so
 * 100 requests of 1,000 candidates with their rankings would not fit.
 */
export const MAX_BATCH_RANKING_ENTRIES = 50_000;

export type DecidedItem = Omit<ResilientDecisionResponse, 'ranking'> & {
  /** The probability that the slot-1 action was chosen (its logged propensity). */
  propensity: number;
  ranking?: ResilientDecisionResponse['ranking'];
};

export type DecideManyResult =
  | ({ index: number; status: 'decided' } & DecidedItem)
  | { index: number; status: 'rejected'; code: 'invalid' | 'forbidden' | 'not-found' | 'unprocessable'; error: string }
  | { index: number; status: 'failed'; error: string };

export interface DecideManyAnswer {
  decided: number;
  rejected: number;
  failed: number;
  results: DecideManyResult[];
}

/** An item's own fault (what `decide` answers with a 4xx), as its result; undefined for anything else. */
export function rejectionOf(
  err: unknown,
): { code: 'invalid' | 'not-found' | 'unprocessable'; error: string } | undefined {
  if (err instanceof ValidationError) return { code: 'invalid', error: err.message };
  if (err instanceof NotFoundError) return { code: 'not-found', error: err.message };
  if (err instanceof UnprocessableError) return { code: 'unprocessable', error: err.message };
  return undefined;
}

/** The live catalog of a model as a catalog version, and each action index's position in it (−1: not live). */
const liveCatalogs = new WeakMap<ServingModel, { live: LiveCatalog; position: Int32Array }>();

function liveCatalogOf(model: ServingModel): { live: LiveCatalog; position: Int32Array } {
  let hit = liveCatalogs.get(model);
  if (!hit) {
    const ids = model.posterior.ids;
    const position = new Int32Array(ids.length).fill(-1);
    model.live.forEach((i, p) => {
      position[i] = p;
    });
    hit = { live: liveCatalog(Array.from(model.live, (i) => ids[i]!)), position };
    liveCatalogs.set(model, hit);
  }
  return hit;
}

/** Context feature under which the user's lifecycle stage is encoded (a categorical feature). */
export const STAGE_FEATURE = '_stage';
