/**
 * The join: which decision each feedback event answers, what counts once, and how stages move: rules F1–F3 and F6
 * of docs/ARCHITECTURE.md §3, as one pure fold over records in stream order. The updater runs it over each batch
 * (with the users' stored state, `shared/app/learn/`), the retraining map step over a user's whole history; what an
 * event then earns is `rewardsForEvent` (F4).
 *
 * The fold is deterministic and reads the stores only through lookups given to it, so the updater can run it, fetch
 * what it reported missing, and run it again. Everything a redelivered record needs to get the same answer is in
 * the state it returns (a user's prefix `through`, applied held events) or in the claims it asks the caller to write:
 * - A record the user's stored state already includes (`through`) changes no state again; its effects on the
 *   statistics are re-derived from what was stored (the decision's creator claim, the event's claim, the held
 *   events applied at a decision), so the statistics' high-water marks can drop what was already written.
 * - A record not yet included is joined against the state its predecessors left, and where an earlier attempt
 *   already wrote its event claim, that claim's result is reused.
 */
import type { StoredDecision } from '../domain.ts';
import type { EventRecord } from '../schemas.ts';
import { CLOCK_SKEW_MS, eventTime, refuseValue, type StageMove } from './reward.ts';

/** Decisions per user an event without `decisionId` can answer (F2b). */
export const RECENT_DECISIONS = 16;
/** Events per user that can wait for their decision at once; more are dead-lettered (`held-full`). */
export const MAX_HELD_EVENTS = 16;
/** Held events already applied, kept so a redelivered decision record re-derives what it credited. */
export const MAX_APPLIED_HELD = 16;
/**
 * Decision ids the decisions function gives its uniform fallback answers (served while the model store is down): they
 * are not logged, so feedback naming one can never be learned (F2c).
 */
export const FALLBACK_DECISION_PREFIX = 'fallback-';
/**
 * Decision ids of decision jobs (`j-<job>-<chunk>-<row>`, shared/app/decision-jobs/job.ts). Their records never
 * travel on the stream: the updater's lookup finds one in its job's lake object or nowhere, so an event naming one
 * that is not found is refused at once (`no-decision`), not held. They answer only events that name them (F2d): a
 * campaign's decision is not the "latest decision" of a user who came back to the site.
 */
export const JOB_DECISION_PREFIX = 'j-';
/** Shards whose position a user's state remembers (more than one only around a reshard). */
const MAX_THROUGH_SHARDS = 4;

/** Why a record teaches nothing; stable codes (the dead letters' `code`). */
export type DeadCode =
  | 'malformed'
  | 'another-user'
  | 'out-of-scope'
  | 'action-not-chosen'
  | 'other-decision-point'
  | 'value-not-accepted'
  | 'value-out-of-range'
  | 'no-decision'
  | 'fallback-decision'
  | 'held-full';

export interface Position {
  shardId: string;
  seq: bigint;
}
/** The claim of a record: `shardId/sequenceNumber`, unique per stream record. */
export const claimOf = (p: Position) => `${p.shardId}/${p.seq}`;

export interface RecentDecision {
  decisionId: string;
  decisionPoint: string;
  at: number;
}

export interface HeldEvent {
  /** Claim of the event's record. */
  claim: string;
  /** The record, its `scope` included (checked when the decision arrives, F8). */
  record: EventRecord;
  /** Set once the decision's record arrived: which record applied it, and what came of it. */
  applied?: { by: string; outcome: 'counted' | 'duplicate' | DeadCode; move?: StageMove | undefined } | undefined;
}

/** What the join keeps per user (the user item): a prefix of the user's records in stream order. */
export interface UserJoinState {
  /** At most RECENT_DECISIONS, ascending by time (ties in the order they were read). */
  recent: RecentDecision[];
  /** Per decision point: the user's stage there and when they entered it (F6). */
  stages: Record<string, { stage: string; at: number }>;
  held: HeldEvent[];
  /** Per shard, the sequence number of the last of the user's records this state includes. */
  through: Record<string, string>;
}

export const emptyUserState = (): UserJoinState => ({ recent: [], stages: {}, held: [], through: {} });

/** The first accepted record of (userId, eventId) and what it was joined to (F3). */
export interface EventClaim {
  userId: string;
  eventId: string;
  /** Claim of the record that counts. */
  claim: string;
  /** The decision it answers; absent for a stage event applied without a decision. */
  decisionId?: string | undefined;
  move?: StageMove | undefined;
  /** For a held event: the claim of the decision record that applied it. */
  by?: string | undefined;
}

/** Identity of an event (F3); the length prefix keeps it unambiguous whatever characters the ids contain. */
export const pairKey = (userId: string, eventId: string) => `${userId.length}:${userId}${eventId}`;

/** A counted event, to be credited to its decision (or a stage move without one). */
export interface Application {
  /** Claim of the event's own record. */
  claim: string;
  record: EventRecord;
  decision: StoredDecision | undefined;
  move: StageMove | undefined;
  /** Event time (F2). */
  t: number;
  /** True when its event claim must still be written (the first time it counts). */
  fresh: boolean;
}

export type Outcome =
  | {
      kind: 'decision';
      decision: StoredDecision;
      /** False for a record the user state already included (nothing to write but the statistics). */
      fresh: boolean;
      /** Held events applied at this record, in their order; `dead` ones are refused (F2c) and take nothing. */
      applications: Application[];
      refusedHeld: { held: HeldEvent; code: DeadCode }[];
      /** Held events applied here that turned out to be duplicates: their hold ends without effect. */
      duplicateHeld: HeldEvent[];
    }
  | { kind: 'event'; application: Application }
  | { kind: 'held'; decisionId: string }
  | { kind: 'duplicate' }
  /** `decisionPoint`: whose learning the record would have changed, when known (the decision's, else the event's). */
  | { kind: 'dead'; code: DeadCode; message: string; decisionPoint?: string | undefined }
  /** Already included and nothing to credit (a dead letter or a duplicate the first time). */
  | { kind: 'done' };

export interface JoinInput {
  pos: Position;
  record: { kind: 'decision'; decision: Omit<StoredDecision, 'claim'> } | { kind: 'event'; record: EventRecord };
}

/** A lookup answers the stored value, `null` when the store has none, or `undefined` when it was not read yet. */
export interface JoinLookups {
  user(userId: string): UserJoinState | null | undefined;
  decision(decisionId: string): StoredDecision | null | undefined;
  claim(userId: string, eventId: string): EventClaim | null | undefined;
}

export interface JoinResult {
  outcomes: Outcome[];
  /** Per input: its user's state after it (undefined when it changed nothing, e.g. already included). */
  userAfter: (UserJoinState | undefined)[];
  /** Claims taken by this fold (to write, first writer wins). */
  newClaims: Map<string, EventClaim>;
  /** What the lookups did not have yet; non-empty means the result is incomplete: fetch and fold again. */
  missing: { users: Set<string>; decisions: Set<string>; claims: Map<string, { userId: string; eventId: string }> };
}

class Missing extends Error {}

/**
 * Folds `inputs` (one batch, in stream order) over the stored state. When `missing` is non-empty the outcomes are
 * not to be used: fetch the missing items and call again.
 */
export function joinBatch(inputs: readonly JoinInput[], lookups: JoinLookups): JoinResult {
  const missing: JoinResult['missing'] = { users: new Set(), decisions: new Set(), claims: new Map() };
  const users = new Map<string, UserJoinState>();
  const created = new Map<string, StoredDecision>();
  const newClaims = new Map<string, EventClaim>();
  const outcomes: Outcome[] = [];
  const userAfter: (UserJoinState | undefined)[] = [];

  const userOf = (userId: string): UserJoinState => {
    let u = users.get(userId);
    if (u) return u;
    const stored = lookups.user(userId);
    if (stored === undefined) {
      missing.users.add(userId);
      throw new Missing();
    }
    u = stored === null ? emptyUserState() : cloneUserState(stored);
    users.set(userId, u);
    return u;
  };
  const decisionOf = (decisionId: string): StoredDecision | null => {
    const mine = created.get(decisionId);
    if (mine) return mine;
    const stored = lookups.decision(decisionId);
    if (stored === undefined) {
      missing.decisions.add(decisionId);
      throw new Missing();
    }
    return stored;
  };
  /**
   * The pair's claim as seen at stream position `at`. A claim written by a later record of the same shard comes from
   * an attempt that failed after that record's writes; at `at` the pair had not counted yet (F3 is about stream
   * order), and that later record will find out again when it is redelivered.
   */
  const claimOfPair = (userId: string, eventId: string, at: Position): EventClaim | null => {
    const key = pairKey(userId, eventId);
    const mine = newClaims.get(key);
    if (mine) return mine;
    const stored = lookups.claim(userId, eventId);
    if (stored === undefined) {
      missing.claims.set(key, { userId, eventId });
      throw new Missing();
    }
    return stored && isAfter(stored.claim, at) ? null : stored;
  };

  /** F3–F9 for an event that answers `d` (undefined: a stage event alone), the first time it is considered. */
  const accept = (
    u: UserJoinState,
    claim: string,
    record: EventRecord,
    d: StoredDecision | undefined,
    by: string | undefined,
  ): Application | { code: DeadCode; message: string; decisionPoint?: string | undefined } => {
    const e = record.event;
    const scope = record.scope;
    // The order of the checks is part of the specification (docs/ARCHITECTURE.md §3).
    const dp = d?.decisionPoint ?? e.decisionPoint;
    if (dp !== undefined && scope !== undefined && !scope.includes(dp)) {
      return {
        code: 'out-of-scope',
        message: `event ${e.eventId}: decision point ${dp} is outside its API key's`,
        decisionPoint: dp,
      };
    }
    if (d && e.actionId !== undefined && !d.chosen.includes(e.actionId)) {
      return {
        code: 'action-not-chosen',
        message: `event ${e.eventId}: action ${e.actionId} was not chosen in decision ${d.decisionId}`,
        decisionPoint: dp,
      };
    }
    if (d && e.decisionPoint !== undefined && e.decisionPoint !== d.decisionPoint) {
      return {
        code: 'other-decision-point',
        message: `event ${e.eventId}: decision ${d.decisionId} belongs to decision point ${d.decisionPoint}, not ${e.decisionPoint}`,
        decisionPoint: dp,
      };
    }
    const refused = d ? refuseValue(d, e.value) : undefined;
    if (refused) return { code: refused.code, message: `event ${e.eventId}: ${refused.message}`, decisionPoint: dp };
    // F6: a stage event concerns its decision point, else its decision's.
    if (e.type === 'stage' && dp === undefined) {
      return {
        code: 'no-decision',
        message: `event ${e.eventId}: a stage event needs a decisionPoint or a decision to say whose stage it is`,
      };
    }
    const t = eventTime(e, record.receivedAt);
    const move = e.type === 'stage' ? moveStage(u, dp!, e.stage!, t) : undefined;
    newClaims.set(pairKey(e.userId, e.eventId), {
      userId: e.userId,
      eventId: e.eventId,
      claim,
      decisionId: d?.decisionId,
      move,
      by,
    });
    return { claim, record, decision: d, move, t, fresh: true };
  };

  /** The result an earlier attempt stored in the claim, as an application (its stage move re-applied if asked). */
  const fromClaim = (c: EventClaim, record: EventRecord, replayMove: UserJoinState | undefined): Application => {
    const d = c.decisionId === undefined ? undefined : (decisionOf(c.decisionId) ?? undefined);
    const t = eventTime(record.event, record.receivedAt);
    const dp = d?.decisionPoint ?? record.event.decisionPoint;
    if (replayMove && c.move && dp !== undefined) replayMove.stages[dp] = { stage: c.move.to, at: t };
    return { claim: c.claim, record, decision: d, move: c.move, t, fresh: false };
  };

  for (const input of inputs) {
    const claim = claimOf(input.pos);
    try {
      const userId = input.record.kind === 'decision' ? input.record.decision.userId : input.record.record.event.userId;
      const u = userOf(userId);
      const seen = u.through[input.pos.shardId];
      const included = seen !== undefined && input.pos.seq <= BigInt(seen);
      const outcome = included ? replayIncluded(input, claim, u) : foldRecord(input, claim, u);
      outcomes.push(outcome);
      if (included) userAfter.push(undefined);
      else {
        setThrough(u, input.pos);
        userAfter.push(cloneUserState(u));
      }
    } catch (err) {
      if (!(err instanceof Missing)) throw err;
      // Keep folding: later records may report more missing items, so one fetch round serves the whole batch.
      outcomes.push({ kind: 'done' });
      userAfter.push(undefined);
    }
  }
  return { outcomes, userAfter, newClaims, missing };

  function foldRecord(input: JoinInput, claim: string, u: UserJoinState): Outcome {
    if (input.record.kind === 'decision') {
      const decision: StoredDecision = { ...input.record.decision, claim };
      const existing = decisionOf(decision.decisionId);
      // F1: a decision id is created once; the creating record recognises itself when redelivered.
      if (existing && existing.claim !== claim) return { kind: 'duplicate' };
      created.set(decision.decisionId, decision);
      addRecent(u, decision);
      return applyHeld(u, existing ?? decision, claim, input.pos);
    }
    const record = input.record.record;
    const e = record.event;
    const stored = claimOfPair(e.userId, e.eventId, input.pos);
    if (stored) {
      if (stored.claim !== claim) return { kind: 'duplicate' };
      // An earlier attempt counted this very record: same answer, same stage move.
      if (stored.by !== undefined) {
        holdAgain(u, claim, record);
        return { kind: 'held', decisionId: stored.decisionId! };
      }
      return { kind: 'event', application: fromClaim(stored, record, u) };
    }
    if (e.decisionId?.startsWith(FALLBACK_DECISION_PREFIX)) {
      return {
        kind: 'dead',
        code: 'fallback-decision',
        message: `event ${e.eventId}: decision ${e.decisionId} was a fallback answer (model store unavailable), never logged`,
        decisionPoint: e.decisionPoint,
      };
    }
    if (e.decisionId !== undefined) {
      const d = decisionOf(e.decisionId);
      if (!d && e.decisionId.startsWith(JOB_DECISION_PREFIX)) {
        return {
          kind: 'dead',
          code: 'no-decision',
          message: `event ${e.eventId}: ${e.decisionId} is no decision of a decision job's output`,
          decisionPoint: e.decisionPoint,
        };
      }
      if (!d) {
        // F2a: wait for the decision's record.
        if (u.held.filter((h) => !h.applied).length >= MAX_HELD_EVENTS) {
          return {
            kind: 'dead',
            code: 'held-full',
            message: `event ${e.eventId}: ${MAX_HELD_EVENTS} events of this user already wait for their decisions`,
            decisionPoint: e.decisionPoint,
          };
        }
        u.held.push({ claim, record });
        return { kind: 'held', decisionId: e.decisionId };
      }
      if (d.userId !== e.userId) {
        return {
          kind: 'dead',
          code: 'another-user',
          message: `event ${e.eventId}: decision ${d.decisionId} belongs to another user`,
          decisionPoint: d.decisionPoint,
        };
      }
      const a = accept(u, claim, record, d, undefined);
      return 'code' in a ? { kind: 'dead', ...a } : { kind: 'event', application: a };
    }
    // F2b: the user's latest decision at or before the event, else the earliest within the skew allowance after it.
    const picked = pickRecent(u.recent, e.decisionPoint, eventTime(e, record.receivedAt), record.scope);
    if (!picked && e.type !== 'stage') {
      return {
        kind: 'dead',
        code: 'no-decision',
        message: `event ${e.eventId}: the user has no decision${e.decisionPoint ? ` in ${e.decisionPoint}` : ''} at or before the event's time`,
        decisionPoint: e.decisionPoint,
      };
    }
    const d = picked ? (decisionOf(picked.decisionId) ?? undefined) : undefined;
    if (picked && !d) {
      // Only after the decision item's retention ran out (TTL) while the user kept coming back.
      return {
        kind: 'dead',
        code: 'no-decision',
        message: `event ${e.eventId}: the user's decision ${picked.decisionId} is no longer stored`,
        decisionPoint: picked.decisionPoint ?? e.decisionPoint,
      };
    }
    const a = accept(u, claim, record, d, undefined);
    return 'code' in a ? { kind: 'dead', ...a } : { kind: 'event', application: a };
  }

  /** F2a: the user's events held for this decision, applied now in their order. */
  function applyHeld(u: UserJoinState, decision: StoredDecision, claim: string, at: Position): Outcome {
    const applications: Application[] = [];
    const refusedHeld: { held: HeldEvent; code: DeadCode }[] = [];
    const duplicateHeld: HeldEvent[] = [];
    for (const h of u.held) {
      if (h.applied || h.record.event.decisionId !== decision.decisionId) continue;
      const e = h.record.event;
      const stored = claimOfPair(e.userId, e.eventId, at);
      if (stored && stored.claim !== h.claim) {
        h.applied = { by: claim, outcome: 'duplicate' };
        duplicateHeld.push(h);
        continue;
      }
      if (stored) {
        const a = fromClaim(stored, h.record, u);
        h.applied = { by: claim, outcome: 'counted', move: a.move };
        applications.push(a);
        continue;
      }
      const a = accept(u, h.claim, h.record, decision, claim);
      if ('code' in a) {
        h.applied = { by: claim, outcome: a.code };
        refusedHeld.push({ held: h, code: a.code });
        continue;
      }
      h.applied = { by: claim, outcome: 'counted', move: a.move };
      applications.push(a);
    }
    trimApplied(u);
    return { kind: 'decision', decision, fresh: true, applications, refusedHeld, duplicateHeld };
  }

  /** A record whose state effects are stored: only what it credits, from what was stored. */
  function replayIncluded(input: JoinInput, claim: string, u: UserJoinState): Outcome {
    if (input.record.kind === 'decision') {
      const stored = decisionOf(input.record.decision.decisionId);
      if (!stored || stored.claim !== claim) return { kind: 'done' };
      const applications: Application[] = [];
      for (const h of u.held) {
        if (h.applied?.by !== claim || h.applied.outcome !== 'counted') continue;
        const t = eventTime(h.record.event, h.record.receivedAt);
        applications.push({
          claim: h.claim,
          record: h.record,
          decision: stored,
          move: h.applied.move,
          t,
          fresh: false,
        });
      }
      return { kind: 'decision', decision: stored, fresh: false, applications, refusedHeld: [], duplicateHeld: [] };
    }
    const record = input.record.record;
    const stored = claimOfPair(record.event.userId, record.event.eventId, input.pos);
    if (!stored || stored.claim !== claim || stored.by !== undefined) return { kind: 'done' };
    return { kind: 'event', application: fromClaim(stored, record, undefined) };
  }

  function holdAgain(u: UserJoinState, claim: string, record: EventRecord) {
    if (!u.held.some((h) => h.claim === claim)) u.held.push({ claim, record });
  }
}

/** Whether the record of `claim` comes after `pos` in the same shard (records of other shards came before). */
function isAfter(claim: string, pos: Position): boolean {
  const slash = claim.lastIndexOf('/');
  return claim.slice(0, slash) === pos.shardId && BigInt(claim.slice(slash + 1)) > pos.seq;
}

/** F2b over a user's recent decisions (ascending by time). */
export function pickRecent(
  recent: readonly RecentDecision[],
  decisionPoint: string | undefined,
  t: number,
  scope?: readonly string[] | undefined,
): RecentDecision | undefined {
  let best: RecentDecision | undefined;
  let after: RecentDecision | undefined;
  for (const r of recent) {
    if (decisionPoint !== undefined && r.decisionPoint !== decisionPoint) continue;
    if (scope !== undefined && !scope.includes(r.decisionPoint)) continue;
    if (r.at <= t) best = r;
    else if (!after && r.at <= t + CLOCK_SKEW_MS) after = r;
  }
  return best ?? after;
}

/** F6: moves the user in `dp` if the event is later than their stage there; the move, or undefined when stale. */
function moveStage(u: UserJoinState, dp: string, stage: string, t: number): StageMove | undefined {
  const current = u.stages[dp];
  if (current !== undefined && t <= current.at) return undefined;
  u.stages[dp] = { stage, at: t };
  return { from: current?.stage, to: stage };
}

function addRecent(u: UserJoinState, d: RecentDecision): void {
  // F2d: a job's decision answers only events that name it.
  if (d.decisionId.startsWith(JOB_DECISION_PREFIX)) return;
  if (u.recent.some((r) => r.decisionId === d.decisionId)) return;
  let i = u.recent.length;
  while (i > 0 && u.recent[i - 1]!.at > d.at) i--;
  u.recent.splice(i, 0, { decisionId: d.decisionId, decisionPoint: d.decisionPoint, at: d.at });
  if (u.recent.length > RECENT_DECISIONS) u.recent.splice(0, u.recent.length - RECENT_DECISIONS);
}

function trimApplied(u: UserJoinState): void {
  const applied = u.held.filter((h) => h.applied);
  if (applied.length <= MAX_APPLIED_HELD) return;
  const drop = new Set(applied.slice(0, applied.length - MAX_APPLIED_HELD));
  u.held = u.held.filter((h) => !drop.has(h));
}

function setThrough(u: UserJoinState, pos: Position): void {
  delete u.through[pos.shardId];
  u.through[pos.shardId] = pos.seq.toString();
  const shards = Object.keys(u.through);
  for (const s of shards.slice(0, Math.max(0, shards.length - MAX_THROUGH_SHARDS))) delete u.through[s];
}

export function cloneUserState(u: UserJoinState): UserJoinState {
  return {
    recent: u.recent.map((r) => ({ ...r })),
    stages: Object.fromEntries(Object.entries(u.stages).map(([dp, st]) => [dp, { ...st }])),
    held: u.held.map((h) => ({ ...h, applied: h.applied ? { ...h.applied } : undefined })),
    through: { ...u.through },
  };
}
