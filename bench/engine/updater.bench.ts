/**
 * Updater throughput against dynalite: stream records (decisions and feedback) applied by the real updater core in
 * Lambda-sized batches, compared in the same process with a baseline of one plain PutItem per record (what a naive
 * per-event writer would cost). Run directly: `npx tsx bench/engine/updater.bench.ts [--events N]`.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { startEmulatorsWithResources } from '../../local/twin/resources.ts';
import { physicalName } from '../../local/twin/template.ts';
import { DynamoDeadLetterStore } from '../../shared/adapters/dynamodb/dead-letter-store.ts';
import { DynamoDecisionStore } from '../../shared/adapters/dynamodb/decision-store.ts';
import { DynamoStateStore } from '../../shared/adapters/dynamodb/state-store.ts';
import { applyBatch, type StreamEntry } from '../../shared/app/learn/apply-batch.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { createRng } from '../../shared/core/random.ts';
import type { DecisionRecord, EventRecord } from '../../shared/core/schemas.ts';

export interface ConcurrentWritersResult {
  writers: number;
  partitions: number;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  statsWrites: number;
  conflictRetries: number;
  /** Batches redelivered (Lambda-style) after a statistics write gave up on its conflict retries. */
  redeliveries: number;
  impressionsExpected: number;
  impressionsStored: number;
}

export interface UpdaterBenchResult {
  records: number;
  decisions: number;
  feedbackEvents: number;
  batchSize: number;
  seconds: number;
  recordsPerSecond: number;
  statsWrites: number;
  baselinePutsPerSecond: number;
  concurrent: ConcurrentWritersResult[];
}

export function generateStream(n: number, seed = 1, actions = 20, d = 16): StreamEntry[] {
  const rng = createRng(seed);
  const out: StreamEntry[] = [];
  const decided: { id: string; user: string }[] = [];
  for (let i = 0; i < n; i++) {
    let payload: DecisionRecord | EventRecord;
    if (decided.length < 10 || rng.next() < 0.5) {
      const user = `u${rng.int(5000)}`;
      const context = { segment: `s${rng.int(8)}`, age: rng.int(80), mobile: rng.next() < 0.5 };
      const id = `d-${seed}-${i}`;
      payload = {
        kind: 'decision',
        v: 1,
        decisionId: id,
        decisionPoint: 'bench',
        userId: user,
        at: 1_700_000_000_000 + i,
        context,
        x: Array.from(encodeFeatures(context, d)),
        candidates: [],
        chosen: [`a${rng.int(actions)}`],
        chosenFeatures: [[1]],
        propensity: 1 / actions,
        modelVersion: 'bench',
        attributionWindowSeconds: 86400,
        rewards: {},
        objectives: [],
        servedBy: 'default',
      };
      decided.push({ id, user });
    } else {
      const dd = decided[decided.length - 1 - rng.int(Math.min(200, decided.length))]!;
      payload = {
        kind: 'event',
        v: 1,
        event: { eventId: `e-${seed}-${i}`, userId: dd.user, decisionId: dd.id, type: 'click' },
        receivedAt: 1_700_000_000_000 + i,
      };
    }
    out.push({
      shardId: 'shardId-000000000000',
      sequenceNumber: String(10n ** 20n + BigInt(i)),
      arrivalMs: 1_700_000_000_000 + i,
      data: JSON.stringify(payload),
    });
  }
  return out;
}

export async function runUpdaterBench(opts: { events?: number; batchSize?: number } = {}): Promise<UpdaterBenchResult> {
  const n = opts.events ?? 20_000;
  const batchSize = opts.batchSize ?? 1000;
  const { emulators: emu, plan } = await startEmulatorsWithResources();
  const deps = {
    state: new DynamoStateStore(emu.dynamo, physicalName(plan, 'StateTable')),
    decisions: new DynamoDecisionStore(emu.dynamo, physicalName(plan, 'DecisionsTable')),
    deadLetters: new DynamoDeadLetterStore(emu.dynamo, physicalName(plan, 'DeadLetterTable')),
    statsPartitions: 4,
  };
  try {
    const stream = generateStream(n);
    let decisions = 0;
    let feedback = 0;
    let statsWrites = 0;
    const t0 = performance.now();
    for (let i = 0; i < stream.length; i += batchSize) {
      const out = await applyBatch(stream.slice(i, i + batchSize), deps);
      if (out.failedFrom) throw new Error(`batch at ${i} failed from ${out.failedFrom}`);
      decisions += out.decisions;
      feedback += out.rewards;
      statsWrites += out.statsWrites;
    }
    const seconds = (performance.now() - t0) / 1000;

    // Baseline: the same number of records, each written as one unconditional PutItem, 16 in flight.
    const m = Math.min(n, 10_000);
    const b0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < m) {
          const i = next++;
          await emu.dynamo.send(
            new PutItemCommand({
              TableName: physicalName(plan, 'DeadLetterTable'),
              Item: marshall({ id: `baseline-${i}`, data: stream[i]!.data }),
            }),
          );
        }
      }),
    );
    const baselinePutsPerSecond = m / ((performance.now() - b0) / 1000);
    const concurrent: ConcurrentWritersResult[] = [];
    for (const partitions of [1, 4]) concurrent.push(await concurrentWriters(deps, 16, partitions, 1_000));
    return {
      concurrent,
      records: n,
      decisions,
      feedbackEvents: feedback,
      batchSize,
      seconds,
      recordsPerSecond: n / seconds,
      statsWrites,
      baselinePutsPerSecond,
    };
  } finally {
    await emu.close();
  }
}

/**
 * The scale mechanism under contention: `writers` shards apply batches at the same time, every decision on one of
 * three hot actions, so all writers race on the same statistics items (spread over `partitions` per action).
 * Checks that nothing is lost and counts the optimistic-concurrency retries.
 */
async function concurrentWriters(
  base: Omit<Parameters<typeof applyBatch>[1], 'statsPartitions'>,
  writers: number,
  partitions: number,
  perWriter: number,
): Promise<ConcurrentWritersResult> {
  const dp = `hot-${partitions}`;
  const batches = Array.from({ length: writers }, (_, w) => {
    const stream = Array.from({ length: perWriter }, (_, i) => {
      const context = { segment: `s${i % 4}` };
      const record: DecisionRecord = {
        kind: 'decision',
        v: 1,
        decisionId: `${dp}-${w}-${i}`,
        decisionPoint: dp,
        userId: `${dp}-u${w}-${i}`,
        at: 1_700_000_000_000,
        context,
        x: Array.from(encodeFeatures(context, 16)),
        candidates: [],
        chosen: [`hot${i % 3}`],
        chosenFeatures: [[1]],
        propensity: 1,
        modelVersion: 'bench',
        attributionWindowSeconds: 60,
        rewards: {},
        objectives: [],
        servedBy: 'default',
      };
      return {
        // Shards and users of their own per scenario: a later scenario reusing a shard's sequence numbers would be
        // the same records delivered again, which the updater rightly applies once (it stored 0 of 16,000).
        shardId: `shardId-${dp}-${String(w).padStart(12, '0')}`,
        sequenceNumber: String(10n ** 20n + BigInt(i)),
        arrivalMs: 0,
        data: JSON.stringify(record),
      };
    });
    return stream;
  });
  let statsWrites = 0;
  let conflictRetries = 0;
  let redeliveries = 0;
  const t0 = performance.now();
  await Promise.all(
    batches.map(async (stream) => {
      for (let i = 0; i < stream.length; ) {
        const batch = stream.slice(i, i + 250);
        const out = await applyBatch(batch, { ...base, statsPartitions: partitions });
        statsWrites += out.statsWrites;
        conflictRetries += out.conflictRetries;
        if (out.failedFrom === undefined) i += batch.length;
        else {
          // As Lambda does: redeliver from the lowest sequence number not committed.
          redeliveries++;
          i += batch.findIndex((e) => e.sequenceNumber === out.failedFrom);
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  let stored = 0;
  for (const item of await base.state.listStats(dp)) stored += item.stats.n;
  const records = writers * perWriter;
  return {
    writers,
    partitions,
    records,
    seconds,
    recordsPerSecond: records / seconds,
    statsWrites,
    conflictRetries,
    redeliveries,
    impressionsExpected: records,
    impressionsStored: stored,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--events');
  const res = await runUpdaterBench(i > 0 ? { events: Number(process.argv[i + 1]) } : {});
  console.log(res);
}
