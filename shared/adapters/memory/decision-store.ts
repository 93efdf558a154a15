/**
 * In-memory implementation of the DecisionStore port (the join index), with the DynamoDB adapter's semantics: one
 * table keyed by `decisionId` holding decisions and `USER#{userId}` items, each operation the same single-item
 * conditional write as there:
 * - `claimDecision`: first writer wins (`attribute_not_exists(decisionId)`); a loser reads the stored entry back;
 * - `claimEvents`/`claimReached`: the decision must exist (else DynamoDB's ConditionalCheckFailedException), and each
 *   id keeps its first claim (`if_not_exists`), atomically per decision;
 * - `moveStage`: applied only if the event is later than the stage's last change; `prevStage` and `stageClaim` let a
 *   redelivery of the same record get the same answer;
 * - `setLatestDecision`: the pointer only moves forward in time.
 * See `test/adapters/memory-contract.test.ts`, which holds both implementations to the same assertions.
 */
import type { StoredDecision } from '../../core/domain.ts';
import type { DecisionStore } from '../../core/ports.ts';
import { CLAIMS_PER_UPDATE, NO_STAGE, toDecision, userKey } from '../dynamodb/decision-items.ts';
import { type Attributes, checkKey, conditionFailed, fromStored, toStored, validationError } from './item.ts';

const KEYS = ['decisionId'] as const;

/** DynamoDB's limit on the length of any expression string. */
export const MAX_EXPRESSION_BYTES = 4096;

/** Length of the DynamoDB adapter's claim expression for n ids: `SET #events.#e0 = if_not_exists(#events.#e0, :c0), …`. */
function updateExpressionLength(n: number): number {
  let length = 'SET '.length + 2 * (n - 1);
  for (let i = 0; i < n; i++) length += `#events.#e${i} = if_not_exists(#events.#e${i}, :c${i})`.length;
  return length;
}

export class MemoryDecisionStore implements DecisionStore {
  private readonly table = new Map<string, Attributes>();

  constructor(
    /** How long entries would be kept before TTL deletes them (stored as `expiresAt`, as in DynamoDB; never enforced). */
    private readonly retentionSeconds = 90 * 86400,
  ) {}

  async claimDecision(decision: StoredDecision): Promise<StoredDecision> {
    const attrs = toStored(
      {
        ...decision,
        events: {},
        reached: {},
        expiresAt: Math.floor(decision.at / 1000) + decision.attributionWindowSeconds + this.retentionSeconds,
      },
      KEYS,
    );
    // A decision id is written once: a redelivered decision record must not replace the entry (or its events).
    const existing = this.table.get(decision.decisionId);
    if (existing === undefined) {
      this.table.set(decision.decisionId, attrs);
      return decision;
    }
    return toDecision(fromStored(existing));
  }

  async getDecisions(decisionIds: readonly string[]): Promise<Map<string, StoredDecision>> {
    const found = new Map<string, StoredDecision>();
    for (const item of this.batchGet(decisionIds)) {
      const d = toDecision(item);
      found.set(d.decisionId, d);
    }
    return found;
  }

  claimEvents(decisionId: string, claims: ReadonlyMap<string, string>): Promise<Map<string, string>> {
    return this.claimInMap(decisionId, 'events', claims);
  }

  claimReached(decisionId: string, claims: ReadonlyMap<string, string>): Promise<Map<string, string>> {
    return this.claimInMap(decisionId, 'reached', claims);
  }

  async moveStage(
    userId: string,
    stage: string,
    at: number,
    claim: string,
  ): Promise<{ moved: boolean; previous: string | undefined }> {
    const key = userKey(userId);
    checkKey('decisionId', key);
    const stored = this.table.get(key);
    const item = stored ? fromStored(stored) : { decisionId: key };
    // Stage changes are applied in event-time order: an older event than the current stage is stale.
    if (item.stageAt === undefined || (item.stageAt as number) < at) {
      const prev = item.stage === undefined ? NO_STAGE : item.stage;
      this.table.set(key, toStored({ ...item, prevStage: prev, stage, stageAt: at, stageClaim: claim }, KEYS));
      return { moved: true, previous: prev === NO_STAGE ? undefined : String(prev) };
    }
    // The same record redelivered recognises its own move and gets the same answer.
    if (item.stageClaim === claim) {
      return { moved: true, previous: item.prevStage === NO_STAGE ? undefined : String(item.prevStage) };
    }
    return { moved: false, previous: undefined };
  }

  async getUserStage(userId: string): Promise<string | undefined> {
    const key = userKey(userId);
    checkKey('decisionId', key);
    const stored = this.table.get(key);
    const stage = stored ? fromStored(stored).stage : undefined;
    return typeof stage === 'string' ? stage : undefined;
  }

  async setLatestDecision(userId: string, decisionId: string, at: number): Promise<void> {
    const key = userKey(userId);
    checkKey('decisionId', key);
    const stored = this.table.get(key);
    const item = stored ? fromStored(stored) : { decisionId: key };
    // The latest-decision pointer only moves forward in time, whatever order updaters apply it in.
    if (item.at !== undefined && !((item.at as number) < at)) return;
    this.table.set(
      key,
      toStored({ ...item, latest: decisionId, at, expiresAt: Math.floor(at / 1000) + this.retentionSeconds }, KEYS),
    );
  }

  async getLatestDecisions(userIds: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const item of this.batchGet(userIds.map(userKey))) {
      // A user item that only holds a stage has no latest decision.
      if (typeof item.latest === 'string') found.set(String(item.decisionId).slice('USER#'.length), item.latest);
    }
    return found;
  }

  private async claimInMap(
    decisionId: string,
    attribute: 'events' | 'reached',
    claims: ReadonlyMap<string, string>,
  ): Promise<Map<string, string>> {
    if (claims.size === 0) return new Map();
    checkKey('decisionId', decisionId);
    // The DynamoDB adapter claims in chunks of CLAIMS_PER_UPDATE ids so each UpdateExpression stays under DynamoDB's
    // 4 KB (dynalite does not check this, so the contract test cannot: see its "DynamoDB limits" section).
    if (updateExpressionLength(Math.min(claims.size, CLAIMS_PER_UPDATE)) > MAX_EXPRESSION_BYTES) {
      throw validationError('Invalid UpdateExpression: Expression size has exceeded the maximum allowed size');
    }
    const stored = this.table.get(decisionId);
    // The decision must exist: callers only claim events for decisions they have read.
    if (stored === undefined) throw conditionFailed();
    const item = fromStored(stored);
    const map = item[attribute];
    if (map === null || typeof map !== 'object' || Array.isArray(map) || map instanceof Uint8Array) {
      throw validationError('The document path provided in the update expression is invalid for update');
    }
    const events = map as Record<string, string>;
    // if_not_exists keeps the first claim: a duplicate event (same id, another record) does not take it over.
    for (const [eventId, claim] of claims) if (events[eventId] === undefined) events[eventId] = claim;
    this.table.set(decisionId, toStored(item, KEYS));
    const result = new Map<string, string>();
    for (const eventId of claims.keys()) {
      const claimed = events[eventId];
      if (claimed !== undefined) result.set(eventId, claimed);
    }
    return result;
  }

  private batchGet(keys: readonly string[]): Record<string, unknown>[] {
    const items: Record<string, unknown>[] = [];
    for (const key of new Set(keys)) {
      checkKey('decisionId', key);
      const stored = this.table.get(key);
      if (stored) items.push(fromStored(stored));
    }
    return items;
  }
}
