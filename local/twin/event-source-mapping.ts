/**
 * Plays the part of Lambda's Kinesis event source mapping locally, with the settings of the template's mapping
 * (`mappingOptions`): one in-order consumer per shard; a batch is delivered as a real KinesisStreamEvent once it holds
 * `batchSize` records or the batching window since its first record has passed; and Lambda's retry semantics:
 * - with ReportBatchItemFailures, `batchItemFailures` in the result make the next delivery start at the lowest failed
 *   sequence number (so batches overlap); without it, the result is ignored;
 * - a retry is a delivery of the failed batch's remaining records, never of records after it ("Lambda retries all
 *   records starting from that checkpoint" of the batch), and the retries are counted per batch: a batch finished by
 *   partial progress resets the count for the next, so a handler that makes progress on every delivery never has a
 *   batch given up;
 * - when the handler throws, the batch is delivered again, halved first while it holds more than one record if
 *   BisectBatchOnFunctionError is set (a split does not use up a retry);
 * - after `maxRetries` failed deliveries, or once the batch's first record is older than `maxRecordAgeSeconds`, the
 *   batch's metadata goes to the on-failure handler (the on-failure destination in AWS) and the consumer moves on.
 */
import {
  type _Record,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import type { EventSourceMappingSpec } from './template.ts';

export type UpdaterHandler = (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse | undefined>;

export interface PollerOptions {
  batchSize?: number;
  /** How long to gather records for a batch after its first one (MaximumBatchingWindowInSeconds). */
  maxBatchingWindowMs?: number;
  pollIntervalMs?: number;
  /** Failed deliveries before the batch is given up (MaximumRetryAttempts; -1 or absent: until it expires). */
  maxRetries?: number;
  /** Records older than this are given up without delivery (MaximumRecordAgeInSeconds; -1 or absent: never). */
  maxRecordAgeSeconds?: number;
  bisectOnError?: boolean;
  /** Whether `batchItemFailures` in the handler's result count (FunctionResponseTypes: ReportBatchItemFailures). */
  reportBatchItemFailures?: boolean;
  /** Where each shard starts: after this sequence number, else at the trim horizon. */
  checkpoints?: Record<string, string>;
  onCheckpoint?: (shardId: string, sequenceNumber: string) => void;
  onFailure?: (info: {
    shardId: string;
    firstSequenceNumber: string;
    lastSequenceNumber: string;
    attempts: number;
    error: string;
  }) => void | Promise<void>;
  onBatch?: (info: { shardId: string; records: number; failedFrom: string | undefined }) => void;
  region?: string;
}

export class KinesisPoller {
  private running = false;
  private loops: Promise<void>[] = [];
  private wake: (() => void)[] = [];

  constructor(
    private readonly client: KinesisClient,
    private readonly streamName: string,
    private readonly handler: UpdaterHandler,
    private readonly options: PollerOptions = {},
  ) {}

  async start(): Promise<void> {
    this.running = true;
    const shards = await this.client.send(new ListShardsCommand({ StreamName: this.streamName }));
    for (const shard of shards.Shards ?? []) this.loops.push(this.consume(shard.ShardId!));
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const w of this.wake) w();
    await Promise.all(this.loops);
    this.loops = [];
  }

  private async iterator(shardId: string, at: { after?: string; at?: string }): Promise<string> {
    const out = await this.client.send(
      new GetShardIteratorCommand({
        StreamName: this.streamName,
        ShardId: shardId,
        ...(at.at
          ? { ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: at.at }
          : at.after
            ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: at.after }
            : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    );
    return out.ShardIterator!;
  }

  /** Reads up to `limit` records, waiting up to the batching window for more once the first has arrived. */
  private async gather(it: string, limit: number): Promise<{ records: _Record[]; next: string | undefined }> {
    const windowMs = this.options.maxBatchingWindowMs ?? 0;
    const pollMs = this.options.pollIntervalMs ?? 100;
    const records: _Record[] = [];
    let next: string | undefined = it;
    let firstAt = 0;
    while (next && this.running) {
      const out: GetRecordsCommandOutput = await this.client.send(
        new GetRecordsCommand({ ShardIterator: next, Limit: limit - records.length }),
      );
      next = out.NextShardIterator;
      if ((out.Records?.length ?? 0) > 0 && records.length === 0) firstAt = Date.now();
      records.push(...(out.Records ?? []));
      if (records.length === 0 || records.length >= limit) break;
      const left = firstAt + windowMs - Date.now();
      if (left <= 0) break;
      if ((out.Records?.length ?? 0) === 0) await this.sleep(Math.min(pollMs, left));
    }
    return { records, next };
  }

  private async consume(shardId: string): Promise<void> {
    const batchSize = this.options.batchSize ?? 1000;
    const pollMs = this.options.pollIntervalMs ?? 100;
    const maxRetries =
      this.options.maxRetries === undefined || this.options.maxRetries < 0
        ? Number.POSITIVE_INFINITY
        : this.options.maxRetries;
    const maxAgeMs =
      this.options.maxRecordAgeSeconds === undefined || this.options.maxRecordAgeSeconds < 0
        ? Number.POSITIVE_INFINITY
        : this.options.maxRecordAgeSeconds * 1000;
    // The last sequence number handed to onCheckpoint (where a restart after an emulator failure resumes).
    let checkpoint = this.options.checkpoints?.[shardId];
    let it: string | undefined;
    let attempts = 0;
    let limit = batchSize;
    // While a batch is being retried: its last sequence number (a retry delivers none after it).
    let retryUntil: bigint | undefined;
    /** The batch is over (done or given up): the next one starts whole, with a fresh retry count. */
    const nextBatch = () => {
      attempts = 0;
      limit = batchSize;
      retryUntil = undefined;
    };
    while (this.running) {
      try {
        it ??= await this.iterator(shardId, checkpoint ? { after: checkpoint } : {});
        const out = await this.gather(it, limit);
        let records = out.records;
        let next = out.next;
        if (retryUntil !== undefined) {
          const until = retryUntil;
          const kept = records.filter((r) => BigInt(r.SequenceNumber!) <= until);
          if (kept.length === 0) {
            // Nothing of the retried batch is left (cannot happen while the shard keeps its records): a new batch.
            nextBatch();
          } else if (kept.length < records.length) {
            records = kept;
            next = undefined; // read on after the batch's last record
          }
        }
        if (records.length === 0) {
          it = out.next;
          await this.sleep(pollMs);
          continue;
        }
        const first = records[0]!.SequenceNumber!;
        const last = records[records.length - 1]!.SequenceNumber!;
        let failedFrom: string | undefined;
        let error = '';
        let threw = false;
        const age = Date.now() - (records[0]!.ApproximateArrivalTimestamp?.getTime() ?? Date.now());
        if (age > maxAgeMs) {
          failedFrom = first;
          error = `record older than ${maxAgeMs / 1000} s`;
          attempts = maxRetries;
        } else {
          try {
            const res = await this.handler(
              toEvent(shardId, records, this.streamName, this.options.region ?? 'us-east-1'),
            );
            const failures = this.options.reportBatchItemFailures === false ? [] : (res?.batchItemFailures ?? []);
            // Lambda retries from the lowest failed sequence number reported.
            for (const f of failures) {
              if (failedFrom === undefined || BigInt(f.itemIdentifier) < BigInt(failedFrom)) {
                failedFrom = f.itemIdentifier;
              }
            }
            if (failedFrom !== undefined) error = 'partial batch failure';
          } catch (err) {
            failedFrom = first;
            threw = true;
            error = err instanceof Error ? err.message : String(err);
          }
        }
        this.options.onBatch?.({ shardId, records: records.length, failedFrom });
        if (failedFrom === undefined) {
          if (retryUntil === undefined || BigInt(last) >= retryUntil) nextBatch();
          checkpoint = last;
          it = next ?? (await this.iterator(shardId, { after: last }));
          this.options.onCheckpoint?.(shardId, last);
          continue;
        }
        retryUntil ??= BigInt(last);
        if (threw && this.options.bisectOnError && records.length > 1) {
          limit = Math.ceil(records.length / 2);
          it = await this.iterator(shardId, { at: first });
          continue;
        }
        attempts++;
        if (attempts > maxRetries) {
          await this.options.onFailure?.({
            shardId,
            firstSequenceNumber: failedFrom,
            lastSequenceNumber: last,
            attempts,
            error,
          });
          nextBatch();
          checkpoint = last;
          it = await this.iterator(shardId, { after: last });
          this.options.onCheckpoint?.(shardId, last);
          continue;
        }
        it = await this.iterator(shardId, { at: failedFrom });
        await this.sleep(Math.min(2000, 50 * 2 ** attempts));
      } catch {
        // The emulator itself failed (e.g. during shutdown): start over from the last checkpoint.
        if (!this.running) break;
        it = undefined;
        await this.sleep(pollMs);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const wake = this.wake;
      function done() {
        clearTimeout(t);
        const i = wake.indexOf(done);
        if (i >= 0) wake.splice(i, 1);
        resolve();
      }
      wake.push(done);
    });
  }
}

export function toEvent(
  shardId: string,
  records: readonly _Record[],
  streamName: string,
  region: string,
): KinesisStreamEvent {
  const arn = `arn:aws:kinesis:${region}:000000000000:stream/${streamName}`;
  return {
    Records: records.map((r) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: r.PartitionKey!,
        sequenceNumber: r.SequenceNumber!,
        data: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
        approximateArrivalTimestamp: (r.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${shardId}:${r.SequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/local-updater',
      awsRegion: region,
      eventSourceARN: arn,
    })),
  };
}

/** The poller settings of a template's event source mapping. */
export function mappingOptions(spec: EventSourceMappingSpec): PollerOptions {
  if (spec.parallelizationFactor !== 1) {
    throw new Error(
      `event source mapping ${spec.logicalId}: the twin runs one consumer per shard (ParallelizationFactor 1)`,
    );
  }
  return {
    batchSize: spec.batchSize,
    maxBatchingWindowMs: spec.maxBatchingWindowMs,
    maxRetries: spec.maximumRetryAttempts,
    maxRecordAgeSeconds: spec.maximumRecordAgeSeconds,
    bisectOnError: spec.bisectBatchOnFunctionError,
    reportBatchItemFailures: spec.reportBatchItemFailures,
  };
}
