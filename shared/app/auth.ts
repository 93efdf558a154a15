/**
 * API key authentication. Keys are random secrets; only their SHA-256 is stored. A request's key is hashed, looked up
 * (cached per container: 60 s for known keys, 5 s for unknown ones), compared in constant time, and checked for
 * revocation, expiry (refused from `expiresAt` on, with a 401 naming it; checked against the clock on every request,
 * so a cached key expires on time), scope and decision-point restriction; then the key's request rate is limited
 * (its own `rateLimit` or the default, see `rate-limit.ts`).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyRecord, ApiKeyScope } from '../core/domain.ts';
import { ForbiddenError, UnauthorizedError } from '../core/errors.ts';
import type { StateStore } from '../core/ports.ts';
import { KeyRateLimiter, type RateLimits, TooManyRequestsError } from './rate-limit.ts';

export const hashApiKey = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');

/** A new secret: `nba_` + 32 random bytes, base64url. */
export const generateApiKey = (): string => `nba_${randomBytes(32).toString('base64url')}`;

export interface Principal {
  keyId: string;
  scopes: readonly ApiKeyScope[];
  decisionPoints?: readonly string[] | undefined;
}

export class ApiKeyAuthenticator {
  private readonly cache = new Map<string, { record: ApiKeyRecord | undefined; until: number }>();

  private readonly limiter: KeyRateLimiter | undefined;
  private readonly onThrottled: ((keyId: string) => void) | undefined;

  constructor(
    private readonly store: Pick<StateStore, 'getApiKey'>,
    private readonly now: () => number = Date.now,
    options: { limits?: RateLimits; onThrottled?: (keyId: string) => void } = {},
  ) {
    this.limiter = options.limits ? new KeyRateLimiter(options.limits, now) : undefined;
    this.onThrottled = options.onThrottled;
  }

  async authenticate(secret: string | undefined, scope: ApiKeyScope, decisionPoint?: string): Promise<Principal> {
    if (!secret) throw new UnauthorizedError('missing x-api-key header');
    const hash = hashApiKey(secret);
    const record = await this.lookup(hash);
    if (!record || record.revokedAt !== undefined || !sameHash(record.hash, hash)) {
      throw new UnauthorizedError('invalid or revoked API key');
    }
    if (record.expiresAt !== undefined && this.now() >= record.expiresAt) {
      throw new UnauthorizedError(`this API key expired at ${new Date(record.expiresAt).toISOString()}`);
    }
    if (!record.scopes.includes(scope) && !record.scopes.includes('admin')) {
      throw new ForbiddenError(`this API key lacks the ${scope} scope`);
    }
    if (decisionPoint && record.decisionPoints && !record.decisionPoints.includes(decisionPoint)) {
      throw new ForbiddenError(`this API key is not allowed for decision point ${decisionPoint}`);
    }
    try {
      this.limiter?.take(record.keyId, record.rateLimit);
    } catch (err) {
      if (err instanceof TooManyRequestsError) this.onThrottled?.(record.keyId);
      throw err;
    }
    return { keyId: record.keyId, scopes: record.scopes, decisionPoints: record.decisionPoints };
  }

  /** Drops cached lookups (after a key is revoked in this process). */
  invalidate(): void {
    this.cache.clear();
  }

  private async lookup(hash: string): Promise<ApiKeyRecord | undefined> {
    const hit = this.cache.get(hash);
    if (hit && hit.until > this.now()) return hit.record;
    const record = await this.store.getApiKey(hash);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { record, until: this.now() + (record ? 60_000 : 5_000) });
    return record;
  }
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}
