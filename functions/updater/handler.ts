/**
 * Kinesis consumer: hands the batch to applyBatch and reports partial failures the way Lambda expects, so a
 * redelivery starts at the lowest sequence number whose effects are not all committed.
 */

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { log } from '../../shared/adapters/log.ts';
import { METRIC, metrics } from '../../shared/adapters/observability.ts';
import { applyBatch, type StreamEntry } from '../../shared/app/learn/apply-batch.ts';
import { createEngine, createJoinDecisions, publishQuietly, readEngineConfig } from '../commons/engine.ts';
import { type FunctionRuntime, lambdaHandler } from '../commons/runtime.ts';

export function toEntries(event: KinesisStreamEvent): StreamEntry[] {
  return event.Records.map((r) => ({
    // eventID is `shardId:sequenceNumber`.
    shardId: r.eventID.slice(0, r.eventID.lastIndexOf(':')),
    sequenceNumber: r.kinesis.sequenceNumber,
    arrivalMs: Math.round(r.kinesis.approximateArrivalTimestamp * 1000),
    data: Buffer.from(r.kinesis.data, 'base64').toString('utf8'),
  }));
}

export function createHandler(runtime: FunctionRuntime) {
  const engine = createEngine(readEngineConfig(runtime.environment), runtime.clients);
  const joinDecisions = createJoinDecisions(engine);
  const handler = async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
    const outcome = await applyBatch(toEntries(event), {
      state: engine.stateStore,
      decisions: joinDecisions,
      deadLetters: engine.deadLetterStore,
      statsPartitions: engine.config.STATS_PARTITIONS,
      onDeadLettered: (entries) => {
        const byReason = new Map<string, number>();
        for (const e of entries) byReason.set(e.code, (byReason.get(e.code) ?? 0) + 1);
        for (const [reason, n] of byReason) {
          const m = metrics.singleMetric();
          m.addDimension('reason', reason);
          m.addMetric(METRIC.deadLettered, MetricUnit.Count, n);
        }
        log.warn('records dead-lettered', { byReason: Object.fromEntries(byReason) });
      },
    });
    // Every decision point this batch learned for gets a snapshot that includes it (or the lease holder's does).
    for (const dp of outcome.decisionPoints) await publishQuietly(engine.publisher, dp);
    log.info('batch applied', { records: event.Records.length, ...outcome });
    return { batchItemFailures: outcome.failedFrom ? [{ itemIdentifier: outcome.failedFrom }] : [] };
  };
  return { handler, engine };
}

export const handler = lambdaHandler(createHandler);
