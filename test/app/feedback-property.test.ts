/**
 * The feedback property (docs/ARCHITECTURE.md §3, F7): for random traffic delivered with random batch cuts,
 * redeliveries, partial failures, crashes, racing updaters and a reshard, what the updater stored equals what the
 * reference (`test/support/feedback-reference.ts`, written from the specification) says must be learned. Runs on the
 * in-memory adapters (held to the DynamoDB adapters by the contract test); `npm run bench` runs it on the emulators
 * at size.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryBlobStore } from '../../shared/adapters/lake/memory-blob-store.ts';
import { MemoryDeadLetterStore } from '../../shared/adapters/memory/dead-letter-store.ts';
import { MemoryDecisionStore } from '../../shared/adapters/memory/decision-store.ts';
import { MemoryStateStore } from '../../shared/adapters/memory/state-store.ts';
import { applyJobImpressions } from '../../shared/app/decision-jobs/decide-chunk.ts';
import { jobLakeKey, parseJobDecisionId } from '../../shared/app/decision-jobs/job.ts';
import { JobDecisionLookup } from '../../shared/app/decision-jobs/job-decisions.ts';
import { type ApplyBatchDeps, applyBatch } from '../../shared/app/learn/apply-batch.ts';
import { encodeLakeObject } from '../../shared/app/retrain/lake.ts';
import type { StateStore } from '../../shared/core/ports.ts';
import { createRng, type Rng } from '../../shared/core/random.ts';
import type { DecisionRecord } from '../../shared/core/schemas.ts';
import { compareWithReference } from '../support/feedback-compare.ts';
import { referenceFeedback } from '../support/feedback-reference.ts';
import { type DeliveryOptions, deliver, generateTraffic, shardTraffic } from '../support/feedback-traffic.ts';

async function run(seed: number, records: number, delivery: DeliveryOptions, reshard: boolean) {
  const rng = createRng(seed);
  const traffic = generateTraffic(rng, { records, users: 2 + rng.int(5) });
  const stream = shardTraffic(traffic, 2, reshard ? Math.floor(records / 2) : undefined);
  const deps: ApplyBatchDeps = {
    state: new MemoryStateStore(),
    decisions: new MemoryDecisionStore(),
    deadLetters: new MemoryDeadLetterStore(),
    statsPartitions: 2,
  };
  const counts = await deliver(stream, applyBatch, deps, rng, delivery);
  const { diffs } = await compareWithReference(traffic, stream.byShard, deps, referenceFeedback(traffic.records));
  return { diffs, counts, traffic };
}

/**
 * A decision job's chunks as the worker commits them (rule order of decide-chunk.ts: lake object, then impressions),
 * each attempted until an attempt succeeds under failing statistics writes, then once more (a retried chunk).
 */
async function runJob(jobDecisions: readonly DecisionRecord[], lake: MemoryBlobStore, state: StateStore, rng: Rng) {
  const chunks = new Map<number, DecisionRecord[]>();
  for (const d of jobDecisions) {
    const { chunk } = parseJobDecisionId(d.decisionId)!;
    chunks.set(chunk, [...(chunks.get(chunk) ?? []), d]);
  }
  let failures = 0;
  const flaky = new Proxy(state, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== 'putStats') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: Parameters<StateStore['putStats']>) => {
        if (rng.next() < 0.2) {
          failures++;
          throw new Error('injected: failed before taking effect');
        }
        await target.putStats(...args);
        if (rng.next() < 0.2) {
          failures++;
          throw new Error('injected: took effect, response lost');
        }
      };
    },
  });
  for (const [chunk, records] of chunks) {
    const [jobId] = [parseJobDecisionId(records[0]!.decisionId)!.jobId];
    await lake.put(jobLakeKey(jobId, chunk), encodeLakeObject(records.map((r) => JSON.stringify(r))));
    for (let ok = false; !ok; ) {
      ok = await applyJobImpressions(records, jobId, chunk, { state: flaky, statsPartitions: 2 }).then(
        () => true,
        () => false,
      );
    }
    await applyJobImpressions(records, jobId, chunk, { state, statsPartitions: 2 });
  }
  return failures;
}

async function runWithJob(seed: number, delivery: DeliveryOptions) {
  const rng = createRng(seed);
  const traffic = generateTraffic(rng, { records: 80, users: 2 + rng.int(5), jobShare: 0.4 });
  const stream = shardTraffic(traffic, 2, undefined);
  const lake = new MemoryBlobStore();
  const stores = {
    state: new MemoryStateStore(),
    decisions: new MemoryDecisionStore(),
    deadLetters: new MemoryDeadLetterStore(),
  };
  const jobFailures = await runJob(traffic.jobDecisions, lake, stores.state, rng);
  const deps: ApplyBatchDeps = {
    ...stores,
    decisions: new JobDecisionLookup(stores.decisions, lake).decisions,
    statsPartitions: 2,
  };
  await deliver(stream, applyBatch, deps, rng, delivery);
  const ref = referenceFeedback(traffic.records, traffic.jobDecisions);
  const { diffs } = await compareWithReference(traffic, stream.byShard, stores, ref);
  return { diffs, traffic, jobFailures, ref };
}

const calm: DeliveryOptions = { maxBatch: 1000, failBefore: 0, failAfter: 0, crash: 0, race: 0, redeliver: 0 };
const rough: DeliveryOptions = {
  maxBatch: 12,
  failBefore: 0.02,
  failAfter: 0.02,
  crash: 0.05,
  race: 0.1,
  redeliver: 0.1,
};

describe('feedback is learned exactly once, as the specification says', () => {
  it('one delivery of the whole stream ends in the reference state', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (seed) => {
        const { diffs } = await run(seed, 80, calm, false);
        expect(diffs).toEqual([]);
      }),
      { numRuns: Number(process.env.FEEDBACK_RUNS ?? 150) },
    );
  });

  it('batch cuts, redeliveries, failures, crashes, racing updaters and a reshard change nothing', async () => {
    const totals = { invocations: 0, partialFailures: 0, crashes: 0, races: 0, redeliveries: 0 };
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.boolean(), async (seed, reshard) => {
        const { diffs, counts } = await run(seed, 80, rough, reshard);
        for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += counts[k];
        expect(diffs).toEqual([]);
      }),
      { numRuns: Number(process.env.FEEDBACK_RUNS ?? 150) },
    );
    // The faults did happen, in numbers (so the property was tested under them).
    expect(totals.partialFailures).toBeGreaterThan(100);
    expect(totals.crashes).toBeGreaterThan(50);
    expect(totals.races).toBeGreaterThan(100);
    expect(totals.redeliveries).toBeGreaterThan(50);
  });

  it('decisions of a decision job are learned as F2d says, whatever the chunk retries and the stream delivery', async () => {
    const totals = { jobDecisions: 0, jobFailures: 0, namedJobEvents: 0 };
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (seed) => {
        const { diffs, traffic, jobFailures } = await runWithJob(seed, rough);
        totals.jobDecisions += traffic.jobDecisions.length;
        totals.jobFailures += jobFailures;
        totals.namedJobEvents += traffic.records.filter((r) => r.includes('"decisionId":"j-')).length;
        expect(diffs).toEqual([]);
      }),
      { numRuns: Number(process.env.FEEDBACK_RUNS ?? 100) },
    );
    // The job's decisions were there, their chunks failed and were retried, and events named them.
    expect(totals.jobDecisions).toBeGreaterThan(500);
    expect(totals.jobFailures).toBeGreaterThan(100);
    expect(totals.namedJobEvents).toBeGreaterThan(300);
  });

  it('the traffic exercises every rule: held, refused, duplicates, late, stage moves, intent labels and catalog references', () => {
    const rng = createRng(1);
    const traffic = generateTraffic(rng, { records: 3000, users: 6 });
    const ref = referenceFeedback(traffic.records);
    const codes = new Set(ref.dead.values());
    expect([...codes].sort()).toEqual(
      [
        'action-not-chosen',
        'another-user',
        'fallback-decision',
        'held-full',
        'malformed',
        'no-decision',
        'other-decision-point',
        'out-of-scope',
        'value-not-accepted',
        'value-out-of-range',
      ].sort(),
    );
    expect(ref.held.size).toBeGreaterThan(0);
    const late = [...ref.stats.values()].reduce((s, x) => s + x.lateEvents, 0);
    const intent = [...ref.stats.keys()].filter((k) => k.includes('|intent:') && ref.stats.get(k)!.rewardEvents > 0);
    expect(late).toBeGreaterThan(0);
    expect(intent.length).toBeGreaterThan(0);
    expect(ref.stages.size).toBeGreaterThan(0);
    // Decisions name their candidates both ways, and references declare versions of several decision points (C2–C4).
    expect(traffic.records.filter((r) => r.includes('"candidateCount"')).length).toBeGreaterThan(100);
    expect(ref.catalogs.size).toBeGreaterThan(3);
  });
});
