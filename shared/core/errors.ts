/**
 * Typed errors of the engine. One base class; a subclass per failure kind, each carrying the HTTP status a handler
 * maps it to and a client-safe message. Internal details travel in `cause`, never to the client.
 */
export class EngineError extends Error {
  readonly status: number = 500;
  readonly code: string = 'internal_error';
  constructor(
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request is malformed or violates a documented limit. Nothing was changed. */
export class ValidationError extends EngineError {
  override readonly status = 400;
  override readonly code = 'invalid_request';
}

/** The request body is larger than the endpoint accepts. */
export class PayloadTooLargeError extends EngineError {
  override readonly status = 413;
  override readonly code = 'payload_too_large';
}

export class UnauthorizedError extends EngineError {
  override readonly status = 401;
  override readonly code = 'unauthorized';
}

export class ForbiddenError extends EngineError {
  override readonly status = 403;
  override readonly code = 'forbidden';
}

export class NotFoundError extends EngineError {
  override readonly status = 404;
  override readonly code = 'not_found';
}

export class MethodNotAllowedError extends EngineError {
  override readonly status = 405;
  override readonly code = 'method_not_allowed';
}

/** The request conflicts with the current state (e.g. changing dimensions of a decision point that has learned). */
export class ConflictError extends EngineError {
  override readonly status = 409;
  override readonly code = 'conflict';
}

/** The request is well-formed but cannot be served as asked (e.g. no eligible candidate is left). */
export class UnprocessableError extends EngineError {
  override readonly status = 422;
  override readonly code = 'unprocessable';
}

/** A dependency (DynamoDB, Kinesis) failed after retries. Clients may retry. */
export class DependencyError extends EngineError {
  override readonly status = 503;
  override readonly code = 'dependency_unavailable';
}

/** An optimistic-concurrency write lost a race; the caller re-reads and retries. */
export class VersionConflictError extends EngineError {
  override readonly status = 409;
  override readonly code = 'version_conflict';
}
