/**
 * The split step (first Distributed Map): one worker reads one item's lake objects and deals every record out to the
 * bucket of its user, so that the join step sees each user's whole history in one place and can join it with the
 * updater's own rules (`join-bucket.ts`). A record keeps where it came from (object key, line), which orders records
 * of the same time the way the lake writer wrote them. A retried worker writes the same objects again.
 *
 * **Erased users.** A record of a user erased at time T (DELETE /v1/users/{userId}) whose own time (a decision's
 * `at`, an event's `receivedAt`) is at or before T is dropped here, before anything of it is copied: the join, the
 * fit and the evaluation never see it. A record after T is kept: it is the start of a new history. The impressions of
 * the dropped decisions are counted per day (`erasedImpressions`), because the lake did hold them: the fit's
 * completeness check must not mistake a deliberate exclusion for lost data, nor carry the day over from the online
 * statistics (which would bring the user's contributions back).
 */
import { resolveCandidates } from '../../core/catalog/catalog-version.ts';
import { bucketOf } from '../../core/domain.ts';
import { murmur3_32 } from '../../core/features/encode.ts';
import { CLOCK_SKEW_MS } from '../../core/feedback/reward.ts';
import type { Erasure } from '../../core/ports.ts';
import { mapLimit } from '../concurrency.ts';
import { ArtifactError } from './errors.ts';
import { catalogsKey, erasuresKey, shuffleKey, splitDoneKey } from './keys.ts';
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
  /** Records dropped because their user was erased after them. */
  erasedRecords: number;
  /** Day bucket → impressions (chosen slots) of the run's decisions among them, before the cutoff. */
  erasedImpressions: Record<string, number>;
}

/** The erasures file the plan writes: pseudonym → erasure time (ms). */
export type ErasuresFile = Record<string, number>;

export const erasuresFile = (erasures: readonly Erasure[]): ErasuresFile =>
  Object.fromEntries(erasures.map((e) => [e.userId, e.erasedAt]));

/** A JSON object the plan wrote for every split worker, as a map; without it the split cannot be right, so it fails. */
async function readPlanFile<T>(blobs: BlobStore, key: string, what: string): Promise<Map<string, T>> {
  const body = await blobs.get(key);
  if (!body) throw new ArtifactError(`${what} ${key} written by the plan is missing`);
  try {
    return new Map(Object.entries(JSON.parse(Buffer.from(body).toString('utf8')) as Record<string, T>));
  } catch (cause) {
    throw new ArtifactError(`${what} ${key} is unreadable`, { cause });
  }
}

export async function splitPartition(
  input: SplitInput,
  deps: { blobs: BlobStore; readConcurrency?: number },
): Promise<SplitCounts> {
  const { run, item } = input;
  const buckets = bucketsOf(run);
  const out = new Map<number, string[]>();
  const [erased, catalogs] = await Promise.all([
    readPlanFile<number>(deps.blobs, erasuresKey(run), 'erasures'),
    readPlanFile<string[]>(deps.blobs, catalogsKey(run), 'catalog versions'),
  ]);
  const counts: SplitCounts = {
    itemId: item.id,
    records: 0,
    invalidLines: 0,
    bytesRead: 0,
    objectsRead: 0,
    erasedRecords: 0,
    erasedImpressions: {},
  };
  // A decision's duplicates share its time, so its hour, so this item: counting ids once here counts them once.
  const erasedDecisions = new Set<string>();
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
        let json: {
          kind?: unknown;
          userId?: unknown;
          event?: { userId?: unknown };
          decisionId?: unknown;
          decisionPoint?: unknown;
          at?: unknown;
          chosen?: unknown;
          candidates?: unknown;
          catalog?: { version?: unknown; ids?: unknown; omitted?: unknown };
          candidateCount?: unknown;
        };
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
        const erasedAt = erased.get(userId);
        if (erasedAt !== undefined && t <= erasedAt) {
          counts.erasedRecords++;
          const { decisionId, decisionPoint, at, chosen } = json;
          if (
            json.kind === 'decision' &&
            decisionPoint === run.decisionPoint &&
            typeof at === 'number' &&
            bucketOf(at) < run.cutoffBucket &&
            Array.isArray(chosen) &&
            !erasedDecisions.has(String(decisionId))
          ) {
            erasedDecisions.add(String(decisionId));
            const day = String(bucketOf(at));
            counts.erasedImpressions[day] = (counts.erasedImpressions[day] ?? 0) + chosen.length;
          }
          return;
        }
        // C5: the run's decisions carry their candidates from here on (an unresolvable one keeps its reference, and
        // the join counts it as `unresolvedCandidates`).
        if (json.kind === 'decision' && json.decisionPoint === run.decisionPoint && json.candidates === undefined) {
          const candidates = resolveLakeReference(json.catalog, catalogs);
          if (candidates) {
            const { catalog: _, candidateCount: __, ...rest } = json;
            json = { ...rest, candidates };
          }
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

/** A lake record's catalog reference resolved (catalog-version.ts, C5), or undefined when it names no known version. */
function resolveLakeReference(
  ref: { version?: unknown; ids?: unknown; omitted?: unknown } | undefined,
  stored: ReadonlyMap<string, string[]>,
): string[] | undefined {
  if (typeof ref?.version !== 'string') return undefined;
  const ids = Array.isArray(ref.ids) ? (ref.ids as string[]) : stored.get(ref.version);
  const omitted = Array.isArray(ref.omitted) ? (ref.omitted as string[]) : undefined;
  return ids && resolveCandidates({ omitted }, ids);
}

/** The run's bucket count (the plan fixes it from the lake's size). */
export const bucketsOf = (run: Pick<RunParams, 'buckets'>) => run.buckets;
