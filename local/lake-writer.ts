/**
 * Local stand-in for Kinesis Data Firehose: a second consumer of the engine's stream (its own shard iterators and
 * checkpoints, independent of the updater) that writes every record into the log lake under `root`, in the layout
 * Firehose writes to S3 (`lake/kind=…/dt=YYYY-MM-DD/hour=HH/…jsonl.gz`, see shared/app/retrain/lake.ts).
 *
 * Durability: a batch's objects are written (atomically, temp file + rename) before its checkpoint moves, so a
 * crash can only re-deliver a batch. Each object is named after the shard and the batch's first sequence number, so
 * a re-delivered batch replaces its earlier objects instead of adding copies; readers deduplicate whatever overlap
 * remains (delivery into the lake is at least once, as with Firehose). A write failure is retried without limit:
 * skipping a batch would lose history the offline model needs.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { writeLakeBatch } from '../shared/app/retrain/lake.ts';
import type { BlobStore } from '../shared/app/retrain/ports.ts';
import { KinesisPoller } from './twin/event-source-mapping.ts';

export interface LakeWriterOptions {
  /** Where this consumer keeps its per-shard checkpoints; in memory when absent (stream and lake start over). */
  checkpointFile?: string;
  /** Records per read; a batch becomes one object per partition it touches. */
  batchSize?: number;
  /** Idle wait between reads: larger values mean fewer, larger lake objects. */
  pollIntervalMs?: number;
  onBatch?: (info: { shardId: string; records: number; objects: number; errors: number }) => void;
}

export class LakeWriter {
  private poller: KinesisPoller | undefined;
  private checkpoints: Record<string, string> = {};
  /** Records written so far, by outcome. */
  readonly counters = { batches: 0, records: 0, errors: 0, objects: 0 };

  constructor(
    private readonly kinesis: KinesisClient,
    private readonly streamName: string,
    private readonly blobs: BlobStore,
    private readonly options: LakeWriterOptions = {},
  ) {}

  async start(): Promise<void> {
    const file = this.options.checkpointFile;
    if (file) {
      try {
        this.checkpoints = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
      } catch {
        // First run: read every shard from the trim horizon.
      }
    }
    this.poller = new KinesisPoller(this.kinesis, this.streamName, (event) => this.handle(event), {
      batchSize: this.options.batchSize ?? 5000,
      pollIntervalMs: this.options.pollIntervalMs ?? 500,
      maxRetries: Number.POSITIVE_INFINITY,
      checkpoints: { ...this.checkpoints },
      onCheckpoint: (shardId, sequenceNumber) => {
        this.checkpoints[shardId] = sequenceNumber;
        if (file) {
          mkdirSync(dirname(file), { recursive: true });
          writeFileSync(`${file}.tmp`, JSON.stringify(this.checkpoints));
          renameSync(`${file}.tmp`, file);
        }
      },
    });
    await this.poller.start();
  }

  async stop(): Promise<void> {
    await this.poller?.stop();
    this.poller = undefined;
  }

  /** One delivered batch: decode, write, and only then report success (the poller then checkpoints). */
  async handle(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> {
    const first = event.Records[0];
    if (!first) return { batchItemFailures: [] };
    const shardId = first.eventID.slice(0, first.eventID.lastIndexOf(':'));
    const lines = event.Records.map((r) => Buffer.from(r.kinesis.data, 'base64').toString('utf8'));
    const out = await writeLakeBatch(this.blobs, lines, `${shardId}-${first.kinesis.sequenceNumber}`);
    this.counters.batches++;
    this.counters.records += out.records;
    this.counters.errors += out.errors;
    this.counters.objects += out.objects;
    this.options.onBatch?.({ shardId, records: out.records, objects: out.objects, errors: out.errors });
    return { batchItemFailures: [] };
  }
}
