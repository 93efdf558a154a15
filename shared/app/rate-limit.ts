/**
 * Per-key request limits: a token bucket per API key (`ratePerSecond` refill, `burst` capacity), from the key's own
 * `rateLimit` (set when the key is created) or the function's defaults (KEY_RATE_LIMIT_RPS / _BURST).
 *
 * Honest scope: the buckets live in one container. A Lambda container serves one request at a time, so across a
 * fleet a key can reach `ratePerSecond × warm containers`. The bucket stops one key's hot loop from monopolising a
 * container (and a long-running local or container deployment entirely). Fleet-wide, on AWS, the web ACL in front of
 * the stage counts each key's requests (and each source address's) over five minutes and blocks the excess, and the
 * stage throttle caps all keys together (cdk/constructs/api-protection.ts; the README says what each limit protects).
 * Exact per-key quotas would need API Gateway usage-plan keys, whose secrets API Gateway stores retrievably, which
 * this engine's hashed keys avoid.
 */
import { EngineError } from '../core/errors.ts';

/** The key sent more requests than its limit allows; retry after `retryAfterSeconds`. */
export class TooManyRequestsError extends EngineError {
  override readonly status = 429;
  override readonly code = 'too_many_requests';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

export interface RateLimits {
  ratePerSecond: number;
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class KeyRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limits: RateLimits,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 10_000,
  ) {}

  /** Takes one token for `keyId` under its `limits` (default: the limiter's); throws TooManyRequestsError when empty. */
  take(keyId: string, limits: RateLimits = this.limits): void {
    const t = this.now();
    let b = this.buckets.get(keyId);
    if (!b) {
      // Bounded memory: forgetting every bucket only ever grants a burst too many, never refuses one too many.
      if (this.buckets.size >= this.maxKeys) this.buckets.clear();
      b = { tokens: limits.burst, at: t };
      this.buckets.set(keyId, b);
    }
    b.tokens = Math.min(limits.burst, b.tokens + ((t - b.at) / 1000) * limits.ratePerSecond);
    b.at = t;
    if (b.tokens < 1) {
      const wait = Math.ceil((1 - b.tokens) / limits.ratePerSecond);
      throw new TooManyRequestsError(
        `this API key exceeded ${limits.ratePerSecond} requests per second; retry after ${wait} s`,
        wait,
      );
    }
    b.tokens -= 1;
  }
}
