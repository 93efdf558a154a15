/**
 * Publishes a decision point's serving model as a snapshot (snapshot.ts) after writes that change it: the updater
 * after each batch, the admin API after a catalog or settings change, a promotion or a rollback.
 *
 * The rule, with one lease item per decision point (PublishLease):
 * 1. A writer, once its writes are committed, counts a request (`request`) and tries to take the lease.
 * 2. The holder reads the request count c when it takes the lease, then reads the decision point's changes strongly
 *    consistent, builds the model, and stores the snapshot and then its pointer (skipped if the pointer already names
 *    this model version).
 * 3. It frees the lease only if the count is still c. If not, a writer counted a request after the holder's read may
 *    have begun, so the holder goes again (reading from its own last refresh on), up to `maxRounds` times; then it
 *    frees the lease whatever the count, and the next writer's request takes it.
 * So every write is in a published snapshot once the lease is free and no later writer is waiting: a writer that
 * fails to take the lease counted its request first, and the holder cannot free the lease without reading after it.
 * The exception is bounded by `maxRounds`: under continuous writes the holder hands over, and the writes of the last
 * `maxRounds`-th round wait for the next writer (at most one batch window while feedback flows).
 * 4. Publishes of a decision point begin their reads at least `minIntervalMs` apart (the lease item records when
 *    the last one began; a holder waits out the rest, holding the lease). So the state table is read in full at most
 *    once per interval, however many shards write and however fast a build is.
 * A holder that dies frees the lease after `leaseMs`.
 *
 * The build runs here, once per decision point and publish, instead of in every decision container.
 */
import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../../core/errors.ts';
import type { PublishLease, SnapshotPointer, SnapshotStore, StateStore } from '../../core/ports.ts';
import { ModelCache } from './model-cache.ts';
import { encodeSnapshot, sha256Hex } from './snapshot.ts';

export interface SnapshotPublisherOptions {
  /** Identifies this publisher in the lease (a random id per container by default). */
  owner?: string;
  /** How long the lease is held at most without renewal: longer than the slowest build. */
  leaseMs?: number;
  /** Publishes per lease before handing over (see the module comment). */
  maxRounds?: number;
  /**
   * Least time between the reads of two publishes of a decision point, whoever makes them (the lease item keeps the
   * last read's time): bounds the state table's reads to one full read of the decision point per interval.
   */
  minIntervalMs?: number;
  now?: () => number;
  /** After each snapshot stored (for metrics and logs). */
  onPublished?: (pointer: SnapshotPointer, buildMs: number) => void;
}

/**
 * The updater's default least time between publishes: four full reads of a decision point a second at most (1,600
 * strongly consistent RCU/s at K = 100, P = 4, within a partition's 3,000), and at most a quarter second of waiting
 * added to feedback-to-serving. `npm run capacity` raises it where a decision point's full read is larger.
 */
export const DEFAULT_PUBLISH_INTERVAL_MS = 250;

export type PublishOutcome = 'published' | 'unchanged' | 'held elsewhere' | 'no decision point';

export class SnapshotPublisher {
  private readonly models: ModelCache;
  private readonly now: () => number;
  private readonly owner: string;
  private readonly leaseMs: number;
  private readonly maxRounds: number;
  private readonly minIntervalMs: number;

  constructor(
    state: StateStore,
    private readonly lease: PublishLease,
    private readonly snapshots: SnapshotStore,
    private readonly options: SnapshotPublisherOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.owner = options.owner ?? randomUUID();
    this.leaseMs = options.leaseMs ?? 10_000;
    this.maxRounds = options.maxRounds ?? 3;
    this.minIntervalMs = options.minIntervalMs ?? DEFAULT_PUBLISH_INTERVAL_MS;
    // Every call reads what changed since this publisher's last read, strongly consistent (rule 2).
    this.models = new ModelCache(state, { refreshMs: 0, consistent: true, now: this.now });
  }

  /** Call once the writes to `decisionPoint` are committed (rule 1). */
  async afterWrites(decisionPoint: string): Promise<PublishOutcome> {
    await this.lease.request(decisionPoint);
    return this.holdAndPublish(decisionPoint);
  }

  /** Takes the lease if it is free and publishes until no request is left (rules 2–4); no request of its own. */
  private async holdAndPublish(decisionPoint: string): Promise<PublishOutcome> {
    const held = await this.lease.acquire(decisionPoint, this.owner, this.now(), this.leaseMs);
    if (held === undefined) return 'held elsewhere';
    let seen = held.requests;
    let lastReadAt = held.readAt;
    let outcome: PublishOutcome = 'unchanged';
    for (let round = 1; ; round++) {
      // Pacing (rule 4): the lease is held while waiting, so requests keep accumulating for this holder.
      const wait = lastReadAt + this.minIntervalMs - this.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const readAt = this.now();
      try {
        const once = await this.publishOnce(decisionPoint, readAt);
        if (once === 'published' || outcome === 'unchanged') outcome = once;
      } catch (err) {
        // Free the lease at once: the next writer retries (and the caller learns why this one failed).
        await this.lease.release(decisionPoint, this.owner, seen, lastReadAt, this.now(), this.leaseMs, true);
        throw err;
      }
      lastReadAt = readAt;
      const next = await this.lease.release(
        decisionPoint,
        this.owner,
        seen,
        readAt,
        this.now(),
        this.leaseMs,
        round >= this.maxRounds,
      );
      if (next === undefined) return outcome;
      seen = next;
    }
  }

  /**
   * For writers whose caller waits for the change to serve (the admin API, a promotion): like `afterWrites`, and when
   * another holds the lease, waits until a snapshot whose read began after these writes is published (taking the
   * lease itself if it comes free first), for at most `timeoutMs`. Returns whether the writes are published.
   */
  async publishAndWait(decisionPoint: string, timeoutMs = 5000): Promise<boolean> {
    const committedBy = this.now();
    if ((await this.afterWrites(decisionPoint)) !== 'held elsewhere') return true;
    const deadline = committedBy + timeoutMs;
    while (this.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      const pointer = await this.snapshots.getPointer(decisionPoint);
      if (pointer && pointer.readAt >= committedBy) return true;
      // The holder may have handed over (its last round): take the lease if it is free. The request is counted
      // already; counting it again would only send the holder round again.
      if ((await this.holdAndPublish(decisionPoint)) !== 'held elsewhere') return true;
    }
    return false;
  }

  private async publishOnce(decisionPoint: string, readAt: number): Promise<PublishOutcome> {
    let model: Awaited<ReturnType<ModelCache['get']>>;
    try {
      model = await this.models.get(decisionPoint);
    } catch (err) {
      if (err instanceof NotFoundError) return 'no decision point';
      throw err;
    }
    const current = await this.snapshots.getPointer(decisionPoint);
    if (current?.version === model.version) return 'unchanged';
    const bytes = encodeSnapshot(model);
    const pointer: SnapshotPointer = {
      decisionPoint,
      version: model.version,
      sha256: sha256Hex(bytes),
      bytes: bytes.length,
      readAt,
      publishedAt: this.now(),
    };
    await this.snapshots.publish(pointer, bytes);
    this.options.onPublished?.(pointer, pointer.publishedAt - readAt);
    return 'published';
  }
}
