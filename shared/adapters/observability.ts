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
export const tracer = new Tracer({ serviceName: SERVICE_NAME });
