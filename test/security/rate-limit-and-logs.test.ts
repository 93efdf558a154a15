/** Per-key rate limits (token bucket, 429 with Retry-After); the log safety net is in test/privacy/. */
import { describe, expect, it } from 'vitest';
import { errorResponse } from '../../shared/adapters/http/api.ts';
import { ApiKeyAuthenticator, hashApiKey } from '../../shared/app/auth.ts';
import { KeyRateLimiter, TooManyRequestsError } from '../../shared/app/rate-limit.ts';
import type { ApiKeyRecord } from '../../shared/core/domain.ts';

describe('KeyRateLimiter', () => {
  it('allows a burst, then refuses with the wait until the next token, and refills at the rate', () => {
    let t = 0;
    const limiter = new KeyRateLimiter({ ratePerSecond: 2, burst: 3 }, () => t);
    for (let i = 0; i < 3; i++) limiter.take('k');
    expect(() => limiter.take('k')).toThrow(TooManyRequestsError);
    try {
      limiter.take('k');
    } catch (err) {
      expect((err as TooManyRequestsError).retryAfterSeconds).toBe(1);
    }
    limiter.take('other'); // another key has its own bucket
    t = 500; // half a second: one token at 2/s
    limiter.take('k');
    expect(() => limiter.take('k')).toThrow(/exceeded 2 requests per second/);
  });

  it('is enforced by the authenticator after the key is verified, and answered 429 with Retry-After', async () => {
    const secret = 'nba_test';
    const record: ApiKeyRecord = { keyId: 'k1', hash: hashApiKey(secret), name: 't', scopes: ['decide'], createdAt: 0 };
    let throttled = 0;
    const auth = new ApiKeyAuthenticator({ getApiKey: async () => record }, () => 0, {
      limits: { ratePerSecond: 1, burst: 2 },
      onThrottled: () => throttled++,
    });
    await auth.authenticate(secret, 'decide');
    await auth.authenticate(secret, 'decide');
    const err = await auth.authenticate(secret, 'decide').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TooManyRequestsError);
    expect(throttled).toBe(1);
    const res = errorResponse(err);
    expect(res.statusCode).toBe(429);
    expect(res.headers).toMatchObject({ 'retry-after': '1' });
    expect(JSON.parse(res.body)).toEqual({
      error: { code: 'too_many_requests', message: expect.stringMatching(/retry after 1 s/) },
    });
    // An invalid key is refused before it can spend anyone's tokens.
    await expect(auth.authenticate('nba_wrong', 'decide')).rejects.toThrow(/invalid or revoked/);
  });
});
