/**
 * The same rules offline (docs/ARCHITECTURE.md §3): the retraining pass over a lake (split by user, join each user's
 * history, reduce), without importance weighting, holds exactly the statistics the specification's reference says
 * the records teach, when the reference reads them in the order the lake can tell (`join-bucket.ts`, "Order").
 * Σr² is the one figure that differs by design: offline squares each decision's total reward, online adds r² per event.
 *
 * The lake holds pseudonyms, not user ids (core/privacy.ts): the split deals records out by a hash of the pseudonym,
 * so the pass must learn from a lake of pseudonyms exactly what the reference learns from the raw ids.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryBlobStore } from '../../shared/adapters/lake/memory-blob-store.ts';
import { jobLakeKey, parseJobDecisionId } from '../../shared/app/decision-jobs/job.ts';
import { decodeAggregate, parseSlotCell } from '../../shared/app/retrain/aggregate.ts';
import { joinBucket } from '../../shared/app/retrain/join-bucket.ts';
import { catalogsKey, erasuresKey, manifestKey } from '../../shared/app/retrain/keys.ts';
import { encodeLakeObject, writeLakeBatch } from '../../shared/app/retrain/lake.ts';
import { planItems } from '../../shared/app/retrain/plan.ts';
import { reduce } from '../../shared/app/retrain/reduce.ts';
import { splitPartition } from '../../shared/app/retrain/split.ts';
import { unpackSymmetric } from '../../shared/core/bandit/linalg.ts';
import { CLOCK_SKEW_MS } from '../../shared/core/feedback/reward.ts';
import { pseudonymise } from '../../shared/core/privacy.ts';
import { createRng } from '../../shared/core/random.ts';
import { type RefStats, referenceFeedback } from '../support/feedback-reference.ts';
import { generateTraffic, TRAFFIC_JOB } from '../support/feedback-traffic.ts';
import { DAY, runParams } from './support.ts';

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/** The order the lake can tell: a decision at `at`, an event at `receivedAt` + S, decisions first, then as written. */
function lakeOrder(records: readonly string[]): string[] {
  const key = (r: string, i: number): [number, number, number] => {
    try {
      const j = JSON.parse(r) as { kind?: string; at?: number; receivedAt?: number };
      if (j.kind === 'decision' && typeof j.at === 'number') return [j.at, 0, i];
      if (j.kind === 'event' && typeof j.receivedAt === 'number') return [j.receivedAt + CLOCK_SKEW_MS, 1, i];
    } catch {}
    return [Number.NEGATIVE_INFINITY, 0, i];
  };
  return records
    .map((r, i) => ({ r, k: key(r, i) }))
    .sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1] || a.k[2] - b.k[2])
    .map((x) => x.r);
}

const PSEUDONYM_KEY = 'a test key of at least thirty-two characters';

/** A stream record as the API writes it: the user id replaced by its pseudonym (a poison record stays as it is). */
function withPseudonym(record: string): string {
  let r: { kind?: unknown; userId?: unknown; event?: { userId?: unknown } };
  try {
    r = JSON.parse(record);
  } catch {
    return record;
  }
  if (r === null || typeof r !== 'object') return record;
  if (r.kind === 'decision' && typeof r.userId === 'string') r.userId = pseudonymise(PSEUDONYM_KEY, r.userId);
  else if (r.kind === 'event' && typeof r.event?.userId === 'string') {
    r.event.userId = pseudonymise(PSEUDONYM_KEY, r.event.userId);
  } else return record;
  return JSON.stringify(r);
}

/** Differences between the offline pass over the lake and the reference over the raw records (none expected). */
async function offlineDiffs(seed: number, opts: { pseudonyms?: boolean; jobs?: boolean } = {}): Promise<string[]> {
  const rng = createRng(seed);
  const traffic = generateTraffic(rng, { records: 120, users: 2 + rng.int(5), jobShare: opts.jobs ? 0.4 : 0 });
  const blobs = new MemoryBlobStore();
  const lake = opts.pseudonyms ? traffic.records.map(withPseudonym) : traffic.records;
  if (opts.pseudonyms) {
    const text = lake.join('\n');
    for (const u of traffic.users) if (text.includes(`"${u}"`)) return [`the lake still names user ${u}`];
  }
  // The lake writer's batches: stream order within each batch's objects.
  for (let i = 0, b = 0; i < lake.length; b++) {
    const size = 1 + rng.int(30);
    await writeLakeBatch(blobs, lake.slice(i, i + size), `batch-${String(b).padStart(4, '0')}`);
    i += size;
  }
  // A decision job's chunks: one lake object each, under the key the job gives it (F2d).
  const chunks = new Map<number, string[]>();
  for (const d of traffic.jobDecisions) {
    const { chunk } = parseJobDecisionId(d.decisionId)!;
    chunks.set(chunk, [...(chunks.get(chunk) ?? []), JSON.stringify(d)]);
  }
  for (const [chunk, lines] of chunks) await blobs.put(jobLakeKey(TRAFFIC_JOB, chunk), encodeLakeObject(lines));
  const reference = referenceFeedback(lakeOrder(traffic.records), traffic.jobDecisions);
  const diffs: string[] = [];
  for (const dp of traffic.decisionPoints) {
    const lastDay = 19_700;
    const run = runParams({
      decisionPoint: dp,
      runId: `p${seed}-${dp}`,
      prefix: `retrain/${dp}/p${seed}/`,
      cutoffBucket: lastDay,
      holdoutFromBucket: lastDay,
      contextDim: 3,
      actionDim: 1,
      weighting: { kind: 'none' },
      buckets: 1 + rng.int(4),
    });
    const items = planItems(await blobs.list('lake/'), { untilMs: lastDay * DAY, targetBytes: 200 + rng.int(2000) });
    await blobs.put(manifestKey(run), JSON.stringify(items));
    await blobs.put(erasuresKey(run), '{}');
    // The versions the updater stored (C4), as the plan hands them to the split, which resolves references with them.
    const catalogs = [...reference.catalogs].filter(([k]) => k.startsWith(`${dp}|`));
    await blobs.put(
      catalogsKey(run),
      JSON.stringify(Object.fromEntries(catalogs.map(([k, ids]) => [k.split('|')[1], ids]))),
    );
    for (const item of items) await splitPartition({ run, item }, { blobs });
    const buckets = Array.from({ length: run.buckets }, (_, b) => b);
    for (const bucket of buckets) await joinBucket({ run, bucket }, { blobs });
    const ctx = await reduce(
      {
        run,
        plan: {
          manifestKey: manifestKey(run),
          items: items.length,
          buckets,
          decisionObjects: 0,
          decisionBytes: 0,
          erasures: 0,
          firstHour: null,
          lastHour: null,
        },
      },
      { blobs },
    );
    expect(ctx.reduce!.missingItems).toEqual([]);
    const a = decodeAggregate((await blobs.get(ctx.reduce!.key))!, 3, 'reduced');

    // The reference per (objective, action, slot), summed over days, for this decision point.
    const want = new Map<string, RefStats>();
    let late = 0;
    for (const [key, s] of reference.stats) {
      const [kdp, objective, actionId, , slot] = key.split('|');
      if (kdp !== dp) continue;
      late += s.lateEvents;
      const k = `${objective}|${actionId}|${slot}`;
      const acc = want.get(k);
      if (!acc) want.set(k, structuredClone(s));
      else {
        acc.n += s.n;
        acc.sumR += s.sumR;
        acc.rewardEvents += s.rewardEvents;
        s.sxr.forEach((v, i) => {
          acc.sxr[i]! += v;
        });
        s.sxx.forEach((row, i) => {
          row.forEach((v, j) => {
            acc.sxx[i]![j]! += v;
          });
        });
      }
    }
    const got = new Map<string, { n: number; sumR: number; sxr: number[]; sxx: Float64Array; rewardEvents: number }>();
    for (const [objective, byAction] of a.segments.train) {
      for (const [cell, w] of byAction) {
        // Kept per slot, as the updater keeps them (F1).
        const { actionId, slot } = parseSlotCell(cell);
        got.set(`${objective}|${actionId}|${slot}`, {
          n: w.stats.n,
          sumR: w.stats.sumR,
          sxr: [...w.stats.sxr],
          sxx: unpackSymmetric(w.stats.sxx, 3, new Float64Array(9)),
          rewardEvents: w.rewardEvents,
        });
      }
    }
    for (const k of new Set([...want.keys(), ...got.keys()])) {
      const e = want.get(k);
      const g = got.get(k);
      if (!e || !g) {
        diffs.push(`${dp} ${k}: ${g ? 'not expected' : 'missing'}`);
        continue;
      }
      const pairs: [string, number, number][] = [
        ['n', g.n, e.n],
        ['sumR', g.sumR, e.sumR],
        ['rewardEvents', g.rewardEvents, e.rewardEvents],
        ...g.sxr.map((v, i): [string, number, number] => [`sxr[${i}]`, v, e.sxr[i]!]),
        ...e.sxx.flatMap((row, i) =>
          row.map((v, j): [string, number, number] => [`sxx[${i}][${j}]`, g.sxx[i * 3 + j]!, v]),
        ),
      ];
      for (const [name, x, y] of pairs) if (!close(x, y)) diffs.push(`${dp} ${k} ${name}: ${x}, expected ${y}`);
    }
    // C5: every decision's catalog reference resolved (an unresolved one would be left out of training).
    if ((a.counters.unresolvedCandidates ?? 0) !== 0)
      diffs.push(`${dp} unresolved catalog references: ${a.counters.unresolvedCandidates}`);
    if ((a.counters.lateEvents ?? 0) !== late)
      diffs.push(`${dp} late events: ${a.counters.lateEvents ?? 0}, expected ${late}`);
  }
  return diffs;
}

describe('the retraining join follows the same rules as the updater', () => {
  it('split, join and reduce of a lake hold the reference statistics, whatever the item and bucket cuts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (seed) => {
        expect(await offlineDiffs(seed)).toEqual([]);
      }),
      { numRuns: Number(process.env.FEEDBACK_RUNS ?? 60) },
    );
  });

  it('learns what F2d says from the lake objects of a decision job: impressions once, only events naming them', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (seed) => {
        expect(await offlineDiffs(seed, { jobs: true })).toEqual([]);
      }),
      { numRuns: Number(process.env.FEEDBACK_RUNS ?? 60) },
    );
  });

  it('learns the same from a lake of pseudonyms as the reference learns from the raw user ids', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (seed) => {
        expect(await offlineDiffs(seed, { pseudonyms: true })).toEqual([]);
      }),
      { numRuns: Number(process.env.FEEDBACK_RUNS ?? 60) },
    );
  });
});
