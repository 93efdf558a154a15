/**
 * The decision container's models, from snapshots (snapshot.ts): per decision point, it polls the pointer at most once
 * per `pollMs` (with jitter, so containers started together do not poll together), and fetches and decodes the
 * snapshot only when the pointer names a new one. The state table is not read: its reads per second do not grow with
 * containers or traffic (the publisher reads it once per publish).
 *
 * Bounded staleness: a decision reflects every snapshot published more than `pollMs` × (1 + jitter/2) before it, plus
 * the fetch. A poll or fetch that fails keeps serving the last good model (reported through `onRefreshError`); a
 * snapshot whose bytes do not match the pointer's checksum is not served (a newer one overwrote it in between: the
 * pointer is read again, up to three times, then at the next poll 100 ms later). A decision point with no pointer yet (created before snapshots, or its publish failed) is served by
 * `fallback` (the state table's ModelCache) until one is published.
 */
import { DependencyError, NotFoundError } from '../../core/errors.ts';
import type { SnapshotPointer, SnapshotStore } from '../../core/ports.ts';
import type { ModelSource, ServingModel } from './model-cache.ts';
import { decodeSnapshot, SnapshotIntegrityError } from './snapshot.ts';

export interface SnapshotSourceOptions {
  pollMs: number;
  /** Each wait is pollMs × (1 − jitter/2 + jitter × U[0, 1)). Default 0.2. */
  jitter?: number;
  now?: () => number;
  random?: () => number;
  /** Serves decision points that have no snapshot yet. */
  fallback: ModelSource;
  onRefreshError?: (err: unknown, decisionPoint: string) => void;
}

/** Pointer-and-snapshot reads per poll while the snapshot keeps not matching its pointer. */
const SNAPSHOT_READ_ATTEMPTS = 3;

interface Entry {
  pointer: SnapshotPointer | undefined;
  model: ServingModel | undefined;
  /** No pointer at the last poll: the fallback serves. */
  unpublished: boolean;
  nextPollAt: number;
  inflight: Promise<void> | undefined;
}

export class SnapshotSource implements ModelSource {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly random: () => number;
  /** What this container read: pointer polls and snapshot fetches (benchmarks and metrics). */
  readonly counts = { polls: 0, fetches: 0, rejected: 0 };

  constructor(
    private readonly store: SnapshotStore,
    private readonly options: SnapshotSourceOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  async get(decisionPoint: string): Promise<ServingModel> {
    let entry = this.entries.get(decisionPoint);
    if (!entry) {
      entry = { pointer: undefined, model: undefined, unpublished: false, nextPollAt: 0, inflight: undefined };
      this.entries.set(decisionPoint, entry);
    }
    const e = entry;
    if (this.now() >= e.nextPollAt) {
      e.inflight ??= this.poll(decisionPoint, e).finally(() => {
        e.inflight = undefined;
      });
    }
    // Every caller waits for the poll in flight (one per decision point and container), as ModelCache's callers share
    // its refresh; the decision guard bounds the wait and serves the last good model past it.
    if (e.inflight) {
      try {
        await e.inflight;
      } catch (err) {
        this.options.onRefreshError?.(err, decisionPoint);
        if (!e.model && !e.unpublished) {
          this.entries.delete(decisionPoint);
          throw new DependencyError('the model snapshot store is unavailable', undefined, { cause: err });
        }
      }
    }
    if (entry.unpublished) {
      try {
        return await this.options.fallback.get(decisionPoint);
      } catch (err) {
        // Forget names that do not exist, so requests for random names cannot grow this map.
        if (err instanceof NotFoundError) this.entries.delete(decisionPoint);
        throw err;
      }
    }
    return entry.model!;
  }

  private async poll(decisionPoint: string, entry: Entry): Promise<void> {
    const jitter = this.options.jitter ?? 0.2;
    entry.nextPollAt = this.now() + this.options.pollMs * (1 - jitter / 2 + jitter * this.random());
    // A snapshot that does not match the pointer just read was overwritten by a newer one in between (the key is
    // fixed): read the pointer again, a few times, before giving up until the next poll.
    for (let attempt = 1; ; attempt++) {
      this.counts.polls++;
      const pointer = await this.store.getPointer(decisionPoint);
      if (!pointer) {
        entry.unpublished = true;
        return;
      }
      entry.unpublished = false;
      if (pointer.sha256 === entry.pointer?.sha256 && entry.model) return;
      this.counts.fetches++;
      const bytes = await this.store.getSnapshot(decisionPoint);
      if (!bytes) throw new DependencyError(`the snapshot of ${decisionPoint} is missing behind its pointer`);
      try {
        entry.model = decodeSnapshot(bytes, pointer.sha256);
        entry.pointer = pointer;
        return;
      } catch (err) {
        if (!(err instanceof SnapshotIntegrityError)) throw err;
        this.counts.rejected++;
        if (attempt >= SNAPSHOT_READ_ATTEMPTS) {
          entry.nextPollAt = this.now() + Math.min(100, this.options.pollMs);
          if (!entry.model) throw err;
          return;
        }
      }
    }
  }
}
