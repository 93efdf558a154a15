/**
 * Ports: the storage and messaging the core needs, as small interfaces. DynamoDB and Kinesis adapters implement them
 * (`shared/adapters/`); tests and the local mode use the same adapters against real-protocol emulators.
 */
import type { AuditEntry, AuditOutcome, AuditPage, AuditQuery } from './audit.ts';
import type {
  ActiveModel,
  ApiKeyRecord,
  BaseModelStats,
  CatalogAction,
  DeadLetter,
  DecisionPoint,
  SeriesCounters,
  SeriesItem,
  SeriesKey,
  SeriesResolution,
  StatsItem,
  StatsKey,
  StoredDecision,
} from './domain.ts';
import type { EventClaim, UserJoinState } from './feedback/join.ts';
import type { EvaluationRecord } from './retrain/evaluation-record.ts';
import type { DecisionRecord, EventRecord } from './schemas.ts';

/** Everything a warm decision container caches for one decision point, read incrementally. */
export interface DecisionPointChanges {
  decisionPoint: DecisionPoint | undefined;
  actions: CatalogAction[];
  stats: StatsItem[];
  baseStats: BaseModelStats[];
  activeModel: ActiveModel | undefined;
  /** Largest `updatedAt` seen; pass it back (minus a clock-skew margin) to read only what changed since. */
  maxUpdatedAt: number;
}

export interface StateStore {
  getDecisionPoint(decisionPoint: string): Promise<DecisionPoint | undefined>;
  /** Creates (expectedVersion undefined) or replaces the item at `expectedVersion`; throws VersionConflictError. */
  putDecisionPoint(item: DecisionPoint, expectedVersion: number | undefined): Promise<void>;
  listDecisionPoints(): Promise<DecisionPoint[]>;
  getAction(decisionPoint: string, actionId: string): Promise<CatalogAction | undefined>;
  putAction(item: CatalogAction, expectedVersion: number | undefined): Promise<void>;
  listActions(decisionPoint: string): Promise<CatalogAction[]>;
  /**
   * Items of one decision point with `updatedAt >= since`: eventually consistent (callers re-read a margin), or
   * strongly consistent with `consistent` (the snapshot publisher, which must see every write committed before it
   * took the publish lease).
   */
  loadChanges(decisionPoint: string, since: number, consistent?: boolean): Promise<DecisionPointChanges>;
  getStats(key: StatsKey): Promise<StatsItem | undefined>;
  /** Conditional write: succeeds only if the stored version is `expectedVersion` (or absent when undefined). */
  putStats(item: StatsItem, expectedVersion: number | undefined): Promise<void>;
  listStats(decisionPoint: string): Promise<StatsItem[]>;
  getSeries(key: SeriesKey): Promise<SeriesItem | undefined>;
  /**
   * Adds `delta` to the item's counters (creating it if absent) and moves `shardId`'s high-water mark from
   * `expectedMark` (undefined: that shard has none yet) to `mark`, in one write conditional on that mark only:
   * VersionConflictError when another writer of the same shard moved it first. Writers of other shards never conflict.
   */
  addSeries(
    key: SeriesKey,
    shardId: string,
    expectedMark: string | undefined,
    mark: string,
    delta: SeriesCounters,
    writtenAt: number,
  ): Promise<void>;
  /** Series items of windows `from` to `to` (both included), in window order. */
  listSeries(decisionPoint: string, resolution: SeriesResolution, from: number, to: number): Promise<SeriesItem[]>;
  /**
   * Stores a catalog version's ids (core/catalog/catalog-version.ts, C4). The version is their hash, so writing a
   * stored version again changes nothing: no condition, any order, any number of writers.
   */
  putCatalogVersion(decisionPoint: string, version: string, ids: readonly string[]): Promise<void>;
  /** Every stored catalog version of a decision point: version → ids. */
  listCatalogVersions(decisionPoint: string): Promise<Map<string, string[]>>;
  /** Writes an offline model's per-action statistics (idempotent: same version, same content). */
  putBaseStats(items: readonly BaseModelStats[]): Promise<void>;
  getActiveModel(decisionPoint: string): Promise<ActiveModel | undefined>;
  /** Conditional on `expectedItemVersion` (undefined: must not exist yet). Throws VersionConflictError. */
  putActiveModel(item: ActiveModel, expectedItemVersion: number | undefined): Promise<void>;
  /** Stores the summary of one retraining run (idempotent: the same run always writes the same item). */
  putEvaluation(record: EvaluationRecord): Promise<void>;
  /** A decision point's retraining run summaries, most recent first. */
  listEvaluations(decisionPoint: string, limit: number): Promise<EvaluationRecord[]>;
  getApiKey(hash: string): Promise<ApiKeyRecord | undefined>;
  putApiKey(item: ApiKeyRecord): Promise<void>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
}

/** Where a decision point's current model snapshot is (shared/app/decide/snapshot.ts): what containers poll. */
export interface SnapshotPointer {
  decisionPoint: string;
  /** The serving model's version (what decisions log as `modelVersion`). */
  version: string;
  /** SHA-256 of the snapshot's bytes, hex: a snapshot that does not hash to it is not served. */
  sha256: string;
  bytes: number;
  /** When the publisher took the lease, just before it read the statistics (ms since the epoch). */
  readAt: number;
  publishedAt: number;
}

/**
 * Model snapshots and their pointers (S3 in AWS). A store may keep several replicas of both under separate key
 * prefixes, so that reads spread over S3 partitions (docs/ARCHITECTURE.md §6): `publish` writes every replica, reads
 * go to the replica of this reader.
 */
export interface SnapshotStore {
  /** Stores the snapshot, then the pointer to it: a reader that finds the pointer finds its snapshot. */
  publish(pointer: SnapshotPointer, snapshot: Uint8Array): Promise<void>;
  getPointer(decisionPoint: string): Promise<SnapshotPointer | undefined>;
  /** The decision point's snapshot bytes (possibly a newer one than `pointer` names: check its checksum). */
  getSnapshot(decisionPoint: string): Promise<Uint8Array | undefined>;
}

/**
 * The publish lease of a decision point (one small item): at most one updater builds and publishes a snapshot at a
 * time, and every write that asked for a publish is covered by one (see shared/app/decide/snapshot-publisher.ts).
 */
export interface PublishLease {
  /** Counts a request: call it after the writes to publish are committed. */
  request(decisionPoint: string): Promise<void>;
  /**
   * Takes the lease if it is free or expired: the requests counted so far and when the last publish began its read
   * (0 if never), or undefined when another holds it.
   */
  acquire(
    decisionPoint: string,
    owner: string,
    now: number,
    ttlMs: number,
  ): Promise<{ requests: number; readAt: number } | undefined>;
  /**
   * Records `readAt` (when the publish just made began its read). Then frees the lease if no request was counted
   * since `seen` and returns undefined; otherwise keeps it (renewed) and returns the requests counted now. `force`
   * frees it whatever was counted.
   */
  release(
    decisionPoint: string,
    owner: string,
    seen: number,
    readAt: number,
    now: number,
    ttlMs: number,
    force?: boolean,
  ): Promise<number | undefined>;
}

/** A user's join state as stored, with the item version its conditional writes check. */
export interface StoredUser {
  userId: string;
  state: UserJoinState;
  /** Undefined for an item written before versions existed (or not at all). */
  version: number | undefined;
}

/**
 * The join index (the decisions table): decisions, users' join state and event claims. Every write that can race is
 * conditional, and each says which rule of docs/ARCHITECTURE.md §3–4 it keeps.
 */
export interface DecisionStore {
  /**
   * Stores the decision unless one with the same id exists; returns what is stored afterwards. The caller compares
   * `claim` to learn whether its record is the one that created the entry (and so the one that counts).
   */
  claimDecision(decision: StoredDecision): Promise<StoredDecision>;
  getDecisions(decisionIds: readonly string[]): Promise<Map<string, StoredDecision>>;
  /**
   * Records, for each objective not yet reached by the decision, the claim of the event that reached it; returns the
   * claims stored afterwards (the intent models count "reached" once per decision and objective).
   */
  claimReached(decisionId: string, claims: ReadonlyMap<string, string>): Promise<Map<string, string>>;
  /** Users' join state (absent users are missing from the map). */
  getUsers(userIds: readonly string[]): Promise<Map<string, StoredUser>>;
  /** Replaces the user's state if the stored version is `expectedVersion`; throws VersionConflictError. */
  putUser(user: StoredUser, expectedVersion: number | undefined): Promise<void>;
  /** The user's lifecycle stage in a decision point (F6: stages are kept per decision point). */
  getUserStage(userId: string, decisionPoint: string): Promise<string | undefined>;
  /** Stored event claims of these (userId, eventId) pairs, keyed by `pairKey`. */
  getEventClaims(pairs: readonly { userId: string; eventId: string }[]): Promise<Map<string, EventClaim>>;
  /** Stores the claim unless the pair has one (first writer wins); returns the claim stored afterwards. */
  claimEvent(claim: EventClaim): Promise<EventClaim>;
}

export interface DeadLetterStore {
  /** Writes the entries (an entry with an existing id replaces it: redelivered records land on the same entry). */
  put(entries: readonly DeadLetter[]): Promise<void>;
  /**
   * Writes each entry only if no entry has its id. A held event's entry goes through here: an updater that holds the
   * event again (a redelivery, a racing invocation) must never bring back an entry already resolved, which stays as
   * an `applied` tombstone.
   */
  hold(entries: readonly DeadLetter[]): Promise<void>;
  list(limit: number): Promise<DeadLetter[]>;
}

/** Reads the payloads of one shard's records from `from` to `to` (inclusive sequence numbers), at most `limit`. */
export interface StreamRangeReader {
  read(range: { shardId: string; from: string; to: string }, limit: number): Promise<string[]>;
}

/** The stream every decision and feedback event goes through (Kinesis). Partitioned by user. */
export interface EventStream {
  /** Puts records; returns the indexes of those that could not be put after retries. */
  put(records: readonly (DecisionRecord | EventRecord)[]): Promise<number[]>;
}

/** Where secrets are read: Secrets Manager in AWS, a file generated in the data folder locally. */
export interface SecretSource {
  /** The current value of the secret (`secretId`: its ARN, as the stack hands it to a function). */
  read(secretId: string): Promise<string>;
}

/** That a user's data was erased, and when: retraining ignores their lake records up to `erasedAt`. */
export interface Erasure {
  /** The user's pseudonym (the only user id anything downstream of the API knows). */
  userId: string;
  erasedAt: number;
}

/** The erasures of users (DELETE /v1/users/{userId}), for as long as the lake may hold their records. */
export interface ErasureLog {
  /** Records the erasure; a later erasure of the same user moves `erasedAt` forward, never back. Returns the stored one. */
  record(erasure: Erasure): Promise<Erasure>;
  /** Every erasure still kept. */
  list(): Promise<Erasure[]>;
}

/** Deletes every item a store holds about one user (by pseudonym); returns how many of each kind it deleted. */
export interface UserDataEraser {
  eraseUser(userId: string): Promise<Record<string, number>>;
}

/**
 * The audit trail's store (rules A1–A5 in `audit.ts`). Entries are append-only: `append` writes an entry once (a
 * retried write of the same entry changes nothing), `settle` sets a pending entry's outcome once.
 */
export interface AuditLog {
  /** Writes the entry unless an entry with its key (`at`, `id`) exists, which is then left as it is. */
  append(entry: AuditEntry): Promise<void>;
  /**
   * Records the outcome of the pending entry (`at`, `id`). Setting the outcome it already has is a no-op; an entry
   * that does not exist or has another outcome is refused with AuditConflictError.
   */
  settle(key: Pick<AuditEntry, 'at' | 'id'>, outcome: AuditOutcome): Promise<void>;
  /** Entries matching the query, newest first. */
  list(query: AuditQuery): Promise<AuditPage>;
}

/** Starts an execution of a state machine (Step Functions); starting one with an existing name changes nothing. */
export interface ExecutionStarter {
  start(stateMachineArn: string, name: string, input: unknown): Promise<void>;
}
