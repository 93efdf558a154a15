/**
 * Kinesis implementation of the EventStream port. Records are partitioned by user id, so one user's decisions and
 * feedback land on one shard in the order they were accepted: the updater always sees a decision before the events
 * that answer it.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  PutRecordsCommand,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import type { EventStream, StreamRangeReader } from '../../core/ports.ts';
import type { DecisionRecord, EventRecord } from '../../core/schemas.ts';

const PUT_RECORDS_LIMIT = 500;
const MAX_ATTEMPTS = 5;

export class KinesisEventStream implements EventStream {
  constructor(
    private readonly client: KinesisClient,
    private readonly streamName: string,
  ) {}

  async put(records: readonly (DecisionRecord | EventRecord)[]): Promise<number[]> {
    const failed: number[] = [];
    let wroteSome = false;
    const encoder = new TextEncoder();
    for (let start = 0; start < records.length; start += PUT_RECORDS_LIMIT) {
      let pending = records.slice(start, start + PUT_RECORDS_LIMIT).map((r, i) => ({
        index: start + i,
        entry: { Data: encoder.encode(JSON.stringify(r)), PartitionKey: partitionKey(r) } as PutRecordsRequestEntry,
      }));
      for (let attempt = 1; pending.length > 0; attempt++) {
        let results: ({ ErrorCode?: string | undefined } | undefined)[];
        try {
          const out = await this.client.send(
            new PutRecordsCommand({ StreamName: this.streamName, Records: pending.map((p) => p.entry) }),
          );
          results = out.Records ?? [];
        } catch (err) {
          if (attempt >= MAX_ATTEMPTS) {
            // Once some records are on the stream, a failing retry must not make them look failed too: the caller
            // reports each record's fate (an event the stream holds is `accepted`), so only these ones failed.
            if (!wroteSome) throw err;
            failed.push(...pending.map((p) => p.index));
            break;
          }
          await backoff(attempt);
          continue;
        }
        // PutRecords is not all-or-nothing: entries with an ErrorCode (throttling) are retried, never dropped.
        const retry = pending.filter((_, i) => results[i]?.ErrorCode !== undefined || results[i] === undefined);
        if (retry.length < pending.length) wroteSome = true;
        if (retry.length === 0) break;
        if (attempt >= MAX_ATTEMPTS) {
          failed.push(...retry.map((p) => p.index));
          break;
        }
        pending = retry;
        await backoff(attempt);
      }
    }
    return failed;
  }
}

function partitionKey(r: DecisionRecord | EventRecord): string {
  return r.kind === 'decision' ? r.userId : r.event.userId;
}

const backoff = (attempt: number) =>
  new Promise<void>((r) => setTimeout(r, Math.min(1000, 25 * 2 ** attempt * (0.5 + Math.random()))));

/**
 * Reads a range of one shard back (`StreamRangeReader`): what the updater's on-failure destination names when a
 * batch was given up (shard id, first and last sequence number), so the range can be replayed within the stream's
 * retention.
 */
export class KinesisStreamRangeReader implements StreamRangeReader {
  constructor(
    private readonly client: KinesisClient,
    private readonly streamName: string,
  ) {}

  async read(range: { shardId: string; from: string; to: string }, limit: number): Promise<string[]> {
    const out: string[] = [];
    const last = BigInt(range.to);
    const decoder = new TextDecoder();
    let iterator: string | undefined;
    try {
      iterator = (
        await this.client.send(
          new GetShardIteratorCommand({
            StreamName: this.streamName,
            ShardId: range.shardId,
            ShardIteratorType: 'AT_SEQUENCE_NUMBER',
            StartingSequenceNumber: range.from,
          }),
        )
      ).ShardIterator;
    } catch (err) {
      // The caller's range, not the engine, is wrong: say which part (a 400 or 404, never a 500).
      const name = (err as Error).name;
      if (name === 'ResourceNotFoundException') {
        throw new NotFoundError(`shardId: the stream has no shard ${range.shardId}`, undefined, { cause: err });
      }
      if (name === 'InvalidArgumentException') {
        throw new ValidationError(
          `from: ${range.from} is not a sequence number of shard ${range.shardId} still in the stream (${(err as Error).message})`,
          undefined,
          { cause: err },
        );
      }
      throw err;
    }
    // An empty page is not the end of a shard (Kinesis may return none before the next records); stop past `to`.
    for (let emptyPages = 0; iterator && out.length < limit && emptyPages < 5; ) {
      const page = await this.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      const records = page.Records ?? [];
      emptyPages = records.length === 0 ? emptyPages + 1 : 0;
      for (const r of records) {
        if (BigInt(r.SequenceNumber!) > last) return out;
        out.push(decoder.decode(r.Data));
        if (out.length >= limit) return out;
      }
      iterator = page.NextShardIterator;
    }
    return out;
  }
}
