/**
 * The next retraining after an erasure leaves the user out: a run of the synthesised state machine over a lake that
 * holds erased users' records learns exactly what it learns from the same lake without their records up to the
 * erasure (the specification, applied here by filtering the lines), keeps what they did after it (a new history),
 * and does not mistake the left-out impressions for lost data when it checks the lake against the online statistics.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticActionFeatures, syntheticActionIds, syntheticLog } from '../../bench/retrain/synthetic-log.ts';
import { runLocalRetrain } from '../../local/retrain.ts';
import { FsBlobStore } from '../../shared/adapters/lake/fs-blob-store.ts';
import { type Aggregate, decodeAggregate } from '../../shared/app/retrain/aggregate.ts';
import { aggregateRecords } from '../../shared/app/retrain/join-bucket.ts';
import { shufflePrefix } from '../../shared/app/retrain/keys.ts';
import { decodeLakeObject, encodeLakeObject, parseLakeObject, writeLakeBatch } from '../../shared/app/retrain/lake.ts';
import { emptyStats } from '../../shared/core/bandit/stats.ts';
import { bucketOf } from '../../shared/core/domain.ts';
import { pseudonymise } from '../../shared/core/privacy.ts';
import { decisionPointSettingsSchema } from '../../shared/core/schemas.ts';
import { startTestStores, type TestStores } from '../support/emulators.ts';
import { statsItemOf } from '../support/records.ts';
import { DAY, T0 } from './support.ts';

const D0 = T0 / DAY;
const KEY = 'a test key of at least thirty-two characters';
const USERS = 30;
const customer = (i: number) => pseudonymise(KEY, `customer-${i}@example.com`);
/** Three of the thirty users (10%) are erased halfway through the third day. */
const ERASED = new Set([0, 1, 2].map(customer));
const ERASED_AT = (D0 + 2) * DAY + 12 * 3_600_000;

type Line = { kind: string; userId?: string; at?: number; receivedAt?: number; event?: { userId: string } };
const userOf = (r: Line) => (r.kind === 'decision' ? r.userId! : r.event!.userId);
const timeOf = (r: Line) => (r.kind === 'decision' ? r.at! : r.receivedAt!);
/** The specification: a record of an erased user at or before the erasure is not there; everything else is. */
const kept = (r: Line) => !(ERASED.has(userOf(r)) && timeOf(r) <= ERASED_AT);

describe('retraining after an erasure', () => {
  const dp = 'erasure';
  let stores: TestStores;
  let lakeDir: string;
  let blobs: FsBlobStore;
  const lines: string[] = [];

  beforeAll(async () => {
    stores = await startTestStores();
    lakeDir = mkdtempSync(join(tmpdir(), 'nba-erasure-lake-'));
    blobs = new FsBlobStore(lakeDir);
    const now = Date.now();
    const settings = decisionPointSettingsSchema.parse({ contextDim: 4, actionDim: 2 });
    await stores.state.putDecisionPoint(
      { decisionPoint: dp, settings, createdAt: now, updatedAt: now, version: 1 },
      undefined,
    );
    for (const actionId of syntheticActionIds()) {
      const action = { decisionPoint: dp, actionId, features: syntheticActionFeatures(actionId), status: 'live' };
      await stores.state.putAction({ ...action, createdAt: now, updatedAt: now, version: 1 } as never, undefined);
    }
    // Four days of a skewed log whose decisions come from thirty returning users (pseudonyms, as the API writes).
    for (const hour of syntheticLog({
      decisionPoint: dp,
      startMs: D0 * DAY,
      days: 4,
      perDay: 600,
      contextDim: 4,
      actionDim: 2,
      skew: 0.8,
      seed: 11,
      duplicateShare: 0.02,
    })) {
      const ours = hour.lines.map((text) => {
        const r = JSON.parse(text) as Line;
        const original = userOf(r);
        const user = customer(Number.parseInt(original.slice(2), 16) % USERS);
        if (r.kind === 'decision') r.userId = user;
        else r.event!.userId = user;
        return JSON.stringify(r);
      });
      lines.push(...ours);
      await writeLakeBatch(blobs, ours, `synthetic-${hour.hourStart}`);
    }
    // What the online learner counted (every user, erased or not): the fit checks the lake against it.
    const impressions = new Map<number, number>();
    const seen = new Set<string>();
    for (const text of lines) {
      const r = JSON.parse(text) as Line & { decisionId?: string; chosen?: string[] };
      if (r.kind !== 'decision' || seen.has(r.decisionId!)) continue;
      seen.add(r.decisionId!);
      impressions.set(bucketOf(r.at!), (impressions.get(bucketOf(r.at!)) ?? 0) + r.chosen!.length);
    }
    for (const [bucket, n] of impressions) {
      const stats = emptyStats(4);
      stats.n = n;
      await stores.state.putStats(statsItemOf({ decisionPoint: dp, actionId: 'A', bucket, stats, at: now }), undefined);
    }
    for (const userId of ERASED) await stores.erasures.record({ userId, erasedAt: ERASED_AT });
  });

  afterAll(async () => {
    await stores?.emulators.close();
    rmSync(lakeDir, { recursive: true, force: true });
  });

  it('learns what the lake without the erased users’ earlier records teaches, keeps their later ones, and does not take the left-out impressions for lost data', async () => {
    const dropped = lines.filter((l) => !kept(JSON.parse(l) as Line));
    const after = lines.filter((l) => {
      const r = JSON.parse(l) as Line;
      return ERASED.has(userOf(r)) && kept(r);
    });
    // The scenario has both: erased users' records before the erasure, and after it.
    expect(dropped.length).toBeGreaterThan(50);
    expect(after.length).toBeGreaterThan(50);

    const r = await runLocalRetrain(
      { decisionPoint: dp, asOf: new Date((D0 + 4) * DAY + 2 * 3_600_000).toISOString() },
      { blobs, state: stores.state, erasures: stores.erasures },
      { executionName: 'after-erasure' },
    );
    expect(r.status).toBe('SUCCEEDED');
    const ctx = r.output!;
    expect(ctx.plan?.erasures).toBe(3);
    expect(ctx.reduce?.counters.erasedRecords).toBe(dropped.length);

    // The aggregate equals the one of the filtered lake, joined and weighted by the same rules.
    const reference = parseLakeObject(encodeLakeObject(lines.filter((l) => kept(JSON.parse(l) as Line))));
    const want = aggregateRecords(ctx.run, reference);
    const got = decodeAggregate((await blobs.get(ctx.reduce!.key))!, 4, 'reduced');
    expect(summary(got)).toEqual(summary(want));
    const unfiltered = aggregateRecords(ctx.run, parseLakeObject(encodeLakeObject(lines)));
    expect(summary(unfiltered)).not.toEqual(summary(want));

    // The dealt-out records of the run (its only copies of lake records) hold none of the dropped ones.
    const shuffled: Line[] = [];
    for (let b = 0; b < ctx.run.buckets; b++) {
      for (const { key } of await blobs.list(shufflePrefix(ctx.run, b))) {
        for (const text of decodeLakeObject((await blobs.get(key))!).split('\n')) {
          if (text.trim() !== '') shuffled.push((JSON.parse(text) as { r: Line }).r);
        }
      }
    }
    expect(shuffled.filter((x) => !kept(x))).toEqual([]);
    expect(shuffled.filter((x) => ERASED.has(userOf(x))).length).toBe(after.length);

    // 10% of the impressions are left out, far above the 0.1% the completeness check tolerates: counted as held.
    expect(ctx.fit?.incompleteBuckets).toEqual([]);
    expect(ctx.fit?.carriedOverBuckets).toEqual([]);
    expect(ctx.evaluation?.reasons.join(' ') ?? '').not.toMatch(/lake holds/);
  });
});

/** What was learned, per segment, objective and action, rounded against summation order. */
function summary(a: Aggregate) {
  const out: Record<string, unknown> = {};
  for (const [segment, objectives] of Object.entries(a.segments)) {
    for (const [objective, actions] of objectives) {
      for (const [actionId, w] of actions) {
        const round = (v: number) => Math.round(v * 1e6) / 1e6;
        out[`${segment}/${objective}/${actionId}`] = {
          decisions: w.decisions,
          rewardEvents: w.rewardEvents,
          sumW: round(w.sumW),
          n: round(w.stats.n),
          sumR: round(w.stats.sumR),
          sxr: Array.from(w.stats.sxr, round),
        };
      }
    }
  }
  return out;
}
