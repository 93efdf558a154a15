/**
 * The whole engine in-process over the in-memory adapters, for experiments that need what the fast simulator's pure
 * core lacks (objectives and intent models, catalog churn, eligibility): the real CatalogService, DecisionService with
 * its ModelCache, the real feedback ingestion and the real updater core (`applyBatch`), on a simulated clock.
 *
 * Timing mirrors the deployed engine: each decision advances the clock by `msPerDecision`; every `deliverEvery`
 * decisions the stream's pending records are delivered to the updater shard by shard, in batches of `batchSize`, as
 * the Kinesis event source mapping does at the end of its batching window (`maxBatchingWindow` 1 s and batch size
 * 1,000 in the CDK stack); the decision container's ModelCache refreshes at most every `refreshMs` of simulated time
 * (MODEL_REFRESH_MS, 1 s by default). The admin API has its own cache, as it runs in another container, so a catalog
 * change reaches decisions at the decision cache's next refresh, not at once. So a reward is learned from between one
 * batch window and one batch window plus one refresh after its decision, as in AWS.
 *
 * Everything random is seeded (Thompson draws, decision ids), so a run is reproducible.
 */
import { MemoryDeadLetterStore } from '../shared/adapters/memory/dead-letter-store.ts';
import { MemoryDecisionStore } from '../shared/adapters/memory/decision-store.ts';
import { MemoryEventStream } from '../shared/adapters/memory/event-stream.ts';
import { MemoryStateStore } from '../shared/adapters/memory/state-store.ts';
import { CatalogService } from '../shared/app/catalog/catalog.ts';
import { DecisionService } from '../shared/app/decide/decide.ts';
import { ModelCache } from '../shared/app/decide/model-cache.ts';
import { ingestEvents } from '../shared/app/ingest/ingest-events.ts';
import { applyBatch, type BatchOutcome, emptyOutcome } from '../shared/app/learn/apply-batch.ts';
import type { PositionModel } from '../shared/core/bandit/position.ts';
import { encodeFeatures } from '../shared/core/features/encode.ts';
import { createRng } from '../shared/core/random.ts';
import type {
  ActionInput,
  DecisionPointSettingsInput,
  DecisionResponse,
  Features,
  FeedbackEvent,
} from '../shared/core/schemas.ts';
import { SimError, SimOptionError } from './errors.ts';

export interface EngineHarnessOptions {
  readonly settings: DecisionPointSettingsInput;
  /** Decision point name (default `sim`). */
  readonly decisionPoint?: string;
  /** Seeds the decision service's Thompson draws (default 1). */
  readonly seed?: number;
  /** Simulated milliseconds between two decisions (default 100: ten decisions a second). */
  readonly msPerDecision?: number;
  /** Decisions between two deliveries of the stream to the updater (default 10: the 1 s batching window). */
  readonly deliverEvery?: number;
  /** The decision container's model refresh interval in simulated milliseconds (default 1,000). */
  readonly refreshMs?: number;
  /** Stream shards (default 2) and statistics writer partitions (default 4, the Lambda's default). */
  readonly shards?: number;
  readonly statsPartitions?: number;
  /** Most records per updater invocation (default 1,000). */
  readonly batchSize?: number;
  /** Simulated time of the first decision (default 2023-11-14T22:13:20Z). */
  readonly startMs?: number;
  /** Slots per decision (default 1). */
  readonly slots?: number;
  /** The decision container's rule for slot examination ratios (default: the engine's, `examinationRatios`). */
  readonly positionModel?: PositionModel;
}

/** What the updater did over the run, summed over its batches. */
export type UpdaterTotals = Omit<BatchOutcome, 'failedFrom'> & { batches: number };

/** Redeliveries of one batch before the harness gives up (none are expected: the stores do not fail). */
const MAX_REDELIVERIES = 3;

export class EngineHarness {
  readonly state = new MemoryStateStore();
  readonly decisions = new MemoryDecisionStore();
  readonly deadLetters = new MemoryDeadLetterStore();
  readonly stream: MemoryEventStream;
  readonly models: ModelCache;
  readonly catalog: CatalogService;
  readonly service: DecisionService;
  readonly decisionPoint: string;
  /** The simulated clock (ms since the epoch). */
  now: number;
  /** Decisions made so far. */
  decided = 0;
  readonly totals: UpdaterTotals = (({ failedFrom: _, ...counts }) => ({ batches: 0, ...counts }))(emptyOutcome());
  private readonly msPerDecision: number;
  private readonly deliverEvery: number;
  private readonly statsPartitions: number;
  private readonly batchSize: number;
  private readonly slots: number;
  private eventSeq = 0;
  private refreshError: unknown;

  private constructor(options: EngineHarnessOptions) {
    const int = (name: string, v: number, min: number) => {
      if (!Number.isSafeInteger(v) || v < min)
        throw new SimOptionError(`${name} must be an integer >= ${min}, got ${v}`);
      return v;
    };
    this.msPerDecision = int('msPerDecision', options.msPerDecision ?? 100, 1);
    this.deliverEvery = int('deliverEvery', options.deliverEvery ?? 10, 1);
    this.statsPartitions = int('statsPartitions', options.statsPartitions ?? 4, 1);
    this.batchSize = int('batchSize', options.batchSize ?? 1000, 1);
    const refreshMs = int('refreshMs', options.refreshMs ?? 1000, 0);
    this.decisionPoint = options.decisionPoint ?? 'sim';
    this.now = options.startMs ?? 1_700_000_000_000;
    const now = () => this.now;
    this.stream = new MemoryEventStream({ shardCount: int('shards', options.shards ?? 2, 1), now });
    this.slots = int('slots', options.slots ?? 1, 1);
    this.models = new ModelCache(this.state, {
      refreshMs,
      now,
      ...(options.positionModel && { positionModel: options.positionModel }),
      // A failed refresh keeps the last model serving in AWS; in an experiment it must not pass unnoticed.
      onRefreshError: (err) => {
        this.refreshError ??= err;
      },
    });
    this.catalog = new CatalogService(this.state, new ModelCache(this.state, { refreshMs: 0, now }), now);
    let id = 0;
    const seed = options.seed ?? 1;
    this.service = new DecisionService({
      models: this.models,
      stream: this.stream,
      users: this.decisions,
      rng: createRng(seed),
      now,
      newId: () => `d${seed}-${++id}`,
    });
  }

  /** A harness with its decision point created from `options.settings`. */
  static async create(options: EngineHarnessOptions): Promise<EngineHarness> {
    const h = new EngineHarness(options);
    await h.catalog.putDecisionPoint(h.decisionPoint, options.settings);
    return h;
  }

  /** Creates or replaces an action through the catalog use case (as `PUT …/actions/{id}`). */
  async putAction(actionId: string, input: Partial<ActionInput> & { features: Features }): Promise<void> {
    await this.catalog.putAction(this.decisionPoint, actionId, input);
  }

  /** Retires an action (as `DELETE …/actions/{id}`); it stops serving at the decision cache's next refresh. */
  async retireAction(actionId: string): Promise<void> {
    await this.catalog.retireAction(this.decisionPoint, actionId);
  }

  /**
   * One decision for `userId` in `context`, at the current simulated time; then the clock moves on, and every
   * `deliverEvery` decisions the stream is delivered to the updater.
   */
  async decide(userId: string, context: Features, candidates?: string[]): Promise<DecisionResponse> {
    const response = await this.service.decide({
      decisionPoint: this.decisionPoint,
      userId,
      context,
      slots: this.slots,
      ...(candidates ? { candidates } : {}),
    });
    if (this.refreshError !== undefined)
      throw new SimError('the model cache failed to refresh', { cause: this.refreshError });
    this.decided++;
    this.now += this.msPerDecision;
    if (this.decided % this.deliverEvery === 0) await this.deliver();
    return response;
  }

  /** Sends feedback events through the feedback API's core, received now. Event ids are generated when absent. */
  async feedback(events: readonly (Omit<FeedbackEvent, 'eventId'> & { eventId?: string })[]): Promise<void> {
    const withIds = events.map((e) => ({ eventId: e.eventId ?? `e${++this.eventSeq}`, ...e }));
    // Simulated users are synthetic: their ids are kept as they are (the API pseudonymises real ones).
    const out = await ingestEvents(withIds, {
      stream: this.stream,
      settings: async (dp) => (await this.state.getDecisionPoint(dp))?.settings,
      now: () => this.now,
      pseudonymise: (u) => u,
    });
    if (out.accepted !== events.length) {
      const bad = out.results.find((r) => r.status !== 'accepted');
      throw new SimError(`feedback refused: ${bad && 'error' in bad ? bad.error : 'unknown'}`);
    }
  }

  /** Delivers every pending stream record to the updater core, shard by shard, batch by batch. */
  async deliver(): Promise<void> {
    for (const shardId of this.stream.shardIds) {
      let attempts = 0;
      for (;;) {
        const batch = this.stream.poll(shardId, this.batchSize);
        if (batch.length === 0) break;
        const out = await applyBatch(batch, {
          state: this.state,
          decisions: this.decisions,
          deadLetters: this.deadLetters,
          statsPartitions: this.statsPartitions,
          now: () => this.now,
        });
        this.stream.commit(shardId, batch, out.failedFrom);
        this.add(out);
        if (out.failedFrom === undefined) attempts = 0;
        else if (++attempts > MAX_REDELIVERIES) {
          throw new SimError(`the updater keeps failing on ${shardId} from sequence number ${out.failedFrom}`);
        }
      }
    }
  }

  private add(out: BatchOutcome): void {
    const t = this.totals as unknown as Record<string, number>;
    t.batches = (t.batches as number) + 1;
    for (const [k, v] of Object.entries(out)) if (typeof v === 'number') t[k] = (t[k] ?? 0) + v;
  }
}

/**
 * Throws when two of the given features would share a slot under feature hashing (`encodeFeatures`), so an
 * experiment's world is encoded without collisions, as a dense one would be: each numeric feature and each
 * `name=value` of a string feature must own a slot of its own in `dim`.
 */
export function assertNoCollisions(samples: readonly Features[], dim: number, what: string): void {
  const keys = new Map<string, Features>();
  for (const s of samples) {
    for (const [name, value] of Object.entries(s)) {
      keys.set(typeof value === 'string' ? `${name}=${value}` : name, {
        [name]: typeof value === 'string' ? value : 1,
      });
    }
  }
  const owner = new Map<number, string>();
  for (const [key, single] of keys) {
    const x = encodeFeatures(single, dim);
    for (let i = 1; i < dim; i++) {
      if (x[i] === 0) continue;
      const other = owner.get(i);
      if (other !== undefined) throw new SimOptionError(`${what}: ${key} and ${other} share slot ${i} of ${dim}`);
      owner.set(i, key);
    }
  }
}
