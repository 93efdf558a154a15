/**
 * In-memory implementation of the DecisionStore port (the join index), with the DynamoDB adapter's semantics: one
 * table keyed by `decisionId` holding decisions, `USER#…` and `EVENT#…` items (layout in
 * `../dynamodb/decision-items.ts`), each operation the same single-item conditional write as there:
 * - `claimDecision` and `claimEvent`: first writer wins (`attribute_not_exists(decisionId)`); a loser reads the
 *   stored item back;
 * - `claimReached`: the decision must exist (else DynamoDB's ConditionalCheckFailedException), and each objective
 *   keeps its first claim (`if_not_exists`);
 * - `putUser`: conditional on the item version (VersionConflictError).
 * See `test/adapters/memory-contract.emu.test.ts`, which holds both implementations to the same assertions.
 */
import type { StoredDecision } from '../../core/domain.ts';
import { VersionConflictError } from '../../core/errors.ts';
import { type EventClaim, pairKey } from '../../core/feedback/join.ts';
import type { DecisionStore, StoredUser } from '../../core/ports.ts';
import {
  claimAttributes,
  eventKey,
  stageIn,
  toClaim,
  toDecision,
  toUser,
  userAttributes,
  userKey,
} from '../dynamodb/decision-items.ts';
import { type Attributes, checkKey, conditionFailed, fromStored, toStored, validationError } from './item.ts';

const KEYS = ['decisionId'] as const;

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

  async claimReached(decisionId: string, claims: ReadonlyMap<string, string>): Promise<Map<string, string>> {
    if (claims.size === 0) return new Map();
    checkKey('decisionId', decisionId);
    const stored = this.table.get(decisionId);
    // The decision must exist: callers only claim for decisions they have read.
    if (stored === undefined) throw conditionFailed();
    const item = fromStored(stored);
    const map = item.reached;
    if (map === null || typeof map !== 'object' || Array.isArray(map) || map instanceof Uint8Array) {
      throw validationError('The document path provided in the update expression is invalid for update');
    }
    const reached = map as Record<string, string>;
    // F5: if_not_exists keeps the first event that reached the objective.
    for (const [objective, claim] of claims) if (reached[objective] === undefined) reached[objective] = claim;
    this.table.set(decisionId, toStored(item, KEYS));
    const result = new Map<string, string>();
    for (const objective of claims.keys()) {
      const claimed = reached[objective];
      if (claimed !== undefined) result.set(objective, claimed);
    }
    return result;
  }

  async getUserStage(userId: string, decisionPoint: string): Promise<string | undefined> {
    const key = userKey(userId);
    checkKey('decisionId', key);
    const stored = this.table.get(key);
    return stageIn(stored ? fromStored(stored) : undefined, decisionPoint);
  }

  async getUsers(userIds: readonly string[]): Promise<Map<string, StoredUser>> {
    const found = new Map<string, StoredUser>();
    for (const item of this.batchGet(userIds.map(userKey))) {
      const user = toUser(item);
      found.set(user.userId, user);
    }
    return found;
  }

  async putUser(user: StoredUser, expectedVersion: number | undefined): Promise<void> {
    const key = userKey(user.userId);
    checkKey('decisionId', key);
    const stored = this.table.get(key);
    const current = stored ? fromStored(stored).version : undefined;
    // The user item is a prefix of the user's records: only the writer that read this version may extend it.
    const ok = expectedVersion === undefined ? current === undefined : current === expectedVersion;
    if (!ok) throw new VersionConflictError(`user item changed since version ${expectedVersion}`);
    this.table.set(key, toStored(userAttributes(user, (expectedVersion ?? 0) + 1, this.expiry()), KEYS));
  }

  async getEventClaims(pairs: readonly { userId: string; eventId: string }[]): Promise<Map<string, EventClaim>> {
    const found = new Map<string, EventClaim>();
    for (const item of this.batchGet(pairs.map((p) => eventKey(p.userId, p.eventId)))) {
      const c = toClaim(item);
      found.set(pairKey(c.userId, c.eventId), c);
    }
    return found;
  }

  async claimEvent(claim: EventClaim): Promise<EventClaim> {
    const key = eventKey(claim.userId, claim.eventId);
    checkKey('decisionId', key);
    const stored = this.table.get(key);
    // F3: the first accepted record of an event keeps the claim.
    if (stored !== undefined) return toClaim(fromStored(stored));
    this.table.set(key, toStored(claimAttributes(claim, this.expiry()), KEYS));
    return claim;
  }

  private expiry(): number {
    return Math.floor(Date.now() / 1000) + this.retentionSeconds;
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
