/**
 * The feedback specification (docs/ARCHITECTURE.md §3, rules F1–F7) as a reference: simple, sequential, in memory,
 * written from the text of the rules and not from the updater. It reads the records of a stream in stream order,
 * one at a time, and says what the engine must have learned: statistics per (decision point, objective, action,
 * day), counters, users' stages, and which records are dead letters or still held.
 *
 * It deliberately shares nothing with the engine's join code (`shared/core/feedback/`), its statistics code or its
 * stores: rewards, windows, stage moves and the sums are recomputed here from the rules, so a test comparing the two
 * checks the engine against the specification rather than against itself. Only the wire format is shared: a record
 * the stream schema refuses is malformed.
 */
import { streamRecordSchema } from '../../shared/core/schemas.ts';

export const REF_CLOCK_SKEW_MS = 5000;
export const REF_RECENT_DECISIONS = 16;
export const REF_MAX_HELD = 16;
const DAY_MS = 86_400_000;

interface RefObjective {
  name: string;
  events: Record<string, number>;
  stages?: string[];
  stageValues?: Record<string, number>;
  attributionWindowSeconds: number;
  weight: number;
}

interface RefDecision {
  decisionId: string;
  decisionPoint: string;
  userId: string;
  at: number;
  propensity: number;
  candidates?: string[];
  /** Instead of `candidates` (catalog-version.ts, C2): K is `candidateCount`. */
  catalog?: { version: string; ids?: string[]; omitted?: string[] };
  candidateCount?: number;
  x: number[];
  chosen: string[];
  attributionWindowSeconds: number;
  rewards: Record<string, number>;
  objectives: RefObjective[];
  rewardBounds?: { min: number; max: number };
  acceptEventValues?: boolean;
  /** Position in stream order, to break ties between decisions made at the same instant. */
  order: number;
}

interface RefEvent {
  eventId: string;
  userId: string;
  decisionId?: string;
  decisionPoint?: string;
  actionId?: string;
  type: string;
  value?: number;
  timestamp?: string;
  stage?: string;
}

export interface RefStats {
  n: number;
  sumR: number;
  sumR2: number;
  /** Dense d×d. */
  sxx: number[][];
  sxr: number[];
  rewardEvents: number;
  lateEvents: number;
}

/** One window of the learning series (docs/ARCHITECTURE.md §10.1, S1–S3). */
export interface RefSeries {
  decisions: number;
  randomness: number;
  weighted: number;
  weightSum: number;
  reward: number;
  weightedReward: number;
  rewardEvents: number;
  delayMs: number;
  lateEvents: number;
}

export interface ReferenceResult {
  /** Key `${decisionPoint}|${minute or hour}|${window}`. */
  series: Map<string, RefSeries>;
  /** Key `${decisionPoint}|${objective}|${actionId}|${day}|${slot}`. */
  stats: Map<string, RefStats>;
  /** Record index → the rule that refused it. */
  dead: Map<
    number,
    | 'malformed'
    | 'another-user'
    | 'out-of-scope'
    | 'action-not-chosen'
    | 'other-decision-point'
    | 'value-not-accepted'
    | 'value-out-of-range'
    | 'no-decision'
    | 'fallback-decision'
    | 'held-full'
  >;
  /** Record indexes of events still waiting for their decision. */
  held: Set<number>;
  /** Events that counted (F3), by the index of the record that counted. */
  counted: Set<number>;
  /** Key `${userId}|${decisionPoint}`: the user's stage in each decision point (F6). */
  stages: Map<string, string>;
  /** C4: every catalog version a decision record declared, key `${decisionPoint}|${version}` → its ids. */
  catalogs: Map<string, string[]>;
}

export const statsKey = (dp: string, objective: string, actionId: string, day: number, slot: number) =>
  `${dp}|${objective}|${actionId}|${day}|${slot}`;

interface UserState {
  decisions: RefDecision[];
  /** Per decision point: the stage and when the user entered it. */
  stages: Map<string, { stage: string; at: number }>;
  held: { index: number; event: RefEvent; receivedAt: number; scope?: string[] }[];
}

/**
 * What the engine must have learned from `records` (JSON strings, in stream order). Records of different users may be
 * interleaved in any way that keeps each user's records in their order: the result does not depend on it (F7).
 */
export function referenceFeedback(records: readonly string[], jobDecisions: readonly object[] = []): ReferenceResult {
  const out: ReferenceResult = {
    series: new Map(),
    stats: new Map(),
    dead: new Map(),
    held: new Set(),
    counted: new Set(),
    stages: new Map(),
    catalogs: new Map(),
  };
  const decisions = new Map<string, RefDecision>();
  const users = new Map<string, UserState>();
  const pairs = new Set<string>();
  const reached = new Set<string>();
  const user = (id: string): UserState => {
    let u = users.get(id);
    if (!u) {
      u = { decisions: [], stages: new Map(), held: [] };
      users.set(id, u);
    }
    return u;
  };

  const slot = (d: RefDecision, objective: string, actionId: string): RefStats => {
    // Kept apart by the slot the action was shown in (its place in `chosen`); intent observations are slot 1.
    const key = statsKey(
      d.decisionPoint,
      objective,
      actionId,
      Math.floor(d.at / DAY_MS),
      Math.max(1, d.chosen.indexOf(actionId) + 1),
    );
    let s = out.stats.get(key);
    if (!s) {
      const n = d.x.length;
      s = {
        n: 0,
        sumR: 0,
        sumR2: 0,
        sxx: Array.from({ length: n }, () => new Array<number>(n).fill(0)),
        sxr: new Array<number>(n).fill(0),
        rewardEvents: 0,
        lateEvents: 0,
      };
      out.stats.set(key, s);
    }
    return s;
  };
  /** The decision's two windows (§10: its UTC minute and its UTC hour); every contribution goes to both. */
  const windowsOf = (d: RefDecision): RefSeries[] =>
    (
      [
        ['minute', 60_000],
        ['hour', 3_600_000],
      ] as const
    ).map(([name, ms]) => {
      const key = `${d.decisionPoint}|${name}|${Math.floor(d.at / ms)}`;
      let h = out.series.get(key);
      if (!h) {
        h = {
          decisions: 0,
          randomness: 0,
          weighted: 0,
          weightSum: 0,
          reward: 0,
          weightedReward: 0,
          rewardEvents: 0,
          delayMs: 0,
          lateEvents: 0,
        };
        out.series.set(key, h);
      }
      return h;
    });
  // S1: w = (1/K)/p when K is logged: the list's length, or the count a catalog reference gives.
  const countOf = (d: RefDecision) => d.candidates?.length ?? d.candidateCount;
  const weightOf = (d: RefDecision) => {
    const k = countOf(d);
    return k === undefined ? undefined : 1 / k / d.propensity;
  };
  /** S1: a decision whose impressions count. */
  const decided = (d: RefDecision) => {
    const w = weightOf(d);
    for (const h of windowsOf(d)) {
      h.decisions += 1;
      h.randomness += 1 - d.propensity;
      if (w !== undefined) {
        h.weighted += 1;
        h.weightSum += w;
      }
    }
  };
  /** S2: a global reward r of an event at t crediting `actionId`. */
  const seriesReward = (d: RefDecision, actionId: string, r: number, t: number) => {
    const w = weightOf(d);
    for (const h of windowsOf(d)) {
      h.reward += r;
      h.rewardEvents += 1;
      h.delayMs += t - d.at;
      if (w !== undefined && actionId === d.chosen[0]) h.weightedReward += r * w;
    }
  };
  /** S3. */
  const late = (d: RefDecision, actionId: string) => {
    slot(d, 'default', actionId).lateEvents += 1;
    for (const h of windowsOf(d)) h.lateEvents += 1;
  };
  const impression = (d: RefDecision, objective: string, actionId: string) => {
    const s = slot(d, objective, actionId);
    s.n += 1;
    for (let i = 0; i < d.x.length; i++) for (let j = 0; j < d.x.length; j++) s.sxx[i]![j]! += d.x[i]! * d.x[j]!;
  };
  const reward = (d: RefDecision, objective: string, actionId: string, r: number) => {
    const s = slot(d, objective, actionId);
    s.sumR += r;
    s.sumR2 += r * r;
    for (let i = 0; i < d.x.length; i++) s.sxr[i]! += d.x[i]! * r;
    s.rewardEvents += 1;
  };

  const eventTime = (e: RefEvent, receivedAt: number) =>
    e.timestamp === undefined ? receivedAt : Math.min(Date.parse(e.timestamp), receivedAt);

  const stageValue = (o: RefObjective, stage: string | undefined): number | undefined => {
    if (stage === undefined || !o.stages) return undefined;
    const i = o.stages.indexOf(stage);
    if (i < 0) return undefined;
    return o.stageValues?.[stage] ?? i;
  };

  /** F3–F9 for an event that answers `d` (or no decision: a stage event alone), at the current point of the stream. */
  const apply = (
    index: number,
    e: RefEvent,
    receivedAt: number,
    d: RefDecision | undefined,
    scope: string[] | undefined,
  ) => {
    const pair = `${e.userId}\u0000${e.eventId}`;
    if (pairs.has(pair)) return; // F3: a duplicate changes nothing
    const inScope = (dp: string) => scope === undefined || scope.includes(dp);
    // The order of the checks (docs/ARCHITECTURE.md): scope, action, decision point, value.
    if (d && !inScope(d.decisionPoint)) {
      out.dead.set(index, 'out-of-scope');
      return;
    }
    if (!d && e.decisionPoint !== undefined && !inScope(e.decisionPoint)) {
      out.dead.set(index, 'out-of-scope');
      return;
    }
    if (d && e.actionId !== undefined && !d.chosen.includes(e.actionId)) {
      out.dead.set(index, 'action-not-chosen');
      return;
    }
    if (d && e.decisionPoint !== undefined && e.decisionPoint !== d.decisionPoint) {
      out.dead.set(index, 'other-decision-point');
      return;
    }
    if (d && e.value !== undefined) {
      if (d.acceptEventValues === false) {
        out.dead.set(index, 'value-not-accepted');
        return;
      }
      const configured = [...Object.values(d.rewards), ...d.objectives.flatMap((o) => Object.values(o.events))];
      const bounds = d.rewardBounds ?? { min: Math.min(0, ...configured), max: Math.max(1, ...configured) };
      if (e.value < bounds.min || e.value > bounds.max) {
        out.dead.set(index, 'value-out-of-range');
        return;
      }
    }
    // F6: a stage event concerns its decision point, else its decision's; with neither it cannot count.
    const stageDp = e.type === 'stage' ? (e.decisionPoint ?? d?.decisionPoint) : undefined;
    if (e.type === 'stage' && stageDp === undefined) {
      out.dead.set(index, 'no-decision');
      return;
    }
    pairs.add(pair);
    out.counted.add(index);
    const t = eventTime(e, receivedAt);
    const u = user(e.userId);
    let move: { from: string | undefined; to: string } | undefined;
    if (stageDp !== undefined) {
      // F6: only a later stage event moves the user, in that decision point.
      const current = u.stages.get(stageDp);
      if (current === undefined || t > current.at) {
        move = { from: current?.stage, to: e.stage! };
        u.stages.set(stageDp, { stage: e.stage!, at: t });
        out.stages.set(`${e.userId}|${stageDp}`, e.stage!);
      }
    }
    if (!d) return;
    const actionId = e.actionId ?? d.chosen[0]!;
    // F4: [at − S, at + W], both edges included.
    const inWindow = (seconds: number) => t >= d.at - REF_CLOCK_SKEW_MS && t <= d.at + seconds * 1000;
    if (d.objectives.length === 0) {
      if (!inWindow(d.attributionWindowSeconds)) {
        late(d, actionId);
        return;
      }
      if (e.type === 'stage') return; // no objectives: a stage move earns nothing
      const configured = Object.keys(d.rewards).length > 0;
      const amount = configured ? d.rewards[e.type] : 1;
      if (amount === undefined) return; // ignored type
      reward(d, 'default', actionId, e.value ?? amount);
      seriesReward(d, actionId, e.value ?? amount, t);
      return;
    }
    let anyInWindow = false;
    let global: number | undefined;
    for (const o of d.objectives) {
      if (!inWindow(o.attributionWindowSeconds)) continue;
      anyInWindow = true;
      let r: number | undefined;
      if (e.type === 'stage') {
        const to = move ? stageValue(o, move.to) : undefined;
        const from = move ? stageValue(o, move.from) : undefined;
        if (to !== undefined && from !== undefined) r = to - from;
      } else if (o.events[e.type] !== undefined) {
        r = e.value ?? o.events[e.type]!;
      }
      if (r === undefined) continue;
      reward(d, o.name, actionId, r);
      global = (global ?? 0) + o.weight * r;
      // F5: the first counted event that earns a positive reward for o labels the decision once.
      const reachKey = `${d.decisionId}\u0000${o.name}`;
      if (r > 0 && !reached.has(reachKey)) {
        reached.add(reachKey);
        reward(d, `intent:${o.name}`, '*', 1);
      }
    }
    if (!anyInWindow) {
      late(d, actionId);
      return;
    }
    if (global !== undefined) {
      reward(d, 'default', actionId, global);
      seriesReward(d, actionId, global, t);
    }
  };

  // F2d: a job's decisions exist (impressions counted) before any event can name them, and are never a user's
  // "latest decision".
  for (const [i, job] of jobDecisions.entries()) {
    const d = { ...(job as RefDecision), order: -1 - i };
    decisions.set(d.decisionId, d);
    for (const actionId of d.chosen) {
      impression(d, 'default', actionId);
      for (const o of d.objectives) impression(d, o.name, actionId);
    }
    for (const o of d.objectives) impression(d, `intent:${o.name}`, '*');
    decided(d);
  }

  records.forEach((data, index) => {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(data) as Record<string, unknown>;
    } catch {
      out.dead.set(index, 'malformed');
      return;
    }
    if (!streamRecordSchema.safeParse(rec).success) {
      out.dead.set(index, 'malformed');
      return;
    }
    if (rec.kind === 'decision') {
      const d = { ...(rec as unknown as RefDecision), order: index };
      // C4: a declared version is stored, whatever else the record does (the same version always has the same ids).
      if (d.catalog?.ids) out.catalogs.set(`${d.decisionPoint}|${d.catalog.version}`, d.catalog.ids);
      if (decisions.has(d.decisionId)) return; // F1: later records with the same id change nothing
      decisions.set(d.decisionId, d);
      for (const actionId of d.chosen) {
        impression(d, 'default', actionId);
        for (const o of d.objectives) impression(d, o.name, actionId);
      }
      for (const o of d.objectives) impression(d, `intent:${o.name}`, '*');
      decided(d);
      const u = user(d.userId);
      u.decisions.push(d);
      // F2(a): the user's events held for this decision are applied now, in their order.
      const waiting = u.held.filter((h) => h.event.decisionId === d.decisionId);
      u.held = u.held.filter((h) => h.event.decisionId !== d.decisionId);
      for (const h of waiting) {
        out.held.delete(h.index);
        apply(h.index, h.event, h.receivedAt, d, h.scope);
      }
      return;
    }
    if (rec.kind !== 'event' || typeof rec.event !== 'object' || rec.event === null) {
      out.dead.set(index, 'malformed');
      return;
    }
    const e = rec.event as RefEvent;
    const receivedAt = rec.receivedAt as number;
    const scope = rec.scope as string[] | undefined;
    const u = user(e.userId);
    // F3: once the pair has counted, any later record of it is a duplicate, whatever it says.
    if (pairs.has(`${e.userId}\u0000${e.eventId}`)) return;
    // F2c: a fallback answer was never logged; feedback naming it cannot be learned (nor wait for it).
    if (e.decisionId?.startsWith('fallback-')) {
      out.dead.set(index, 'fallback-decision');
      return;
    }
    if (e.decisionId !== undefined) {
      const d = decisions.get(e.decisionId);
      if (!d && e.decisionId.startsWith('j-')) {
        out.dead.set(index, 'no-decision'); // F2d: not held, it never comes
        return;
      }
      if (!d) {
        if (u.held.length >= REF_MAX_HELD) {
          out.dead.set(index, 'held-full');
          return;
        }
        u.held.push({ index, event: e, receivedAt, ...(scope ? { scope } : {}) });
        out.held.add(index);
        return;
      }
      if (d.userId !== e.userId) {
        out.dead.set(index, 'another-user');
        return;
      }
      apply(index, e, receivedAt, d, scope);
      return;
    }
    // F2(b): the latest of the user's 16 most recent decisions read so far made at or before t(e), else the
    // earliest within the clock-skew allowance after it.
    const t = eventTime(e, receivedAt);
    const recent = [...u.decisions]
      .sort((a, b) => a.at - b.at || a.order - b.order)
      .slice(-REF_RECENT_DECISIONS)
      .filter((d) => e.decisionPoint === undefined || d.decisionPoint === e.decisionPoint)
      .filter((d) => scope === undefined || scope.includes(d.decisionPoint));
    let chosen: RefDecision | undefined;
    for (const d of recent) if (d.at <= t) chosen = d;
    if (!chosen) chosen = recent.find((d) => d.at > t && d.at <= t + REF_CLOCK_SKEW_MS);
    if (!chosen && e.type !== 'stage') {
      out.dead.set(index, 'no-decision');
      return;
    }
    apply(index, e, receivedAt, chosen, scope);
  });
  return out;
}
