/**
 * Names the functions publish metrics under and the CDK alarms watch: one definition, so the two cannot drift apart.
 * No imports and no side effects, so the CDK app can read it without loading the Lambda runtime libraries.
 */

/** CloudWatch namespace of the engine's own metrics. */
export const METRICS_NAMESPACE = 'NbaEngine';
/** The `service` dimension of every engine metric (the stack sets POWERTOOLS_SERVICE_NAME to this). */
export const SERVICE_NAME = 'nba-engine';

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
  /** Accepted records the updater refused (dimension `reason`: the rule's code): learning that did not happen. */
  deadLettered: 'DeadLetteredRecords',
  /** Audit entries whose outcome could not be stored (they stay pending; the log line has the outcome). */
  auditIncomplete: 'AuditIncomplete',
  /** Model snapshots stored (shared/app/decide/snapshot-publisher.ts). */
  snapshotPublished: 'SnapshotPublished',
  /** Publishes that failed after a committed write: containers serve the previous snapshot until the next one. */
  snapshotPublishFailed: 'SnapshotPublishFailed',
} as const;
