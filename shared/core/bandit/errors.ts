/** Base class of every error the bandit core throws, so callers can map the whole family in one place. */
export class BanditError extends Error {
  override readonly name: string = 'BanditError';
}

/**
 * A matrix that must be symmetric positive definite was not (pivot `pivot` was `value`). With positive priors this
 * means corrupted statistics (NaN, negative counts from a bad merge), not a legitimate model state.
 */
export class NotPositiveDefiniteError extends BanditError {
  override readonly name = 'NotPositiveDefiniteError';
  constructor(
    readonly size: number,
    readonly pivot: number,
    readonly value: number,
  ) {
    super(`matrix of size ${size} is not positive definite: pivot ${pivot} is ${value}`);
  }
}

/** Dimensions or lengths disagree (a vector of the wrong size, stats encoded for another `d`). */
export class DimensionMismatchError extends BanditError {
  override readonly name = 'DimensionMismatchError';
  constructor(
    readonly what: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`${what}: expected ${expected}, got ${actual}`);
  }
}

/** Serialized statistics that cannot be decoded (wrong version, wrong length, wrong dimension). */
export class StatsFormatError extends BanditError {
  override readonly name = 'StatsFormatError';
}

/** An argument outside its domain (negative prior, NaN reward, ε outside [0, 1], duplicate action id…). */
export class InvalidArgumentError extends BanditError {
  override readonly name = 'InvalidArgumentError';
}
