/**
 * Errors of the simulator and world tooling: one base class, a subclass per failure. The CLIs map them by class
 * (input problems exit with code 2, anything else with 1); messages are written for the person who supplied the file.
 */
export class SimError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A line of an input file that does not match its format: `online.jsonl line 7: rewards must be an object`.
 * `line` is 1-based; `source` is the file's name as the user gave it.
 */
export class SimFormatError extends SimError {
  constructor(
    readonly source: string,
    readonly line: number,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${source} line ${line}: ${detail}`, options);
  }
}

/** Options that cannot work together or are out of range (a library caller's mistake, not a file's). */
export class SimOptionError extends SimError {}

/** The engine behind `--through-stack` answered with an unexpected status or body. */
export class StackError extends SimError {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string,
    options?: { cause?: unknown },
  ) {
    super(`${method} ${path} answered ${status}: ${body.slice(0, 300)}`, options);
  }
}
