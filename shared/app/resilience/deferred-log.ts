/**
 * Decision-log entries that could not reach the stream within a request's latency budget. The decision was served
 * (its answer is more useful than a 503), so its log entry must still arrive: it is kept here, in the container,
 * and put again at the next requests. Nothing leaves silently: each deferral, recovery and loss is reported to the
 * observer, which counts them as metrics that alarms watch (`DecisionLogDeferred`, `DecisionLogLost`).
 *
 * A late put of the original request may still succeed after the entry was deferred; the updater claims a decision
 * id once, so a second copy on the stream is harmless, and the in-flight put is watched so that it is not repeated
 * when it does succeed. Limits: the buffer lives in one container; if the container is recycled before a flush, its
 * entries are lost, and only the deferral counts show it (the alarm fires on deferrals, not only on losses).
 */
import type { EventStream } from '../../core/ports.ts';
import type { DecisionRecord } from '../../core/schemas.ts';

export interface DeferredLogOptions {
  /** Most entries kept; older ones are dropped (and reported lost) beyond it. */
  maxRecords?: number;
  /** Entries older than this are dropped (and reported lost) instead of put. */
  maxAgeMs?: number;
  now?: () => number;
  onRecovered?: (count: number) => void;
  onLost?: (records: readonly DecisionRecord[], reason: 'buffer_full' | 'too_old') => void;
}

interface Entry {
  record: DecisionRecord;
  since: number;
}

export class DeferredDecisionLog {
  private entries: Entry[] = [];
  private flushing: Promise<void> | undefined;
  private readonly maxRecords: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(private readonly options: DeferredLogOptions = {}) {
    this.maxRecords = options.maxRecords ?? 5000;
    this.maxAgeMs = options.maxAgeMs ?? 3_600_000;
    this.now = options.now ?? Date.now;
  }

  /** Entries waiting for the stream. */
  get pending(): number {
    return this.entries.length;
  }

  /**
   * Keeps `record` for a later put. With `inFlight` (the put that missed the budget), the entry is only queued if
   * that put fails: a put that merely arrived late needs no second copy.
   */
  defer(record: DecisionRecord, inFlight?: Promise<number[]>): void {
    if (!inFlight) {
      this.queue(record);
      return;
    }
    inFlight.then(
      (failed) => {
        if (failed.length === 0) this.options.onRecovered?.(1);
        else this.queue(record);
      },
      () => this.queue(record),
    );
  }

  /** Puts what is queued; one flush at a time. Failures stay queued for the next flush. */
  flush(stream: EventStream): Promise<void> {
    if (this.entries.length === 0) return Promise.resolve();
    this.flushing ??= this.doFlush(stream).finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private queue(record: DecisionRecord): void {
    this.entries.push({ record, since: this.now() });
    if (this.entries.length > this.maxRecords) {
      const dropped = this.entries.splice(0, this.entries.length - this.maxRecords);
      this.options.onLost?.(
        dropped.map((e) => e.record),
        'buffer_full',
      );
    }
  }

  private async doFlush(stream: EventStream): Promise<void> {
    const cutoff = this.now() - this.maxAgeMs;
    const expired = this.entries.filter((e) => e.since < cutoff);
    if (expired.length > 0) {
      this.options.onLost?.(
        expired.map((e) => e.record),
        'too_old',
      );
    }
    const batch = this.entries.filter((e) => e.since >= cutoff);
    this.entries = [];
    let failed: number[];
    try {
      failed = await stream.put(batch.map((e) => e.record));
    } catch {
      failed = batch.map((_, i) => i);
    }
    const retry = new Set(failed);
    // Entries deferred while this flush ran were appended to the (new) list; keep them after the retries.
    this.entries = [...batch.filter((_, i) => retry.has(i)), ...this.entries];
    if (batch.length - retry.size > 0) this.options.onRecovered?.(batch.length - retry.size);
  }
}
