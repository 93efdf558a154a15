/**
 * Powertools for AWS Lambda, once per container: structured JSON logs and CloudWatch metrics in the embedded metric
 * format (no API call: CloudWatch extracts them from the log line). Every function imports these two objects;
 * `shared/adapters/http/api.ts` attaches them to each API invocation.
 *
 * Traces: the functions run with Lambda's active tracing (a segment per invocation, joined to API Gateway's trace),
 * without the X-Ray SDK in the code. Its per-call subsegments cost the decisions handler 150–300 µs of CPU per
 * decision (17–23% of it; BENCHMARKS.md "One decision in the decisions Lambda"), most of it in the async_hooks with
 * destroy tracking that its context propagation installs on every promise of the process.
 *
 * Outside Lambda (tests, local mode, CLIs) metrics are off unless `POWERTOOLS_METRICS_DISABLED=false` asks for them:
 * EMF lines on stdout would only be noise there.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SERVICE_NAME as DEFAULT_SERVICE, METRICS_NAMESPACE } from './metric-names.ts';

export { METRIC, METRICS_NAMESPACE } from './metric-names.ts';
export const SERVICE_NAME = process.env.POWERTOOLS_SERVICE_NAME ?? DEFAULT_SERVICE;

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
