/**
 * Kinesis consumer: hands the batch to applyBatch and reports partial failures the way Lambda expects, so a
 * redelivery starts at the lowest sequence number whose effects are not all committed.
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { log } from '../../shared/adapters/log.ts';
import { applyBatch, type StreamEntry } from '../../shared/app/learn/apply-batch.ts';
import { deadLetterStore, decisionStore, env, stateStore } from '../commons/clients.ts';

export function toEntries(event: KinesisStreamEvent): StreamEntry[] {
  return event.Records.map((r) => ({
    // eventID is `shardId:sequenceNumber`.
    shardId: r.eventID.slice(0, r.eventID.lastIndexOf(':')),
    sequenceNumber: r.kinesis.sequenceNumber,
    arrivalMs: Math.round(r.kinesis.approximateArrivalTimestamp * 1000),
    data: Buffer.from(r.kinesis.data, 'base64').toString('utf8'),
  }));
}

export const handler = async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
  const outcome = await applyBatch(toEntries(event), {
    state: stateStore,
    decisions: decisionStore,
    deadLetters: deadLetterStore,
    statsPartitions: env.STATS_PARTITIONS,
  });
  log.info('batch applied', { records: event.Records.length, ...outcome });
  return { batchItemFailures: outcome.failedFrom ? [{ itemIdentifier: outcome.failedFrom }] : [] };
};
