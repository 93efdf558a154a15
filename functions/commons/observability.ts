/**
 * The decision path's degradations as metrics (CloudWatch, via Powertools' embedded metric format) and log lines,
 * plus in-process counters the local tests read. The alarms in cdk/constructs/observability.ts watch these metrics.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { log } from '../../shared/adapters/log.ts';
import { METRIC, metrics } from '../../shared/adapters/observability.ts';
import { DeferredDecisionLog } from '../../shared/app/resilience/deferred-log.ts';
import type { DecisionObserver } from '../../shared/app/resilience/guard.ts';

export interface Degradations {
  staleModel: number;
  fallback: number;
  logDeferred: number;
  logRecovered: number;
  logLost: number;
  throttled: number;
}

export interface DecisionObservability {
  /** What this container absorbed since it started. */
  degradations: Degradations;
  decisionObserver: DecisionObserver;
  deferredDecisionLog: DeferredDecisionLog;
  onThrottled: (keyId: string) => void;
}

const count = (name: string, n = 1) => metrics.addMetric(name, MetricUnit.Count, n);

/** One container's observers: counters of its own, metrics and log lines through the shared Powertools objects. */
export function createDecisionObservability(): DecisionObservability {
  const degradations: Degradations = {
    staleModel: 0,
    fallback: 0,
    logDeferred: 0,
    logRecovered: 0,
    logLost: 0,
    throttled: 0,
  };
  const decisionObserver: DecisionObserver = {
    staleModel: (decisionPoint, reason) => {
      degradations.staleModel++;
      count(METRIC.decisionStaleModel);
      log.warn('model store slow or failing: answered from the last good model', { decisionPoint, reason });
    },
    fallback: (decisionPoint, reason) => {
      degradations.fallback++;
      count(METRIC.decisionFallback);
      log.warn('no model and the model store unavailable: answered with the uniform fallback', {
        decisionPoint,
        reason,
      });
    },
    logDeferred: (decisionPoint) => {
      degradations.logDeferred++;
      count(METRIC.decisionLogDeferred);
      log.warn('decision log entry missed the latency budget: deferred and retried', { decisionPoint });
    },
  };
  const deferredDecisionLog = new DeferredDecisionLog({
    onRecovered: (n) => {
      degradations.logRecovered += n;
      count(METRIC.decisionLogRecovered, n);
    },
    onLost: (records, reason) => {
      degradations.logLost += records.length;
      count(METRIC.decisionLogLost, records.length);
      // Ids only: the records hold user ids and contexts, which do not belong in logs.
      log.error('decision log entries lost', { reason, decisionIds: records.map((r) => r.decisionId).slice(0, 50) });
    },
  });
  const onThrottled = (keyId: string) => {
    degradations.throttled++;
    count(METRIC.throttledRequests);
    log.warn('API key over its rate limit', { keyId });
  };
  return { degradations, decisionObserver, deferredDecisionLog, onThrottled };
}
