/**
 * In-memory implementation of the EventStream port, with Kinesis semantics where the engine relies on them: a record
 * goes to the shard whose hash-key range holds MD5(partition key), partition key = user id, as the Kinesis adapter
 * sends it, and the ranges split 2^128 evenly as `CreateStream` does; within a shard, records keep the order they were
 * put in and get increasing sequence numbers. So one user's decisions and feedback stay in order on one shard, and an
 * updater sees a decision before the events that answer it. A record over 1 MiB is refused (Kinesis refuses the whole
 * request, and the adapter gives up after its retries: `put` throws).
 *
 * The reading side plays Lambda's event source mapping: {@link MemoryEventStream.poll} gives a shard's next batch from
 * its checkpoint, and {@link MemoryEventStream.commit} moves the checkpoint past the batch, or only up to the first
 * failed record so that the next poll redelivers from there.
 */
import { createHash } from 'node:crypto';
import type { StreamEntry } from '../../app/learn/apply-batch.ts';
import type { EventStream } from '../../core/ports.ts';
import type { DecisionRecord, EventRecord } from '../../core/schemas.ts';

/** Largest record Kinesis accepts (data plus partition key). */
export const MAX_RECORD_BYTES = 1024 * 1024;
const POW_128 = 1n << 128n;

export interface MemoryEventStreamOptions {
  /** Shards (default 2, the local stack's). */
  shardCount?: number;
  /** The clock that stamps each record's arrival (default Date.now). */
  now?: () => number;
}

/** The shard id Kinesis gives shard i of a new stream. */
export const shardIdOf = (i: number) => `shardId-${String(i).padStart(12, '0')}`;

/** Index of the shard a partition key maps to: MD5 as a 128-bit integer, over equal hash-key ranges. */
export function shardIndexOf(partitionKey: string, shardCount: number): number {
  const hash = BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
  const width = POW_128 / BigInt(shardCount);
  return Math.min(shardCount - 1, Number(hash / width));
}

interface Shard {
  readonly id: string;
  entries: StreamEntry[];
  /** Position of the checkpoint in `entries` (everything before it is delivered and trimmed lazily). */
  head: number;
  next: bigint;
}

export class MemoryEventStream implements EventStream {
  private readonly shards: Shard[];
  private readonly now: () => number;

  constructor(options: MemoryEventStreamOptions = {}) {
    const count = options.shardCount ?? 2;
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`shardCount must be an integer >= 1, got ${count}`);
    this.now = options.now ?? Date.now;
    // Sequence numbers are decimal strings that only grow within a shard, as in Kinesis.
    this.shards = Array.from({ length: count }, (_, i) => ({
      id: shardIdOf(i),
      entries: [],
      head: 0,
      next: 49_000_000_000_000_000_000n + BigInt(i) * 10n ** 15n,
    }));
  }

  get shardIds(): string[] {
    return this.shards.map((s) => s.id);
  }

  async put(records: readonly (DecisionRecord | EventRecord)[]): Promise<number[]> {
    const encoded = records.map((r) => {
      const key = r.kind === 'decision' ? r.userId : r.event.userId;
      const data = JSON.stringify(r);
      if (Buffer.byteLength(data, 'utf8') + Buffer.byteLength(key, 'utf8') > MAX_RECORD_BYTES) {
        throw new Error(`a record of ${Buffer.byteLength(data, 'utf8')} bytes exceeds the Kinesis record limit`);
      }
      return { key, data };
    });
    const arrivalMs = this.now();
    for (const { key, data } of encoded) {
      const shard = this.shards[shardIndexOf(key, this.shards.length)]!;
      shard.entries.push({ shardId: shard.id, sequenceNumber: (shard.next++).toString(), arrivalMs, data });
    }
    return [];
  }

  /** Records put and not yet committed, over all shards. */
  get pending(): number {
    return this.shards.reduce((n, s) => n + s.entries.length - s.head, 0);
  }

  /** Up to `limit` records of one shard from its checkpoint, in order (the next batch Lambda would deliver). */
  poll(shardId: string, limit = 1000): StreamEntry[] {
    const s = this.shard(shardId);
    return s.entries.slice(s.head, s.head + limit);
  }

  /**
   * Moves the shard's checkpoint after a batch: past `batch` when `failedFrom` is undefined, else to the record with
   * that sequence number, which the next poll delivers again (Lambda's partial batch response).
   */
  commit(shardId: string, batch: readonly StreamEntry[], failedFrom: string | undefined): void {
    const s = this.shard(shardId);
    const last = batch[batch.length - 1];
    if (last === undefined) return;
    const stop = failedFrom === undefined ? BigInt(last.sequenceNumber) + 1n : BigInt(failedFrom);
    while (s.head < s.entries.length && BigInt(s.entries[s.head]!.sequenceNumber) < stop) s.head++;
    // Trim delivered records in bulk, so a long simulation keeps only what is in flight.
    if (s.head > 4096 && s.head * 2 > s.entries.length) {
      s.entries = s.entries.slice(s.head);
      s.head = 0;
    }
  }

  private shard(shardId: string): Shard {
    const s = this.shards.find((x) => x.id === shardId);
    if (!s) throw new RangeError(`no shard ${shardId}`);
    return s;
  }
}
