/**
 * Errors of the off-policy evaluation module: one base class, one subclass per failure.
 * Callers (CLI, Lambda handlers) map them by class; messages are meant for the operator who supplied the log.
 */
export class EvaluationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A logged line (JSONL record or CSV row) that does not match its format. `line` is 1-based; `source` names the
 * file when the reader was told it (OBD reads two files).
 */
export class LogFormatError extends EvaluationError {
  readonly line: number;
  readonly source: string | undefined;
  constructor(line: number, detail: string, options?: { cause?: unknown; source?: string | undefined }) {
    super(`${options?.source === undefined ? '' : `${options.source}: `}line ${line}: ${detail}`, options);
    this.line = line;
    this.source = options?.source;
  }
}

/** The log holds no rounds at all, so nothing can be estimated. */
export class EmptyLogError extends EvaluationError {
  constructor(source: string) {
    super(`${source}: the log holds no rounds`);
  }
}

/** A reward lies outside the declared reward range, which every bound here relies on. */
export class RewardOutOfRangeError extends EvaluationError {
  readonly roundIndex: number;
  constructor(roundIndex: number, reward: number, min: number, max: number) {
    super(`round ${roundIndex + 1}: reward ${reward} lies outside the declared range [${min}, ${max}]`);
    this.roundIndex = roundIndex;
  }
}

/** A target policy returned something that is not a probability distribution over the round's candidates. */
export class InvalidTargetPolicyError extends EvaluationError {
  readonly roundIndex: number;
  constructor(policy: string, roundIndex: number, detail: string) {
    super(`target policy "${policy}", round ${roundIndex + 1}: ${detail}`);
    this.roundIndex = roundIndex;
  }
}

/** A target specification that cannot be parsed (e.g. `--target greedy`). */
export class InvalidTargetSpecError extends EvaluationError {}

/** A well-formed target that this build cannot resolve (model targets need the engine's state). */
export class TargetUnavailableError extends EvaluationError {}

/** Options outside their domain (delta not in (0,1), empty reward range, ...). */
export class InvalidOptionError extends EvaluationError {}

/** An in-memory round that breaks the Round contract (chosen index out of range, propensity outside [0, 1]). */
export class InvalidRoundError extends EvaluationError {
  readonly roundIndex: number;
  constructor(roundIndex: number, detail: string) {
    super(`round ${roundIndex + 1}: ${detail}`);
    this.roundIndex = roundIndex;
  }
}
