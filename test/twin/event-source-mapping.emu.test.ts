/**
 * The twin's Kinesis event source mapping retries as Lambda's does (local/twin/event-source-mapping.ts):
 * - a retry after a partial batch failure delivers the failed batch's remaining records, none after it, and the
 *   retries count per batch, so a handler that makes progress on every delivery never has a batch given up;
 * - a batch that keeps failing is given up after `maxRetries` retries, once, and the shard moves on to the next batch;
 * - after the emulator itself fails, the shard resumes after its last checkpoint, not from its start.
 * Against kinesalite, with a handler whose answers are written here, not the updater.
 */
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  type KinesisClient,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulators, startEmulators } from '../../local/emulators.ts';
import { KinesisPoller, type PollerOptions } from '../../local/twin/event-source-mapping.ts';

let emu: Emulators;
let streams = 0;

beforeAll(async () => {
  emu = await startEmulators();
}, 60_000);
afterAll(async () => {
  await emu?.close();
});

/** A one-shard stream holding records 0 … n − 1 (data = the index), in order. */
async function streamOf(n: number): Promise<{ name: string; seqs: string[] }> {
  const name = `esm-${++streams}`;
  await emu.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  for (let i = 0; i < 100; i++) {
    const d = await emu.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seqs: string[] = [];
  for (let i = 0; i < n; i++) {
    const out = await emu.kinesis.send(
      new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.from(String(i)) }),
    );
    seqs.push(out.SequenceNumber!);
  }
  return { name, seqs };
}

const indexes = (event: KinesisStreamEvent) =>
  event.Records.map((r) => Number(Buffer.from(r.kinesis.data, 'base64').toString('utf8')));

/** Runs a poller until the shard's checkpoint reaches the last record (or 20 s pass). */
async function run(
  stream: { name: string; seqs: string[] },
  handler: (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse | undefined>,
  options: PollerOptions,
  client: KinesisClient = emu.kinesis,
) {
  const given: { first: string; last: string }[] = [];
  let checkpoint = '';
  const poller = new KinesisPoller(client, stream.name, handler, {
    pollIntervalMs: 10,
    reportBatchItemFailures: true,
    ...options,
    onCheckpoint: (_, seq) => {
      checkpoint = seq;
    },
    onFailure: (info) => {
      given.push({ first: info.firstSequenceNumber, last: info.lastSequenceNumber });
    },
  });
  await poller.start();
  const last = stream.seqs[stream.seqs.length - 1]!;
  const deadline = Date.now() + 20_000;
  while (checkpoint !== last && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await poller.stop();
  return { given, checkpoint };
}

describe('the twin’s event source mapping retries as Lambda does', () => {
  it('retries the failed batch’s remaining records only, and never gives up a batch that makes progress', async () => {
    const stream = await streamOf(40);
    const deliveries: number[][] = [];
    // Every delivery of more than 3 records commits its first 3 and reports the 4th as failed: progress each time,
    // but a full success only for the last few records of each batch.
    const handler = async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
      const got = indexes(event);
      deliveries.push(got);
      if (got.length <= 3) return { batchItemFailures: [] };
      return { batchItemFailures: [{ itemIdentifier: event.Records[3]!.kinesis.sequenceNumber }] };
    };
    // Each batch of 10 needs 4 deliveries, 3 of them retries: within maxRetries = 3 per batch, past it within the
    // second batch if the count ran on across batches.
    const { given, checkpoint } = await run(stream, handler, { batchSize: 10, maxRetries: 3 });
    expect(given).toEqual([]);
    expect(checkpoint).toBe(stream.seqs[39]);
    // Batches are 0–9, 10–19, …: a retry starts at the failed record and stops at its batch's last record.
    expect(deliveries.slice(0, 5)).toEqual([
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      [3, 4, 5, 6, 7, 8, 9],
      [6, 7, 8, 9],
      [9],
      [10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
    ]);
    // Every record was committed once, in order: the first 3 of each delivery (all of a delivery of ≤ 3).
    const committed = deliveries.flatMap((d) => (d.length <= 3 ? d : d.slice(0, 3)));
    expect(committed).toEqual(Array.from({ length: 40 }, (_, i) => i));
  }, 30_000);

  it('gives up a batch that keeps failing after maxRetries retries, once, and moves on to the next batch', async () => {
    const stream = await streamOf(20);
    const deliveries: number[][] = [];
    const handler = async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
      const got = indexes(event);
      deliveries.push(got);
      // Records 0–9 always fail at record 2 (no progress after the first delivery); records 10–19 succeed.
      const bad = event.Records.find((r) => Number(Buffer.from(r.kinesis.data, 'base64').toString()) === 2);
      return { batchItemFailures: bad ? [{ itemIdentifier: bad.kinesis.sequenceNumber }] : [] };
    };
    const { given, checkpoint } = await run(stream, handler, { batchSize: 10, maxRetries: 2 });
    expect(given).toEqual([{ first: stream.seqs[2], last: stream.seqs[9] }]);
    expect(checkpoint).toBe(stream.seqs[19]);
    // One delivery and two retries of the failing batch, then the next batch.
    expect(deliveries).toEqual([
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      [2, 3, 4, 5, 6, 7, 8, 9],
      [2, 3, 4, 5, 6, 7, 8, 9],
      [10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
    ]);
  }, 30_000);

  it('resumes after its last checkpoint when the emulator fails, without delivering committed records again', async () => {
    const stream = await streamOf(30);
    const deliveries: number[][] = [];
    const handler = async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
      deliveries.push(indexes(event));
      return { batchItemFailures: [] };
    };
    // The second GetRecords call fails (after the first batch was committed), as an emulator hiccup would.
    let reads = 0;
    const flaky = {
      send: (command: unknown) => {
        if (command instanceof GetRecordsCommand && ++reads === 2) return Promise.reject(new Error('emulator down'));
        return emu.kinesis.send(command as never);
      },
    } as unknown as KinesisClient;
    const { given, checkpoint } = await run(stream, handler, { batchSize: 10 }, flaky);
    expect(reads).toBeGreaterThan(2);
    expect(given).toEqual([]);
    expect(checkpoint).toBe(stream.seqs[29]);
    expect(deliveries.flat()).toEqual(Array.from({ length: 30 }, (_, i) => i));
  }, 30_000);
});
