/**
 * Plays the part of Lambda's Kinesis event source mapping locally: one in-order consumer per shard, batches of up to
 * `batchSize` records delivered as a real KinesisStreamEvent, and Lambda's retry semantics: when the handler reports
 * `batchItemFailures`, the next delivery starts at the lowest failed sequence number (so batches overlap); when it
 * throws, the same batch is delivered again. After `maxRetries` failed deliveries the batch's metadata goes to the
 * on-failure handler and the consumer moves past it, like the on-failure destination in AWS.
 */
import {
  type _Record,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';

export type UpdaterHandler = (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse | undefined>;

export interface PollerOptions {
  batchSize?: number;
  pollIntervalMs?: number;
  maxRetries?: number;
  /** Where each shard starts: after this sequence number, else at the trim horizon. */
  checkpoints?: Record<string, string>;
  onCheckpoint?: (shardId: string, sequenceNumber: string) => void;
  onFailure?: (info: {
    shardId: string;
    firstSequenceNumber: string;
    lastSequenceNumber: string;
    attempts: number;
    error: string;
  }) => void;
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

  private async consume(shardId: string): Promise<void> {
    const batchSize = this.options.batchSize ?? 1000;
    const pollMs = this.options.pollIntervalMs ?? 100;
    const maxRetries = this.options.maxRetries ?? 10;
    const checkpoint = this.options.checkpoints?.[shardId];
    let it: string | undefined;
    let attempts = 0;
    while (this.running) {
      try {
        it ??= await this.iterator(shardId, checkpoint ? { after: checkpoint } : {});
        const out = await this.client.send(new GetRecordsCommand({ ShardIterator: it, Limit: batchSize }));
        const records = out.Records ?? [];
        if (records.length === 0) {
          it = out.NextShardIterator;
          await this.sleep(pollMs);
          continue;
        }
        const first = records[0]!.SequenceNumber!;
        const last = records[records.length - 1]!.SequenceNumber!;
        let failedFrom: string | undefined;
        let error = '';
        try {
          const res = await this.handler(
            toEvent(shardId, records, this.streamName, this.options.region ?? 'us-east-1'),
          );
          failedFrom = res?.batchItemFailures?.[0]?.itemIdentifier;
          if (failedFrom !== undefined) {
            // Lambda retries from the lowest failed sequence number reported.
            for (const f of res!.batchItemFailures)
              if (BigInt(f.itemIdentifier) < BigInt(failedFrom)) failedFrom = f.itemIdentifier;
            error = 'partial batch failure';
          }
        } catch (err) {
          failedFrom = first;
          error = err instanceof Error ? err.message : String(err);
        }
        this.options.onBatch?.({ shardId, records: records.length, failedFrom });
        if (failedFrom === undefined) {
          attempts = 0;
          it = out.NextShardIterator;
          this.options.onCheckpoint?.(shardId, last);
          continue;
        }
        attempts++;
        if (attempts > maxRetries) {
          this.options.onFailure?.({
            shardId,
            firstSequenceNumber: failedFrom,
            lastSequenceNumber: last,
            attempts,
            error,
          });
          attempts = 0;
          it = await this.iterator(shardId, { after: last });
          this.options.onCheckpoint?.(shardId, last);
          continue;
        }
        it = await this.iterator(shardId, { at: failedFrom });
        await this.sleep(Math.min(2000, 50 * 2 ** attempts));
      } catch (err) {
        // The emulator itself failed (e.g. during shutdown): start over from the last checkpoint.
        if (!this.running) break;
        it = undefined;
        await this.sleep(pollMs);
        void err;
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
