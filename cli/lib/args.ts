import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A command line the tool cannot act on; CLIs print the message and exit with code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `node:util` parseArgs in strict mode (unknown flags and stray positionals are errors), with its errors turned
 * into `UsageError` so every CLI reports them the same way.
 */
export function parseCliArgs<const O extends Options>(argv: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (cause) {
    throw new UsageError((cause as Error).message);
  }
}

export interface NumberConstraints {
  readonly integer?: boolean;
  /** Exclusive bounds. */
  readonly above?: number;
  readonly below?: number;
}

/** Parses a numeric flag value strictly: `--delta 0.05x` is an error, not 0.05. */
export function parseNumberFlag(flag: string, raw: string, constraints: NumberConstraints = {}): number {
  const v = raw.trim() === '' ? Number.NaN : Number(raw);
  const { integer, above, below } = constraints;
  const ok =
    Number.isFinite(v) &&
    (!integer || Number.isSafeInteger(v)) &&
    (above === undefined || v > above) &&
    (below === undefined || v < below);
  if (!ok) {
    const range =
      above !== undefined && below !== undefined
        ? ` in (${above}, ${below})`
        : above !== undefined
          ? ` above ${above}`
          : below !== undefined
            ? ` below ${below}`
            : '';
    throw new UsageError(`--${flag} expects ${integer ? 'an integer' : 'a number'}${range}, got "${raw}"`);
  }
  return v;
}
