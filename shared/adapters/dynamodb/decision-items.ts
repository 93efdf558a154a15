/**
 * The decisions table's item layout, shared by the DynamoDB and in-memory adapters. One partition key,
 * `decisionId`, holds three kinds of item:
 * - `{decisionId}`: a decision (what feedback needs to become a reward), with the claim of the record that created it
 *   and `reached` (objective → claim of the event that first reached it);
 * - `USER#{userId}`: the user's join state (recent decisions, stage per decision point, held events, `through`) and
 *   its `version`;
 * - `EVENT#{length of userId}:{userId}{eventId}`: the claim of the first accepted record of an event (F3). The length
 *   prefix keeps the key unambiguous whatever characters the ids contain.
 * Decisions and event claims carry `userId`, which the `byUser` index keys them by.
 */
import type { StoredDecision } from '../../core/domain.ts';
import type { EventClaim, HeldEvent, UserJoinState } from '../../core/feedback/join.ts';
import type { StoredUser } from '../../core/ports.ts';
import { eventRecordSchema } from '../../core/schemas.ts';

export const userKey = (userId: string) => `USER#${userId}`;
/** Item keys starting so are event claims; every other item with a `userId` is a decision. */
export const EVENT_KEY_PREFIX = 'EVENT#';
/**
 * Global secondary index of decisions and event claims by `userId` (keys only), for erasing a user's items. User items
 * have no `userId` attribute: their key is derived from the user's (`userKey`).
 */
export const DECISIONS_BY_USER_INDEX = 'byUser';
export const eventKey = (userId: string, eventId: string) => `${EVENT_KEY_PREFIX}${userId.length}:${userId}${eventId}`;

export function toDecision(item: Record<string, unknown>): StoredDecision {
  return {
    decisionId: String(item.decisionId),
    decisionPoint: String(item.decisionPoint),
    userId: String(item.userId),
    at: Number(item.at),
    chosen: item.chosen as string[],
    chosenFeatures: item.chosenFeatures as number[][],
    x: item.x as number[],
    propensity: Number(item.propensity),
    ...(item.candidateCount === undefined ? {} : { candidateCount: Number(item.candidateCount) }),
    modelVersion: String(item.modelVersion),
    attributionWindowSeconds: Number(item.attributionWindowSeconds),
    rewards: (item.rewards ?? {}) as Record<string, number>,
    objectives: (item.objectives ?? []) as StoredDecision['objectives'],
    ...(item.rewardBounds ? { rewardBounds: item.rewardBounds as { min: number; max: number } } : {}),
    ...(typeof item.acceptEventValues === 'boolean' ? { acceptEventValues: item.acceptEventValues } : {}),
    claim: String(item.claim),
  };
}

/** The user item's attributes (no undefined values: both adapters store exactly this). */
export function userAttributes(user: StoredUser, version: number, expiresAt: number): Record<string, unknown> {
  const s = user.state;
  return {
    decisionId: userKey(user.userId),
    recent: s.recent.map((r) => ({ id: r.decisionId, dp: r.decisionPoint, at: r.at })),
    stages: s.stages,
    held: s.held.map(heldAttributes),
    through: s.through,
    version,
    expiresAt,
  };
}

function heldAttributes(h: HeldEvent): Record<string, unknown> {
  return {
    claim: h.claim,
    data: JSON.stringify(h.record),
    ...(h.applied
      ? {
          applied: {
            by: h.applied.by,
            outcome: h.applied.outcome,
            ...(h.applied.move ? { move: moveAttributes(h.applied.move) } : {}),
          },
        }
      : {}),
  };
}

const moveAttributes = (m: { from: string | undefined; to: string }) => ({
  to: m.to,
  ...(m.from !== undefined ? { from: m.from } : {}),
});
const toMove = (m: unknown) => {
  const o = m as { from?: string; to: string } | undefined;
  return o ? { from: o.from, to: String(o.to) } : undefined;
};

/** Reads a user item; items from before the join state existed (a `latest` pointer) read as an empty history. */
export function toUser(item: Record<string, unknown>): StoredUser {
  const recent = (Array.isArray(item.recent) ? item.recent : []) as { id: string; dp: string; at: number }[];
  const held = (Array.isArray(item.held) ? item.held : []) as {
    claim: string;
    data: string;
    applied?: { by: string; outcome: string; move?: unknown };
  }[];
  const state: UserJoinState = {
    recent: recent.map((r) => ({ decisionId: String(r.id), decisionPoint: String(r.dp), at: Number(r.at) })),
    // Items from before stages were kept per decision point (a global `stage`) read as no stage anywhere.
    stages: (item.stages && typeof item.stages === 'object' ? item.stages : {}) as UserJoinState['stages'],
    held: held.map((h) => ({
      claim: String(h.claim),
      record: eventRecordSchema.parse(JSON.parse(h.data)),
      applied: h.applied
        ? {
            by: String(h.applied.by),
            outcome: h.applied.outcome as NonNullable<HeldEvent['applied']>['outcome'],
            move: toMove(h.applied.move),
          }
        : undefined,
    })),
    through: (item.through ?? {}) as Record<string, string>,
  };
  return {
    userId: String(item.decisionId).slice('USER#'.length),
    state,
    version: typeof item.version === 'number' ? item.version : undefined,
  };
}

/** The user's stage in a decision point, from a (possibly projected) user item. */
export function stageIn(item: Record<string, unknown> | undefined, decisionPoint: string): string | undefined {
  const stages = item?.stages as Record<string, { stage?: unknown }> | undefined;
  const stage = stages?.[decisionPoint]?.stage;
  return typeof stage === 'string' ? stage : undefined;
}

export function claimAttributes(c: EventClaim, expiresAt: number): Record<string, unknown> {
  return {
    decisionId: eventKey(c.userId, c.eventId),
    userId: c.userId,
    eventId: c.eventId,
    claim: c.claim,
    ...(c.decisionId !== undefined ? { joined: c.decisionId } : {}),
    ...(c.move ? { move: moveAttributes(c.move) } : {}),
    ...(c.by !== undefined ? { by: c.by } : {}),
    expiresAt,
  };
}

export function toClaim(item: Record<string, unknown>): EventClaim {
  return {
    userId: String(item.userId),
    eventId: String(item.eventId),
    claim: String(item.claim),
    decisionId: typeof item.joined === 'string' ? item.joined : undefined,
    move: toMove(item.move),
    by: typeof item.by === 'string' ? item.by : undefined,
  };
}
