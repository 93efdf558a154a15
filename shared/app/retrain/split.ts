/**
 * The split step (first Distributed Map): one worker reads one item's lake objects and deals every record out to the
 * bucket of its user, so that the join step sees each user's whole history in one place and can join it with the
 * updater's own rules (`join-bucket.ts`). A record keeps where it came from (object key, line), which orders records
 * of the same time the way the lake writer wrote them. A retried worker writes the same objects again.
 */
import { murmur3_32 } from '../../core/features/encode.ts';
import { CLOCK_SKEW_MS } from '../../core/feedback/reward.ts';
import { mapLimit } from '../concurrency.ts';
import { ArtifactError } from './errors.ts';
import { shuffleKey, splitDoneKey } from './keys.ts';
import { decodeLakeObject, encodeLakeObject, recordTime } from './lake.ts';
import type { BlobStore } from './ports.ts';
import type { RunParams, SplitInput } from './run-context.ts';

/** Seed of the user → bucket hash (fixed: a run's split and join must agree, and it costs nothing to keep). */
const BUCKET_SEED = 0x5eed_b0c7;
/** Most user buckets (join workers) a run plans. */
export const MAX_BUCKETS = 1000;

export const bucketOfUser = (userId: string, buckets: number) => (murmur3_32(userId, BUCKET_SEED) >>> 0) % buckets;

/** A record as the split writes it: its order key and the raw line. */
export interface ShuffledRecord {
  /**
   * Where the record comes in the join's order: a decision's `at`, an event's `receivedAt` plus the clock-skew
   * allowance (see `join-bucket.ts`, "Order").
   */
  t: number;
  /** 0 for a decision, 1 for an event: at the same instant, the decision came first. */
  k: 0 | 1;
  /** Lake object and line: ties between records of the same time and kind. */
  o: string;
  l: number;
  /** The record, as it travelled on the stream. */
  r: unknown;
}

export interface SplitCounts {
  itemId: string;
  records: number;
  invalidLines: number;
  bytesRead: number;
  objectsRead: number;
}

export async function splitPartition(
  input: SplitInput,
  deps: { blobs: BlobStore; readConcurrency?: number },
): Promise<SplitCounts> {
  const { run, item } = input;
  const buckets = bucketsOf(run);
  const out = new Map<number, string[]>();
  const counts: SplitCounts = { itemId: item.id, records: 0, invalidLines: 0, bytesRead: 0, objectsRead: 0 };
  await mapLimit(item.keys, deps.readConcurrency ?? 8, async (key) => {
    const body = await deps.blobs.get(key);
    // Listed by the plan moments ago: a missing object means the lake lost data, not a race worth hiding.
    if (!body) throw new ArtifactError(`lake object ${key} listed by the plan is gone`);
    counts.bytesRead += body.byteLength;
    counts.objectsRead++;
    decodeLakeObject(body)
      .split('\n')
      .forEach((text, line) => {
        const trimmed = text.trim();
        if (trimmed === '') return;
        let json: { kind?: unknown; userId?: unknown; event?: { userId?: unknown } };
        try {
          json = JSON.parse(trimmed);
        } catch {
          counts.invalidLines++;
          return;
        }
        const userId = json?.kind === 'decision' ? json.userId : json?.event?.userId;
        const t =
          json?.kind === 'decision' || json?.kind === 'event' ? recordTime(json as { kind: string }) : undefined;
        if (typeof userId !== 'string' || t === undefined) {
          counts.invalidLines++;
          return;
        }
        const shuffled: ShuffledRecord = {
          t: json.kind === 'decision' ? t : t + CLOCK_SKEW_MS,
          k: json.kind === 'decision' ? 0 : 1,
          o: key,
          l: line,
          r: json,
        };
        const b = bucketOfUser(userId, buckets);
        const list = out.get(b) ?? [];
        list.push(JSON.stringify(shuffled));
        out.set(b, list);
        counts.records++;
      });
  });
  await mapLimit([...out], deps.readConcurrency ?? 8, ([b, lines]) =>
    deps.blobs.put(shuffleKey(run, b, item.id), encodeLakeObject(lines), 'application/gzip'),
  );
  // Last: the reduce step counts an item as done only if this marker exists.
  await deps.blobs.put(splitDoneKey(run, item.id), JSON.stringify(counts), 'application/json');
  return counts;
}

/** The run's bucket count (the plan fixes it from the lake's size). */
export const bucketsOf = (run: Pick<RunParams, 'buckets'>) => run.buckets;
