/**
 * Compares what the engine stored after a stream was delivered with what the reference says it must have learned:
 * statistics summed over writer partitions per (decision point, objective, action, day), their counters, users'
 * stages, and the dead letters (dead or held, with the rule that refused them). Returns the differences (empty when
 * they agree) and a tally of what they amount to: events lost or counted twice, dead letters wrongly stored or
 * missing.
 */
import { unpackSymmetric } from '../../shared/core/bandit/linalg.ts';
import type { DeadLetter } from '../../shared/core/domain.ts';
import type { DeadLetterStore, DecisionStore, StateStore } from '../../shared/core/ports.ts';
import { type ReferenceResult, type RefStats, statsKey } from './feedback-reference.ts';
import type { ShardedRecord, Traffic } from './feedback-traffic.ts';

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

export interface Tally {
  /** Impressions and rewarded events the reference has and the engine lacks. */
  lost: number;
  /** Impressions and rewarded events the engine counted beyond the reference. */
  double: number;
  /** Dead letters (or held events) stored for records the reference learns from, or with another rule. */
  wrongDeadLetters: number;
  /** Dead letters (or held events) the reference expects and the engine lacks. */
  missingDeadLetters: number;
}

/** The statistics part of the comparison: per (decision point, objective, action, day), summed over partitions. */
export async function compareStatistics(
  state: StateStore,
  decisionPoints: readonly string[],
  ref: ReferenceResult,
): Promise<{ diffs: string[]; lost: number; double: number }> {
  const diffs: string[] = [];
  const tally = { lost: 0, double: 0 };
  const actual = new Map<string, RefStats>();
  for (const dp of decisionPoints) {
    for (const item of await state.listStats(dp)) {
      const key = statsKey(item.decisionPoint, item.objective, item.actionId, item.bucket, item.slot);
      const d = item.stats.sxr.length;
      const dense = unpackSymmetric(item.stats.sxx, d, new Float64Array(d * d));
      let a = actual.get(key);
      if (!a) {
        a = {
          n: 0,
          sumR: 0,
          sumR2: 0,
          sxx: Array.from({ length: d }, () => new Array<number>(d).fill(0)),
          sxr: new Array<number>(d).fill(0),
          rewardEvents: 0,
          lateEvents: 0,
        };
        actual.set(key, a);
      }
      a.n += item.stats.n;
      a.sumR += item.stats.sumR;
      a.sumR2 += item.stats.sumR2;
      for (let i = 0; i < d; i++) {
        a.sxr[i]! += item.stats.sxr[i]!;
        for (let j = 0; j < d; j++) a.sxx[i]![j]! += dense[i * d + j]!;
      }
      a.rewardEvents += item.counters.rewardEvents;
      a.lateEvents += item.counters.lateEvents;
    }
  }
  const wanted = [...ref.stats.keys()].filter((k) => decisionPoints.includes(k.slice(0, k.indexOf('|'))));
  for (const key of new Set([...actual.keys(), ...wanted])) {
    const a = actual.get(key);
    const e = ref.stats.get(key);
    if (!a || !e) {
      diffs.push(`${key}: ${a ? 'not expected' : 'missing'}`);
      if (a) tally.double += a.n + a.rewardEvents;
      if (e) tally.lost += e.n + e.rewardEvents;
      continue;
    }
    tally.lost += Math.max(0, e.n - a.n) + Math.max(0, e.rewardEvents - a.rewardEvents);
    tally.double += Math.max(0, a.n - e.n) + Math.max(0, a.rewardEvents - e.rewardEvents);
    const fields: [string, number, number][] = [
      ['n', a.n, e.n],
      ['sumR', a.sumR, e.sumR],
      ['sumR2', a.sumR2, e.sumR2],
      ['rewardEvents', a.rewardEvents, e.rewardEvents],
      ['lateEvents', a.lateEvents, e.lateEvents],
      ...a.sxr.map((v, i): [string, number, number] => [`sxr[${i}]`, v, e.sxr[i]!]),
      ...a.sxx.flatMap((row, i) => row.map((v, j): [string, number, number] => [`sxx[${i}][${j}]`, v, e.sxx[i]![j]!])),
    ];
    for (const [name, got, want] of fields)
      if (!close(got, want)) diffs.push(`${key} ${name}: ${got}, expected ${want}`);
  }

  return { diffs, lost: tally.lost, double: tally.double };
}

/**
 * The learning series (docs/ARCHITECTURE.md §10.1) summed over writer partitions, against the reference's windows:
 * every minute and hour either side, every counter.
 */
export async function compareSeries(
  state: StateStore,
  decisionPoints: readonly string[],
  ref: ReferenceResult,
): Promise<string[]> {
  const diffs: string[] = [];
  const got = new Map<string, Record<string, number>>();
  for (const dp of decisionPoints) {
    const items = [
      ...(await state.listSeries(dp, 'minute', 0, Number.MAX_SAFE_INTEGER)),
      ...(await state.listSeries(dp, 'hour', 0, Number.MAX_SAFE_INTEGER)),
    ];
    for (const item of items) {
      const key = `${dp}|${item.resolution}|${item.window}`;
      const sum = got.get(key) ?? {};
      for (const [k, v] of Object.entries(item.counters)) sum[k] = (sum[k] ?? 0) + v;
      got.set(key, sum);
    }
  }
  for (const key of new Set([...got.keys(), ...ref.series.keys()])) {
    const a = got.get(key) ?? {};
    const e = (ref.series.get(key) ?? {}) as Record<string, number>;
    for (const name of new Set([...Object.keys(a), ...Object.keys(e)])) {
      if (!close(a[name] ?? 0, e[name] ?? 0))
        diffs.push(`series ${key} ${name}: ${a[name] ?? 0}, expected ${e[name] ?? 0}`);
    }
  }
  return diffs;
}

export async function compareWithReference(
  traffic: Pick<Traffic, 'users' | 'decisionPoints' | 'crossUser'>,
  byShard: Map<string, Pick<ShardedRecord, 'index' | 'shardId' | 'seq'>[]>,
  stores: { state: StateStore; decisions: DecisionStore; deadLetters: DeadLetterStore },
  ref: ReferenceResult,
): Promise<{ diffs: string[]; tally: Tally }> {
  const diffs: string[] = [];
  const tally: Tally = { lost: 0, double: 0, wrongDeadLetters: 0, missingDeadLetters: 0 };

  const stats = await compareStatistics(stores.state, traffic.decisionPoints, ref);
  diffs.push(...stats.diffs);
  tally.lost += stats.lost;
  tally.double += stats.double;
  diffs.push(...(await compareSeries(stores.state, traffic.decisionPoints, ref)));
  const catalogs = new Map<string, string[]>();
  for (const dp of traffic.decisionPoints) {
    for (const [version, ids] of await stores.state.listCatalogVersions(dp)) catalogs.set(`${dp}|${version}`, ids);
  }
  for (const key of new Set([...catalogs.keys(), ...ref.catalogs.keys()])) {
    const got = catalogs.get(key)?.join(',');
    const want = ref.catalogs.get(key)?.join(',');
    if (got !== want) diffs.push(`catalog version ${key}: ${got}, expected ${want}`);
  }

  for (const user of traffic.users) {
    for (const dp of traffic.decisionPoints) {
      const got = await stores.decisions.getUserStage(user, dp);
      const want = ref.stages.get(`${user}|${dp}`);
      if (got !== want) diffs.push(`stage of ${user} in ${dp}: ${got}, expected ${want}`);
    }
  }

  const claimOfIndex = new Map<number, string>();
  for (const list of byShard.values()) for (const r of list) claimOfIndex.set(r.index, `${r.shardId}/${r.seq}`);
  const letters = new Map<string, DeadLetter>(
    (await stores.deadLetters.list(100_000)).filter((d) => d.status !== 'applied').map((d) => [d.id, d]),
  );
  const expected = new Map<string, { status: 'dead' | 'held'; code: string; index: number }>();
  for (const [index, code] of ref.dead) expected.set(claimOfIndex.get(index)!, { status: 'dead', code, index });
  for (const index of ref.held) expected.set(claimOfIndex.get(index)!, { status: 'held', code: 'held', index });
  for (const id of new Set([...letters.keys(), ...expected.keys()])) {
    const got = letters.get(id);
    const want = expected.get(id);
    const index = want?.index ?? [...claimOfIndex].find(([, c]) => c === id)?.[0];
    // An event naming another user's decision never counts; whether it is refused at once or waits for a decision
    // that never comes for its user depends on how the two users' shards interleave (docs/ARCHITECTURE.md F7).
    if (index !== undefined && traffic.crossUser.has(index)) {
      // Held, or refused because its user's held events are at their limit while it would wait (F7).
      const ok = (s?: { status: string; code: string }) =>
        !s || s.status === 'held' || s.code === 'another-user' || s.code === 'held-full';
      if (ok(got) && ok(want) && (got !== undefined) === (want !== undefined)) continue;
    }
    if (!got || !want || got.status !== want.status || got.code !== want.code) {
      if (got) tally.wrongDeadLetters++;
      else tally.missingDeadLetters++;
      diffs.push(
        `dead letter ${id} (record ${index}): ${got ? `${got.status}/${got.code}` : 'none'}, expected ${want ? `${want.status}/${want.code}` : 'none'}`,
      );
    }
  }
  return { diffs, tally };
}
