/**
 * The engine in-process for app-level tests: the real DecisionService and updater core over the DynamoDB adapters
 * (against dynalite), with an in-memory stream in place of Kinesis so a test decides when records are "delivered".
 */
import { DecisionService } from '../../shared/app/decide/decide.ts';
import { ModelCache } from '../../shared/app/decide/model-cache.ts';
import { applyBatch, type BatchOutcome } from '../../shared/app/learn/apply-batch.ts';
import type { EventStream } from '../../shared/core/ports.ts';
import { createRng } from '../../shared/core/random.ts';
import type { DecisionRecord, DecisionRequest, EventRecord, FeedbackEvent } from '../../shared/core/schemas.ts';
import type { TestStores } from './emulators.ts';

export class InProcessEngine {
  readonly pending: (DecisionRecord | EventRecord)[] = [];
  readonly models: ModelCache;
  readonly service: DecisionService;
  private seq = 10n ** 15n;
  now = 1_700_000_000_000;

  constructor(
    readonly stores: TestStores,
    seed = 1,
  ) {
    const stream: EventStream = {
      put: async (records) => {
        this.pending.push(...records);
        return [];
      },
    };
    // Refreshed explicitly: after each delivery (flush) and on catalog changes (CatalogService invalidates).
    this.models = new ModelCache(stores.state, { refreshMs: 3_600_000, now: () => this.now });
    this.service = new DecisionService({
      models: this.models,
      stream,
      users: stores.decisions,
      rng: createRng(seed),
      now: () => this.now,
    });
  }

  decide(req: Partial<DecisionRequest> & Pick<DecisionRequest, 'decisionPoint' | 'userId'>) {
    return this.service.decide({ context: {}, slots: 1, ...req });
  }

  event(event: FeedbackEvent, receivedAt = this.now): void {
    this.pending.push({ kind: 'event', v: 1, event, receivedAt });
  }

  /** Delivers everything pending to the updater core as one shard's batch. */
  async flush(): Promise<BatchOutcome> {
    const entries = this.pending.splice(0).map((r) => ({
      shardId: 'shard-0',
      sequenceNumber: (this.seq++).toString(),
      arrivalMs: this.now,
      data: JSON.stringify(r),
    }));
    const out = await applyBatch(entries, {
      state: this.stores.state,
      decisions: this.stores.decisions,
      deadLetters: this.stores.deadLetters,
      statsPartitions: 2,
    });
    if (out.failedFrom) throw new Error(`batch failed from ${out.failedFrom}`);
    this.models.invalidate();
    return out;
  }
}
