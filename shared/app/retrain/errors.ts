/**
 * Errors of the retraining pipeline: one base class, a subclass per failure. The state machine retries only
 * {@link RetrainTransientError} (the step handlers wrap anything unexpected, e.g. an S3 or DynamoDB outage, in it);
 * every other subclass is a deterministic failure that a retry would only repeat, so the run records it and stops.
 * Their `name` is what Step Functions matches in `Retry`/`Catch`, so names are part of the contract.
 */
export class RetrainError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The run's input or a step's payload does not match its schema. */
export class RetrainInputError extends RetrainError {}

/** The decision point to retrain does not exist. */
export class UnknownDecisionPointError extends RetrainError {}

/** An artifact an earlier step should have written is missing or unreadable (the run's own data is damaged). */
export class ArtifactError extends RetrainError {}

/** There is no earlier model to roll back to. */
export class NothingToRollBackError extends RetrainError {}

/** A dependency failed (storage, network); the same step may succeed when retried. */
export class RetrainTransientError extends RetrainError {}
