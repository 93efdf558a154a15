/** User pseudonyms (keyed HMAC), the API's pseudonymiser over a secret source, and the log safety net. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDACTED, redact } from '../../shared/adapters/log.ts';
import { MemorySecretSource } from '../../shared/adapters/memory/secret-source.ts';
import { Pseudonymiser } from '../../shared/app/privacy/pseudonyms.ts';
import { DependencyError } from '../../shared/core/errors.ts';
import type { SecretSource } from '../../shared/core/ports.ts';
import { isPseudonym, pseudonymise, WeakPseudonymKeyError } from '../../shared/core/privacy.ts';
import { userIdSchema } from '../../shared/core/schemas.ts';

const KEY = '0123456789abcdef0123456789abcdef';

describe('pseudonymise', () => {
  it('is HMAC-SHA256 of the UTF-8 user id under the key, base64url, after ps_', () => {
    // Expected values from OpenSSL, not from this code:
    //   printf '%s' 'alice@example.com' | openssl dgst -sha256 -hmac "$KEY" -binary | basenc --base64url
    expect(pseudonymise(KEY, 'alice@example.com')).toBe('ps_hBJA0qW2ZUs64h_ESZ23t4Zwd83WfD4WzvH5hD4n0fo');
    expect(pseudonymise(KEY, 'Zoë')).toBe('ps_ZL0LiflQAwbmZvGikUhSG4PNxDh0GB5DLrE0pwjCtno');
  });

  it('gives every valid user id a pseudonym that is itself a valid, much shorter user id, and one per key', () => {
    const other = 'another key of at least thirty-two characters';
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 256, unit: 'grapheme' }), (userId) => {
        fc.pre(userIdSchema.safeParse(userId).success);
        const p = pseudonymise(KEY, userId);
        expect(isPseudonym(p)).toBe(true);
        expect(p).toHaveLength(46);
        // Stream records and table keys still validate: a pseudonym is a user id to everything downstream.
        expect(userIdSchema.safeParse(p).success).toBe(true);
        expect(pseudonymise(KEY, userId)).toBe(p);
        expect(pseudonymise(other, userId)).not.toBe(p);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a key shorter than 32 characters', () => {
    expect(() => pseudonymise('short', 'u1')).toThrow(WeakPseudonymKeyError);
  });
});

describe('Pseudonymiser', () => {
  const counting = (inner: SecretSource) => {
    let reads = 0;
    return {
      source: {
        read: (id: string) => {
          reads++;
          return inner.read(id);
        },
      } as SecretSource,
      reads: () => reads,
    };
  };

  it('reads the key once and maps ids with it', async () => {
    const secrets = new MemorySecretSource();
    secrets.ensure('arn:k', () => KEY);
    const { source, reads } = counting(secrets);
    const p = new Pseudonymiser(source, 'arn:k');
    expect(await p.of('alice@example.com')).toBe('ps_hBJA0qW2ZUs64h_ESZ23t4Zwd83WfD4WzvH5hD4n0fo');
    expect((await p.mapper())('Zoë')).toBe('ps_ZL0LiflQAwbmZvGikUhSG4PNxDh0GB5DLrE0pwjCtno');
    expect(reads()).toBe(1);
  });

  it('answers 503 while the secret cannot be read, and reads it again on the next request', async () => {
    const secrets = new MemorySecretSource();
    const { source, reads } = counting(secrets);
    const p = new Pseudonymiser(source, 'arn:k');
    const err = await p.of('u1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyError);
    expect((err as DependencyError).status).toBe(503);
    secrets.ensure('arn:k', () => KEY);
    expect(isPseudonym(await p.of('u1'))).toBe(true);
    expect(reads()).toBe(2);
  });

  it('fails on a weak key rather than pseudonymise with it', async () => {
    const secrets = new MemorySecretSource();
    secrets.ensure('arn:k', () => 'too short');
    await expect(new Pseudonymiser(secrets, 'arn:k').of('u1')).rejects.toBeInstanceOf(WeakPseudonymKeyError);
  });
});

describe('logs', () => {
  it('write user-id fields only when they hold a pseudonym, at any depth, and keep everything else', () => {
    const p = pseudonymise(KEY, 'alice');
    const out = redact({
      userId: 'alice',
      n: 3,
      nested: { events: [{ user_id: 'bob', type: 'click' }, { userId: p }], user: 'carol', USER: { id: 'dave' } },
    });
    expect(out).toEqual({
      userId: REDACTED,
      n: 3,
      nested: { events: [{ user_id: REDACTED, type: 'click' }, { userId: p }], user: REDACTED, USER: REDACTED },
    });
    expect(JSON.stringify(out)).not.toMatch(/alice|bob|carol|dave/);
  });

  it('write nothing nested deeper than they look', () => {
    const deep = { a: { b: { c: { d: { e: { userId: 'erin' } } } } } };
    expect(JSON.stringify(redact(deep))).not.toContain('erin');
  });
});
