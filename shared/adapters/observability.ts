/**
 * Powertools for AWS Lambda, once per container: structured JSON logs, CloudWatch metrics in the embedded metric
 * format (no API call: CloudWatch extracts them from the log line), and X-Ray traces. Every function imports these
 * three objects; `shared/adapters/http/api.ts` attaches them to each API invocation.
 *
 * Outside Lambda (tests, local mode, CLIs) tracing switches itself off, and metrics are off unless
 * `POWERTOOLS_METRICS_DISABLED=false` asks for them: EMF lines on stdout would only be noise there.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** CloudWatch namespace of the engine's own metrics; `cdk/constructs/observability.ts` alarms on them. */
export const METRICS_NAMESPACE = 'NbaEngine';
export const SERVICE_NAME = process.env.POWERTOOLS_SERVICE_NAME ?? 'nba-engine';

/** Names of the engine's custom metrics, shared with the alarms so the two cannot drift apart. */
export const METRIC = {
  /** A decision answered without its log entry on the stream yet (kept in the container and retried). */
  decisionLogDeferred: 'DecisionLogDeferred',
  /** Deferred log entries put on the stream later. */
  decisionLogRecovered: 'DecisionLogRecovered',
  /** Deferred log entries dropped (buffer full or too old): decisions the learner will never see. */
  decisionLogLost: 'DecisionLogLost',
  /** Decisions answered from the last good model because the model store was slow or failing. */
  decisionStaleModel: 'DecisionStaleModel',
  /** Decisions answered by the uniform fallback (no model in this container and the model store unavailable). */
  decisionFallback: 'DecisionFallback',
  /** Requests refused by the per-key rate limiter. */
  throttledRequests: 'ThrottledRequests',
} as const;

if (process.env.AWS_LAMBDA_FUNCTION_NAME === undefined && process.env.POWERTOOLS_METRICS_DISABLED === undefined) {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
}

const level = (process.env.NBA_LOG_LEVEL ?? process.env.POWERTOOLS_LOG_LEVEL ?? 'INFO').toUpperCase();

export const logger = new Logger({
  serviceName: SERVICE_NAME,
  logLevel: (['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'].includes(level)
    ? level
    : 'INFO') as 'INFO',
});
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
export const tracer = new Tracer({ serviceName: SERVICE_NAME });
