/**
 * The replay harness: the real updater function (`functions/updater/handler.ts` as the synthesised template configures
 * it, with its real DynamoDB adapters and an SDK client under its role) consumes a Kinesis stream (kinesalite) of
 * feedback through the local event source mapping (`local/twin/event-source-mapping.ts`: Lambda's batches, redelivery from the lowest reported failure, the whole batch again
 * after a crash), while faults are injected into its DynamoDB client (see `faults.ts`). A second updater consumes half
 * of the shards at the same time with another batch size, so those records are delivered at least twice,
 * concurrently, in overlapping batches, and both updaters write the same statistics items (writer partitions are
 * shared between shards too).
 *
 * Afterwards the state must equal what the specification's reference says (`test/support/feedback-reference.ts`):
 * the statistics, the users' stages, and the dead letters (every refused record with its rule, every held event),
 * and nothing else.
 *
 * Run directly: `npx tsx bench/reliability/replay.ts [--events N]`.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  type KinesisClient,
  ListShardsCommand,
  type ListShardsCommandOutput,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { createHandler as createUpdater } from '../../functions/updater/handler.ts';
import type { Emulators } from '../../local/emulators.ts';
import { KinesisPoller } from '../../local/twin/event-source-mapping.ts';
import { principalOf, twinClients } from '../../local/twin/functions.ts';
import { IamLedger } from '../../local/twin/iam-enforcement.ts';
import { startEmulatorsWithResources } from '../../local/twin/resources.ts';
import { physicalName } from '../../local/twin/template.ts';
import { DynamoDeadLetterStore } from '../../shared/adapters/dynamodb/dead-letter-store.ts';
import { DynamoDecisionStore } from '../../shared/adapters/dynamodb/decision-store.ts';
import { DynamoStateStore } from '../../shared/adapters/dynamodb/state-store.ts';
import { compareWithReference, type Tally } from '../../test/support/feedback-compare.ts';
import { type FaultCounters, FaultInjector, type FaultPlan } from './faults.ts';
import { generateWorkload, type Workload } from './workload.ts';

export interface ReplayOptions {
  events?: number;
  seed?: number;
  shards?: number;
  statsPartitions?: number;
  /**
   * One updater per entry: its batch size and which shards it consumes (`all`, or every other shard from `odd`),
   * all running at once. The default races a full updater with batches of 1,000 (the CDK setting) against a second
   * one with batches of 250 on half of the shards.
   */
  updaters?: { batchSize: number; shards: 'all' | 'odd' }[];
  faults?: Partial<FaultPlan>;
  /** Give up waiting after this long (default: 30 ms per record, at least 10 minutes). */
  timeoutMs?: number;
  onProgress?: (line: string) => void;
}

export interface ReplayReport {
  events: number;
  counts: Workload['counts'];
  shards: number;
  updaters: {
    batchSize: number;
    shards: number;
    batches: number;
    redeliveries: number;
    recordsRedelivered: number;
    partialFailures: number;
    crashes: number;
  }[];
  faults: FaultCounters;
  abandonedBatches: number;
  /** Differences from the reference: statistics items, stages, dead letters. */
  mismatches: string[];
  expectedItems: number;
  tally: Tally;
  seconds: number;
  recordsPerSecond: number;
}

const DEFAULT_PLAN: FaultPlan = {
  attemptFaultRate: 0.05,
  // About 8 calls that fail after every SDK retry per 10,000 records (was 2): at 2 the expected number of batches
  // that fail part-way was about 2, so one run in seven or so exercised no partial failure at all and the test's
  // "the faults really happened" check failed by chance.
  exhaustedFaultRate: 0.002,
  crashRate: 0.03,
  crashInvocations: [2, 7],
  maxAttempts: 3,
  retryDelayMs: 20,
  seed: 7,
};

export async function runReplay(opts: ReplayOptions = {}): Promise<ReplayReport> {
  const events = opts.events ?? 10_000;
  const shards = opts.shards ?? 4;
  const updaterSpecs = opts.updaters ?? [
    { batchSize: 1000, shards: 'all' },
    { batchSize: 250, shards: 'odd' },
  ];
  const progress = opts.onProgress ?? (() => {});
  const plan: FaultPlan = { ...DEFAULT_PLAN, ...opts.faults };
  const workload = generateWorkload({ events, ...(opts.seed !== undefined ? { seed: opts.seed } : {}) });

  const { emulators: emu, plan: twin } = await startEmulatorsWithResources({
    synth: { context: { shardCount: shards } },
  });
  const resources = {
    stateTable: physicalName(twin, 'StateTable'),
    decisionsTable: physicalName(twin, 'DecisionsTable'),
    deadLetterTable: physicalName(twin, 'DeadLetterTable'),
    streamName: physicalName(twin, 'EventStream'),
  };
  process.env.NBA_LOG_LEVEL ??= 'silent';
  const spec = twin.functions.find((f) => f.name === 'UpdaterFunction')!;
  const ledger = new IamLedger();
  const clients = twinClients(emu, principalOf(spec), ledger, new Map(twin.tables.map((t) => [t.name, t])));
  try {
    const updater = createUpdater({
      environment: { ...spec.environment, STATS_PARTITIONS: String(opts.statsPartitions ?? 2) },
      clients,
    });
    const faults = new FaultInjector(plan);
    faults.install(clients.dynamo, resources.stateTable);

    // 1. The stream: put in order (PutRecords keeps per-shard order), remembering where each record landed.
    const t0 = performance.now();
    const placed = await putAll(emu.kinesis, resources.streamName, workload);
    const lastSeq = new Map<string, bigint>();
    for (const p of placed) if ((lastSeq.get(p.shardId) ?? -1n) < BigInt(p.seq)) lastSeq.set(p.shardId, BigInt(p.seq));
    progress(
      `put ${placed.length} records on ${lastSeq.size} shards in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    // 2. The updaters, racing on the same shards.
    faults.armed = true;
    const started = performance.now();
    let abandoned = 0;
    const shardIds = [...lastSeq.keys()].sort();
    const assigned = updaterSpecs.map((spec) =>
      spec.shards === 'all' ? shardIds : shardIds.filter((_, i) => i % 2 === 1),
    );
    const stats = updaterSpecs.map((spec, u) => ({
      batchSize: spec.batchSize,
      shards: assigned[u]!.length,
      batches: 0,
      redeliveries: 0,
      recordsRedelivered: 0,
      partialFailures: 0,
      crashes: 0,
    }));
    const done = updaterSpecs.map(() => new Map<string, bigint>());
    const pollers = updaterSpecs.map(({ batchSize }, u) => {
      const s = stats[u]!;
      const delivered = new Map<string, bigint>();
      const handler = async (event: KinesisStreamEvent) => {
        const first = event.Records[0]!;
        const shardId = first.eventID.slice(0, first.eventID.lastIndexOf(':'));
        const firstSeq = BigInt(first.kinesis.sequenceNumber);
        const lastDelivered = delivered.get(shardId);
        s.batches++;
        if (lastDelivered !== undefined && firstSeq <= lastDelivered) {
          s.redeliveries++;
          s.recordsRedelivered += event.Records.filter((r) => BigInt(r.kinesis.sequenceNumber) <= lastDelivered).length;
        }
        const last = BigInt(event.Records[event.Records.length - 1]!.kinesis.sequenceNumber);
        if (lastDelivered === undefined || last > lastDelivered) delivered.set(shardId, last);
        try {
          const res = await faults.invoke(() => updater.handler(event), event.Records.length);
          if (res.batchItemFailures.length > 0) s.partialFailures++;
          return res;
        } catch (err) {
          s.crashes++;
          throw err;
        }
      };
      return new KinesisPoller(onlyShards(emu.kinesis, assigned[u]!), resources.streamName, handler, {
        batchSize,
        pollIntervalMs: 20,
        // As the CDK event source mapping: after 10 retries a batch would go to the on-failure destination.
        maxRetries: 10,
        onCheckpoint: (shardId, seq) => done[u]!.set(shardId, BigInt(seq)),
        onFailure: () => {
          abandoned++;
        },
      });
    });
    await Promise.all(pollers.map((p) => p.start()));
    const timeoutMs = opts.timeoutMs ?? Math.max(600_000, events * 30);
    const deadline = Date.now() + timeoutMs;
    const finished = () =>
      done.every((m, u) => assigned[u]!.every((shard) => (m.get(shard) ?? -1n) >= lastSeq.get(shard)!));
    let lastReport = Date.now();
    while (!finished() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        progress(`… ${stats.map((s) => `${s.batches} batches`).join(' / ')}, ${faults.counters.calls} DynamoDB calls`);
      }
    }
    await Promise.all(pollers.map((p) => p.stop()));
    faults.armed = false;
    const seconds = (performance.now() - started) / 1000;
    if (!finished()) throw new Error(`the updaters did not reach the end of the stream within ${timeoutMs} ms`);

    // 3. Verify: everything the reference says must have been learned, nothing else.
    const byShard = new Map<string, { index: number; shardId: string; seq: bigint }[]>();
    for (const p of placed) {
      const list = byShard.get(p.shardId) ?? [];
      list.push({ index: p.record.index, shardId: p.shardId, seq: BigInt(p.seq) });
      byShard.set(p.shardId, list);
    }
    const { diffs, tally } = await compareWithReference(
      workload.traffic,
      byShard,
      {
        state: new DynamoStateStore(emu.dynamo, resources.stateTable),
        decisions: new DynamoDecisionStore(emu.dynamo, resources.decisionsTable),
        deadLetters: new DynamoDeadLetterStore(emu.dynamo, resources.deadLetterTable),
      },
      workload.reference,
    );

    if (ledger.denied.length > 0) {
      throw new Error(
        `the updater's role denied: ${ledger.denied.map((d) => `${d.action} on ${d.resource}`).join(', ')}`,
      );
    }
    const perShard = new Map<string, number>();
    for (const p of placed) perShard.set(p.shardId, (perShard.get(p.shardId) ?? 0) + 1);
    return {
      events: workload.counts.total,
      counts: workload.counts,
      shards: lastSeq.size,
      updaters: stats,
      faults: { ...faults.counters },
      abandonedBatches: abandoned,
      mismatches: diffs,
      expectedItems: workload.reference.stats.size,
      tally,
      seconds,
      recordsPerSecond:
        assigned.reduce((sum, shards) => sum + shards.reduce((n, shard) => n + (perShard.get(shard) ?? 0), 0), 0) /
        seconds,
    };
  } finally {
    clients.destroy();
    await emu.close();
  }
}

/** The client as an updater that owns only `shards` sees it: ListShards answers with those alone. */
function onlyShards(kinesis: KinesisClient, shards: readonly string[]): KinesisClient {
  const send = (command: unknown) =>
    (kinesis.send as (c: unknown) => Promise<unknown>)(command).then((out) => {
      if (command instanceof ListShardsCommand) {
        const o = out as ListShardsCommandOutput;
        return { ...o, Shards: (o.Shards ?? []).filter((s) => s.ShardId !== undefined && shards.includes(s.ShardId)) };
      }
      return out;
    });
  return new Proxy(kinesis, { get: (t, prop, r) => (prop === 'send' ? send : Reflect.get(t, prop, r)) });
}

interface Placed {
  record: Workload['records'][number];
  shardId: string;
  seq: string;
}

async function putAll(kinesis: Emulators['kinesis'], streamName: string, workload: Workload): Promise<Placed[]> {
  const placed: Placed[] = [];
  const records = workload.records;
  for (let i = 0; i < records.length; i += 500) {
    const chunk = records.slice(i, i + 500);
    const out = await kinesis.send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: chunk.map((r) => ({ PartitionKey: r.partitionKey, Data: Buffer.from(r.data, 'utf8') })),
      }),
    );
    // A retried entry would land behind later ones and break the per-user order this workload relies on.
    if ((out.FailedRecordCount ?? 0) > 0) throw new Error(`kinesalite refused ${out.FailedRecordCount} records`);
    chunk.forEach((record, k) => {
      const r = out.Records![k]!;
      placed.push({ record, shardId: r.ShardId!, seq: r.SequenceNumber! });
    });
  }
  return placed;
}

/** The report as the lines the test prints and the benchmark writes. */
export function formatReplay(r: ReplayReport): string {
  const updaters = r.updaters
    .map(
      (u, i) =>
        `| updater ${String.fromCharCode(65 + i)} | ${u.shards} | ${u.batchSize} | ${u.batches} | ${u.redeliveries} | ${u.recordsRedelivered} | ${u.partialFailures} | ${u.crashes} |`,
    )
    .join('\n');
  return [
    `${r.events} stream records on ${r.shards} shards: ${r.counts.decisions} decision records, ${r.counts.events} event records (${r.counts.withoutDecisionId} without decisionId, ${r.counts.clientRetries} repeating an earlier event id); the reference counts ${r.counts.counted} events, holds ${r.counts.held} for decisions that never come and dead-letters ${r.counts.deadLetters} records.`,
    '',
    '| updater | shards | batch size | batches delivered | overlapping redeliveries | records redelivered | partial failures | crashes |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    updaters,
    '',
    `Injected faults: ${r.faults.calls} DynamoDB calls, ${r.faults.attempts} HTTP attempts; ${r.faults.throttled} throttled attempts and ${r.faults.lostResponses} applied-but-lost responses (retried by the SDK), ${r.faults.exhausted} calls failed after the SDK's retries, ${r.faults.crashes} crashes mid-batch in ${r.faults.invocations} invocations; ${r.faults.conflicts} refused conditional writes on statistics items (racing updaters, replayed writes).`,
    `Result: ${r.mismatches.length === 0 ? 'state equal to the reference' : `${r.mismatches.length} differences from the reference`} (${r.expectedItems} statistics items, stages, dead letters); ${r.tally.lost} impressions or events lost, ${r.tally.double} counted twice, ${r.tally.wrongDeadLetters} valid records dead-lettered or held, ${r.tally.missingDeadLetters} dead letters missing; ${r.abandonedBatches} batches abandoned.`,
    `Both updaters through their shards in ${r.seconds.toFixed(1)} s (${r.recordsPerSecond.toFixed(0)} record deliveries/s).`,
  ].join('\n');
}

/**
 * Runs the harness in a child process (it needs a process of its own: the handler reads its environment once), for
 * the benchmark runner, which runs many benchmarks in one process.
 */
export function runReplayInChild(events: number): Promise<ReplayReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--events', String(events), '--json'],
      {
        env: { ...process.env, NBA_LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as ReplayReport);
      } catch {
        reject(new Error(`replay harness exited with ${code}: ${out.slice(-500)}`));
      }
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--events');
  const events = i > 0 ? Number(process.argv[i + 1]) : Number(process.env.NBA_RELIABILITY_EVENTS ?? 100_000);
  const json = process.argv.includes('--json');
  const report = await runReplay({ events, onProgress: (l) => process.stderr.write(`${l}\n`) });
  if (json) console.log(JSON.stringify(report));
  else {
    console.log(formatReplay(report));
    if (report.mismatches.length > 0) console.log(report.mismatches.slice(0, 20).join('\n'));
  }
  const ok = report.mismatches.length === 0 && report.abandonedBatches === 0;
  if (!ok) process.exitCode = 1;
}
