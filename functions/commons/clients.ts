/**
 * The composition root of the Lambdas: SDK clients and adapters, created once per container and shared by every
 * invocation. Nothing here runs per request.
 */
import { createDynamoClient, createKinesisClient } from '../../shared/adapters/aws-clients.ts';
import { DynamoDeadLetterStore } from '../../shared/adapters/dynamodb/dead-letter-store.ts';
import { DynamoDecisionStore } from '../../shared/adapters/dynamodb/decision-store.ts';
import { DynamoStateStore } from '../../shared/adapters/dynamodb/state-store.ts';
import { KinesisEventStream, KinesisStreamRangeReader } from '../../shared/adapters/kinesis/event-stream.ts';
import { log } from '../../shared/adapters/log.ts';
import { tracer } from '../../shared/adapters/observability.ts';
import { ApiKeyAuthenticator } from '../../shared/app/auth.ts';
import { ModelCache } from '../../shared/app/decide/model-cache.ts';
import type { DecisionResilience } from '../../shared/app/resilience/guard.ts';
import { readEnv } from './env.ts';
import { decisionObserver, deferredDecisionLog, onThrottled } from './observability.ts';

export const env = readEnv();
/** Exported so fault-injection harnesses can add middleware to the very clients the handlers use. */
// Traced: each SDK call is a subsegment of the invocation's X-Ray trace (the tracer is a no-op outside Lambda).
export const dynamo = tracer.captureAWSv3Client(createDynamoClient());
export const kinesis = tracer.captureAWSv3Client(createKinesisClient());

export const stateStore = new DynamoStateStore(dynamo, env.STATE_TABLE);
export const decisionStore = new DynamoDecisionStore(dynamo, env.DECISIONS_TABLE);
export const deadLetterStore = new DynamoDeadLetterStore(dynamo, env.DEADLETTER_TABLE);
export const eventStream = new KinesisEventStream(kinesis, env.STREAM_NAME);
export const streamRangeReader = new KinesisStreamRangeReader(kinesis, env.STREAM_NAME);
export const authenticator = new ApiKeyAuthenticator(stateStore, Date.now, {
  limits: { ratePerSecond: env.KEY_RATE_LIMIT_RPS, burst: env.KEY_RATE_LIMIT_BURST },
  onThrottled,
});
/** The decision path's latency budget and fallbacks (see shared/app/resilience/guard.ts). */
export const decisionResilience: DecisionResilience = {
  budgetMs: env.DECISION_BUDGET_MS,
  modelWaitMs: env.MODEL_WAIT_MS,
  deferredLog: deferredDecisionLog,
  observer: decisionObserver,
};
export const modelCache = new ModelCache(stateStore, {
  refreshMs: env.MODEL_REFRESH_MS,
  onRefreshError: (err, decisionPoint) =>
    log.warn('model refresh failed; serving the last good model', { decisionPoint, error: String(err) }),
});
