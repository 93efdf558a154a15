/**
 * Where feedback is applied: one batch of stream records (all from one Kinesis shard, in sequence order) becomes
 * updates of the per-action bandit statistics, meeting the specification of docs/ARCHITECTURE.md §3 (rules F1–F7)
 * exactly once, without transactions (§4 says how). A batch runs in phases that share one state (`FeedbackBatch`):
 *
 * 1. parse: records that are not valid JSON or not a known record are dead letters (`malformed`);
 * 2. join: the pure fold of `core/feedback/join.ts` over the batch, against the users, decisions and event claims it
 *    asks for (read in rounds until it has all it needs);
 * 3. write: per record, what makes its result durable and recognisable when redelivered: decision items (first
 *    writer wins), event claims (first writer wins), dead letters and held events;
 * 4. users: each user's item becomes the state after the user's records up to the first one whose writes failed;
 * 5. credit: rewards (`rewardsForEvent`) and intent labels (first reaching event, claimed on the decision) become
 *    contributions to statistics items;
 * 6. statistics: one conditional read-modify-write per touched item, below the lowest failure (`statistics.ts`).
 *
 * If anything fails, the batch reports the lowest sequence number whose effects are not all committed; Lambda (or
 * the local poller) redelivers from there, and every phase recognises what an earlier attempt already did.
 */
import {
  DEFAULT_OBJECTIVE,
  type DeadLetter,
  INTENT_ACTION,
  intentObjective,
  type StoredDecision,
} from '../../core/domain.ts';
import { VersionConflictError } from '../../core/errors.ts';
import {
  type Application,
  claimOf,
  type EventClaim,
  type JoinInput,
  type JoinResult,
  joinBatch,
  type Outcome,
  pairKey,
} from '../../core/feedback/join.ts';
import { rewardsForEvent } from '../../core/feedback/reward.ts';
import type { DeadLetterStore, DecisionStore, StateStore, StoredUser } from '../../core/ports.ts';
import {
  candidateCountOf,
  type DecisionRecord,
  describeZodError,
  type EventRecord,
  streamRecordSchema,
} from '../../core/schemas.ts';
import { settleLimit } from '../concurrency.ts';
import { StatisticsWriter, uniformWeight } from './statistics.ts';

export interface StreamEntry {
  shardId: string;
  sequenceNumber: string;
  /** When Kinesis received the record (ms since the epoch). */
  arrivalMs: number;
  /** The record's payload, decoded from base64 to UTF-8. */
  data: string;
}

export interface BatchOutcome {
  /** Sequence number to redeliver from, when not everything was committed. */
  failedFrom: string | undefined;
  decisions: number;
  duplicateDecisions: number;
  rewards: number;
  ignoredEvents: number;
  duplicateEvents: number;
  lateEvents: number;
  /** Stage events that moved a user's stage. */
  stageChanges: number;
  /** Stage events with no decision to reward (the stage still moved). */
  unattributedEvents: number;
  /** Events that wait for their decision's record (F2a). */
  heldEvents: number;
  /** Held events applied when their decision's record arrived. */
  heldApplied: number;
  deadLettered: number;
  statsWrites: number;
  /** Contributions skipped because the item already included them (redelivery). */
  alreadyApplied: number;
  /** Statistics writes that lost an optimistic-concurrency race and were re-applied. */
  conflictRetries: number;
  /** Decision points whose statistics this batch wrote or found already written: their snapshots to publish. */
  decisionPoints: string[];
}

export interface ApplyBatchDeps {
  state: StateStore;
  decisions: DecisionStore;
  deadLetters: DeadLetterStore;
  /** Number of writer partitions per action (spreads a hot action's writes over that many items). */
  statsPartitions: number;
  now?: () => number;
  /** Maximum optimistic-concurrency retries per statistics item before the batch reports a failure. */
  maxConflictRetries?: number;
  /** Told of the refused records once their dead letters are stored (the updater counts them by rule as a metric). */
  onDeadLettered?: (entries: readonly DeadLetter[]) => void;
}

/** An outcome with every count at zero (also the starting point of callers that sum outcomes). */
export function emptyOutcome(): BatchOutcome {
  return {
    failedFrom: undefined,
    decisions: 0,
    duplicateDecisions: 0,
    rewards: 0,
    ignoredEvents: 0,
    duplicateEvents: 0,
    lateEvents: 0,
    stageChanges: 0,
    unattributedEvents: 0,
    heldEvents: 0,
    heldApplied: 0,
    deadLettered: 0,
    statsWrites: 0,
    alreadyApplied: 0,
    conflictRetries: 0,
    decisionPoints: [],
  };
}

/**
 * Applies one batch. A user item written by another updater meanwhile (a racing invocation on the same shard) makes
 * the batch run again at once, from the stored state: what the other updater committed is then recognised as
 * included, and the rest applies. Without that, two updaters on one shard would keep failing each other's batches.
 */
export async function applyBatch(entries: readonly StreamEntry[], deps: ApplyBatchDeps): Promise<BatchOutcome> {
  const total = emptyOutcome();
  for (let attempt = 0; ; attempt++) {
    const batch = new FeedbackBatch(entries, deps);
    await batch.run();
    const { failedFrom: _, decisionPoints, ...counts } = batch.outcome;
    for (const [k, v] of Object.entries(counts)) {
      total[k as Exclude<keyof BatchOutcome, 'failedFrom' | 'decisionPoints'>] += v;
    }
    total.decisionPoints = [...new Set([...total.decisionPoints, ...decisionPoints])];
    total.failedFrom = batch.outcome.failedFrom;
    if (batch.outcome.failedFrom === undefined || !batch.lostUserRace || attempt >= MAX_USER_RACE_RERUNS) return total;
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 45));
  }
}

/** Reruns of a batch after another updater wrote one of its users (each rerun skips what that updater did). */
const MAX_USER_RACE_RERUNS = 3;

const CONCURRENCY = 16;
/** Read rounds before the join gives up (each round fetches everything the previous fold reported missing). */
const MAX_READ_ROUNDS = 5;

interface Parsed {
  entry: StreamEntry;
  seq: bigint;
  input: JoinInput;
  /** The catalog version a decision record declares (core/catalog/catalog-version.ts, C3): stored with its decision. */
  declares?: { version: string; ids: string[] };
}

/** One batch through the phases; each phase records failures by sequence number and the next ones respect them. */
class FeedbackBatch {
  readonly outcome = emptyOutcome();
  /** A user item changed between this batch's read and its write (another updater on the same shard). */
  lostUserRace = false;
  private readonly now: () => number;
  private lowestFailure: bigint | undefined;
  private readonly parsed: Parsed[] = [];
  /** Dead letters of unparseable records (they have no place in the join). */
  private readonly malformed: DeadLetter[] = [];
  private joined: JoinResult | undefined;
  /** Indexes (into `parsed`) of records whose writes failed. */
  private readonly failed = new Set<number>();
  private readonly users = new Map<string, StoredUser | null>();
  private readonly decisions = new Map<string, StoredDecision | null>();
  private readonly claims = new Map<string, EventClaim | null>();
  private readonly statistics: StatisticsWriter;
  /** Catalog versions this batch is storing (C4): one write per version, shared by the records declaring it. */
  private readonly catalogWrites = new Map<string, Promise<void>>();

  constructor(
    private readonly entries: readonly StreamEntry[],
    private readonly deps: ApplyBatchDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.statistics = new StatisticsWriter(deps.state, {
      shardId: entries[0]?.shardId ?? '',
      partitions: deps.statsPartitions,
      now: this.now,
      maxConflictRetries: deps.maxConflictRetries ?? 20,
    });
  }

  async run(): Promise<void> {
    this.parse();
    if (await this.join()) {
      await this.write();
      await this.commitUsers();
      await this.credit();
    } else {
      // Nothing is known about the join: the malformed records alone can still be dead-lettered.
      await this.putDeadLetters(
        this.malformed.map((d) => ({ entry: d, seq: BigInt(d.id.slice(d.id.indexOf('/') + 1)) })),
      );
    }
    const written = await this.statistics.apply(this.lowestFailure, (seq) => this.fail(seq));
    this.outcome.statsWrites += written.statsWrites;
    this.outcome.alreadyApplied += written.alreadyApplied;
    this.outcome.conflictRetries += written.conflictRetries;
    this.outcome.decisionPoints = [...written.decisionPoints];
    this.outcome.failedFrom = this.lowestFailure?.toString();
  }

  private fail(seq: bigint): void {
    if (this.lowestFailure === undefined || seq < this.lowestFailure) this.lowestFailure = seq;
  }

  private failIndex(i: number): void {
    this.failed.add(i);
    this.fail(this.parsed[i]!.seq);
  }

  // 1. Parse.
  private parse(): void {
    for (const entry of this.entries) {
      const seq = BigInt(entry.sequenceNumber);
      let json: unknown;
      try {
        json = JSON.parse(entry.data);
      } catch {
        this.malformed.push(dead(entry, 'malformed', 'malformed record: not JSON', this.now()));
        continue;
      }
      const parsed = streamRecordSchema.safeParse(json);
      if (!parsed.success) {
        this.malformed.push(
          dead(entry, 'malformed', `malformed record: ${describeZodError(parsed.error)}`, this.now()),
        );
        continue;
      }
      const pos = { shardId: entry.shardId, seq };
      const r = parsed.data;
      if (r.kind === 'decision') {
        const declares = r.catalog?.ids && { version: r.catalog.version, ids: r.catalog.ids };
        const input: JoinInput = { pos, record: { kind: 'decision', decision: toStored(r) } };
        this.parsed.push({ entry, seq, input, ...(declares && { declares }) });
      } else this.parsed.push({ entry, seq, input: { pos, record: { kind: 'event', record: r } } });
    }
  }

  // 2. Join: fold, fetch what the fold found missing, fold again.
  private async join(): Promise<boolean> {
    const users = new Set<string>();
    const decisions = new Set<string>();
    const claims = new Map<string, { userId: string; eventId: string }>();
    for (const { input } of this.parsed) {
      if (input.record.kind === 'decision') {
        users.add(input.record.decision.userId);
        decisions.add(input.record.decision.decisionId);
      } else {
        const e = input.record.record.event;
        users.add(e.userId);
        if (e.decisionId !== undefined) decisions.add(e.decisionId);
        claims.set(pairKey(e.userId, e.eventId), { userId: e.userId, eventId: e.eventId });
      }
    }
    for (let round = 0; round < MAX_READ_ROUNDS; round++) {
      try {
        await this.fetch(users, decisions, claims);
      } catch {
        break;
      }
      const result = joinBatch(
        this.parsed.map((p) => p.input),
        {
          user: (id) => {
            const u = this.users.get(id);
            return u === undefined ? undefined : (u?.state ?? null);
          },
          decision: (id) => this.decisions.get(id),
          claim: (userId, eventId) => this.claims.get(pairKey(userId, eventId)),
        },
      );
      const m = result.missing;
      if (m.users.size === 0 && m.decisions.size === 0 && m.claims.size === 0) {
        this.joined = result;
        return true;
      }
      users.clear();
      decisions.clear();
      claims.clear();
      for (const id of m.users) users.add(id);
      for (const id of m.decisions) decisions.add(id);
      for (const [k, v] of m.claims) claims.set(k, v);
    }
    for (let i = 0; i < this.parsed.length; i++) this.failIndex(i);
    return false;
  }

  private async fetch(
    users: ReadonlySet<string>,
    decisions: ReadonlySet<string>,
    claims: ReadonlyMap<string, { userId: string; eventId: string }>,
  ): Promise<void> {
    const wantUsers = [...users].filter((id) => !this.users.has(id));
    const wantDecisions = [...decisions].filter((id) => !this.decisions.has(id));
    const wantClaims = [...claims].filter(([k]) => !this.claims.has(k));
    const [u, d, c] = await Promise.all([
      this.deps.decisions.getUsers(wantUsers),
      this.deps.decisions.getDecisions(wantDecisions),
      this.deps.decisions.getEventClaims(wantClaims.map(([, v]) => v)),
    ]);
    for (const id of wantUsers) this.users.set(id, u.get(id) ?? null);
    for (const id of wantDecisions) this.decisions.set(id, d.get(id) ?? null);
    for (const [k] of wantClaims) this.claims.set(k, c.get(k) ?? null);
  }

  private get result(): JoinResult {
    if (!this.joined) throw new Error('the join has not run');
    return this.joined;
  }

  // 3. Write what makes each record's result durable.
  private async write(): Promise<void> {
    const { outcomes, newClaims } = this.result;
    // Held events applied (or refused) later in this same batch need no "held" entry.
    const resolvedHere = new Set<string>();
    for (const o of outcomes) {
      if (o.kind !== 'decision') continue;
      for (const a of o.applications) resolvedHere.add(a.claim);
      for (const r of o.refusedHeld) resolvedHere.add(r.held.claim);
      for (const h of o.duplicateHeld) resolvedHere.add(h.claim);
    }
    const puts: { entry: DeadLetter; index: number }[] = [];
    const holds: { entry: DeadLetter; index: number }[] = [];
    const claimWrites = (i: number, apps: readonly Application[]) =>
      apps
        .filter((a) => a.fresh)
        .map((a) => ({ index: i, claim: newClaims.get(pairKey(a.record.event.userId, a.record.event.eventId))! }));

    const tasks: { index: number; run: () => Promise<void> }[] = [];
    outcomes.forEach((o, i) => {
      const { entry } = this.parsed[i]!;
      switch (o.kind) {
        case 'decision': {
          if (!o.fresh) return;
          const writes = claimWrites(i, o.applications);
          const declares = this.parsed[i]!.declares;
          tasks.push({
            index: i,
            run: async () => {
              // C4: the version is stored before the decision counts as applied, so a failure redelivers both.
              if (declares) {
                await storeCatalogVersion(this.deps.state, this.catalogWrites, o.decision.decisionPoint, declares);
              }
              const stored = await this.deps.decisions.claimDecision(o.decision);
              if (stored.claim !== o.decision.claim) {
                throw new Error(`decision ${o.decision.decisionId} was created by ${stored.claim} meanwhile`);
              }
              for (const w of writes) await this.writeClaim(w.claim);
            },
          });
          for (const r of o.refusedHeld) {
            puts.push({
              index: i,
              entry: heldDead(r.held.claim, r.held.record, r.code, this.now(), o.decision.decisionPoint),
            });
          }
          // The held entries of applied (or duplicate) events become tombstones: resolved, and never held again.
          for (const claim of [...o.applications, ...o.duplicateHeld].map((h) => h.claim)) {
            puts.push({ index: i, entry: resolvedHold(claim, o.decision.decisionId, this.now()) });
          }
          return;
        }
        case 'event': {
          const writes = claimWrites(i, [o.application]);
          if (writes.length > 0) tasks.push({ index: i, run: () => this.writeClaim(writes[0]!.claim) });
          return;
        }
        case 'held':
          if (!resolvedHere.has(claimOf(this.parsed[i]!.input.pos))) {
            holds.push({
              index: i,
              entry: {
                id: claimOf(this.parsed[i]!.input.pos),
                status: 'held',
                code: 'held',
                reason: `waiting for decision ${o.decisionId}`,
                data: entry.data.slice(0, 64 * 1024),
                at: this.now(),
              },
            });
          }
          return;
        case 'dead':
          puts.push({ index: i, entry: dead(entry, o.code, o.message, this.now(), o.decisionPoint) });
          return;
        default:
          return;
      }
    });
    const settled = await settleLimit(tasks, CONCURRENCY, (t) => t.run());
    settled.forEach((r, k) => {
      if (r.status === 'rejected') this.failIndex(tasks[k]!.index);
    });
    const malformed = this.malformed.map((d) => ({ entry: d, seq: BigInt(d.id.slice(d.id.indexOf('/') + 1)) }));
    const parsedPuts = puts.map((p) => ({ entry: p.entry, seq: this.parsed[p.index]!.seq, index: p.index }));
    await this.putDeadLetters([...malformed, ...parsedPuts]);
    if (holds.length > 0) {
      try {
        await this.deps.deadLetters.hold(holds.map((h) => h.entry));
      } catch {
        for (const h of holds) this.failIndex(h.index);
      }
    }
  }

  /** F3: the claim must end up being this record's; anything else means another writer got there first. */
  private async writeClaim(claim: EventClaim): Promise<void> {
    const stored = await this.deps.decisions.claimEvent(claim);
    if (stored.claim !== claim.claim) {
      throw new Error(`event ${claim.eventId} was claimed by ${stored.claim} meanwhile`);
    }
  }

  /** A poison record must be stored before the batch may move past it. */
  private async putDeadLetters(entries: readonly { entry: DeadLetter; seq: bigint; index?: number }[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      await this.deps.deadLetters.put(entries.map((e) => e.entry));
      const dead = entries.filter((e) => e.entry.status === 'dead').map((e) => e.entry);
      this.outcome.deadLettered += dead.length;
      if (dead.length > 0) this.deps.onDeadLettered?.(dead);
    } catch {
      for (const e of entries) {
        if (e.index !== undefined) this.failIndex(e.index);
        else this.fail(e.seq);
      }
    }
  }

  // 4. Each user's item: the state after the user's records up to the first one whose writes failed.
  private async commitUsers(): Promise<void> {
    const { userAfter } = this.result;
    const byUser = new Map<string, number[]>();
    this.parsed.forEach((p, i) => {
      if (userAfter[i] === undefined) return;
      const userId =
        p.input.record.kind === 'decision' ? p.input.record.decision.userId : p.input.record.record.event.userId;
      const list = byUser.get(userId) ?? [];
      list.push(i);
      byUser.set(userId, list);
    });
    const commits = [...byUser].flatMap(([userId, indexes]) => {
      const firstFailed = indexes.findIndex((i) => this.failed.has(i));
      const prefix = firstFailed < 0 ? indexes : indexes.slice(0, firstFailed);
      if (prefix.length === 0) return [];
      return [{ userId, first: indexes[0]!, state: userAfter[prefix[prefix.length - 1]!]! }];
    });
    const settled = await settleLimit(commits, CONCURRENCY, (c) =>
      this.deps.decisions.putUser(
        { userId: c.userId, state: c.state, version: undefined },
        this.users.get(c.userId)?.version,
      ),
    );
    settled.forEach((r, k) => {
      if (r.status !== 'rejected') return;
      // Nothing of this user's batch is committed: redeliver from the user's first record.
      if (r.reason instanceof VersionConflictError) this.lostUserRace = true;
      this.failIndex(commits[k]!.first);
    });
  }

  // 5. Credit: contributions of decisions and counted events; intent labels claimed on the decision.
  private async credit(): Promise<void> {
    /** decision → objective → every counted event of this batch that reached it, in stream order. */
    const reaching = new Map<string, Map<string, { claim: string; seq: bigint; decision: StoredDecision }[]>>();
    this.result.outcomes.forEach((o, i) => {
      if (this.failed.has(i)) return;
      const { seq, input } = this.parsed[i]!;
      this.count(o, input);
      const credit = (a: Application) => {
        for (const objective of this.creditApplication(a, seq)) {
          const d = a.decision!;
          const byObjective = reaching.get(d.decisionId) ?? new Map();
          byObjective.set(objective, [...(byObjective.get(objective) ?? []), { claim: a.claim, seq, decision: d }]);
          reaching.set(d.decisionId, byObjective);
        }
      };
      if (o.kind === 'decision') {
        this.statistics.impressions(o.decision, seq);
        for (const a of o.applications) credit(a);
      } else if (o.kind === 'event') credit(o.application);
    });

    // F5: "reached objective k" is claimed once per decision. The first reaching event claims it; whichever event
    // holds the claim (perhaps a later one, if the first failed in an earlier attempt) contributes the label, so it
    // is learned exactly once.
    const ids = [...reaching.keys()];
    const settled = await settleLimit(ids, CONCURRENCY, (decisionId) => {
      const want = new Map<string, string>();
      for (const [objective, candidates] of reaching.get(decisionId)!) want.set(objective, candidates[0]!.claim);
      return this.deps.decisions.claimReached(decisionId, want);
    });
    settled.forEach((result, k) => {
      for (const [objective, candidates] of reaching.get(ids[k]!)!) {
        if (result.status === 'rejected') {
          for (const c of candidates) this.fail(c.seq);
          continue;
        }
        const holder = candidates.find((c) => c.claim === result.value.get(objective));
        if (!holder) continue;
        this.statistics.contribute(holder.decision, intentObjective(objective), INTENT_ACTION, 1, holder.seq, {
          kind: 'reward',
          x: holder.decision.x,
          reward: 1,
        });
      }
    });
  }

  /** F4 for one counted event: its rewards as contributions at `seq`; returns the objectives it reached. */
  private creditApplication(a: Application, seq: bigint): string[] {
    if (a.move && a.fresh) this.outcome.stageChanges++;
    const d = a.decision;
    if (!d) {
      if (a.fresh) this.outcome.unattributedEvents++;
      return [];
    }
    const e = a.record.event;
    const actionId = e.actionId ?? d.chosen[0]!;
    // The event credits the slot its action was shown in (an action appears in one slot at most).
    const slot = Math.max(1, d.chosen.indexOf(actionId) + 1);
    const r = rewardsForEvent(d, e, a.t, a.move);
    if (r.late) {
      if (a.fresh) this.outcome.lateEvents++;
      this.statistics.contribute(d, DEFAULT_OBJECTIVE, actionId, slot, seq, { kind: 'late', d: d.x.length });
      this.statistics.series(d, seq, { kind: 'late' });
      return [];
    }
    if (r.global === undefined && r.perObjective.size === 0) {
      if (a.fresh) this.outcome.ignoredEvents++;
      return [];
    }
    if (a.fresh) this.outcome.rewards++;
    if (r.global !== undefined) {
      this.statistics.contribute(d, DEFAULT_OBJECTIVE, actionId, slot, seq, {
        kind: 'reward',
        x: d.x,
        reward: r.global,
      });
      this.statistics.series(d, seq, {
        kind: 'reward',
        reward: r.global,
        weight: actionId === d.chosen[0] ? uniformWeight(d) : undefined,
        delayMs: a.t - d.at,
      });
    }
    const reached: string[] = [];
    for (const [objective, reward] of r.perObjective) {
      this.statistics.contribute(d, objective, actionId, slot, seq, { kind: 'reward', x: d.x, reward });
      if (reward > 0) reached.push(objective);
    }
    return reached;
  }

  private count(o: Outcome, input: JoinInput): void {
    const out = this.outcome;
    switch (o.kind) {
      case 'decision':
        if (o.fresh) {
          out.decisions++;
          out.heldApplied += o.applications.length;
          out.duplicateEvents += o.duplicateHeld.length;
        }
        return;
      case 'duplicate':
        if (input.record.kind === 'decision') out.duplicateDecisions++;
        else out.duplicateEvents++;
        return;
      case 'held':
        out.heldEvents++;
        return;
      default:
        return;
    }
  }
}

const claimString = (entry: StreamEntry) => `${entry.shardId}/${entry.sequenceNumber}`;

function dead(
  entry: StreamEntry,
  code: string,
  reason: string,
  at: number,
  decisionPoint?: string | undefined,
): DeadLetter {
  return {
    id: claimString(entry),
    status: 'dead',
    code,
    reason,
    data: entry.data.slice(0, 64 * 1024),
    at,
    ...(decisionPoint !== undefined && { decisionPoint }),
  };
}

/** A held event applied when its decision arrived: its "held" entry becomes this tombstone. */
function resolvedHold(claim: string, decisionId: string, at: number): DeadLetter {
  return {
    id: claim,
    status: 'applied',
    code: 'applied',
    reason: `applied when decision ${decisionId} arrived`,
    data: '',
    at,
  };
}

/** A held event refused when its decision arrived (F2c): its "held" entry becomes a dead letter. */
function heldDead(claim: string, record: EventRecord, code: string, at: number, decisionPoint: string): DeadLetter {
  return {
    id: claim,
    status: 'dead',
    decisionPoint,
    code,
    reason: `event ${record.event.eventId}: refused when decision ${record.event.decisionId} arrived (${code})`,
    data: JSON.stringify(record).slice(0, 64 * 1024),
    at,
  };
}

/**
 * Versions this process has stored, per store: a stored version never changes and is never deleted, so after a
 * catalog change the first records of every container (which all declare it) cost one write, not one each. Only a
 * write that succeeded is remembered; within a batch, records declaring the same version share one write.
 */
const storedCatalogVersions = new WeakMap<StateStore, Set<string>>();

function storeCatalogVersion(
  state: StateStore,
  inBatch: Map<string, Promise<void>>,
  decisionPoint: string,
  declared: { version: string; ids: string[] },
): Promise<void> {
  let stored = storedCatalogVersions.get(state);
  if (!stored) {
    stored = new Set();
    storedCatalogVersions.set(state, stored);
  }
  const key = `${decisionPoint}\n${declared.version}`;
  if (stored.has(key)) return Promise.resolve();
  let write = inBatch.get(key);
  if (!write) {
    write = state.putCatalogVersion(decisionPoint, declared.version, declared.ids).then(() => {
      stored.add(key);
    });
    inBatch.set(key, write);
  }
  return write;
}

/** A decision record as the decision store keeps it (without the claim of the record that created the entry). */
export function toStored(r: DecisionRecord): Omit<StoredDecision, 'claim'> {
  return {
    decisionId: r.decisionId,
    decisionPoint: r.decisionPoint,
    userId: r.userId,
    at: r.at,
    chosen: r.chosen,
    chosenFeatures: r.chosenFeatures,
    x: r.x,
    propensity: r.propensity,
    candidateCount: candidateCountOf(r),
    modelVersion: r.modelVersion,
    attributionWindowSeconds: r.attributionWindowSeconds,
    rewards: r.rewards,
    objectives: r.objectives,
    ...(r.rewardBounds ? { rewardBounds: r.rewardBounds } : {}),
    ...(r.acceptEventValues === undefined ? {} : { acceptEventValues: r.acceptEventValues }),
  };
}
