/**
 * Pseudonymous user ids. The API turns every user id it receives into `ps_` + base64url(HMAC-SHA256(key, userId))
 * (46 characters) before anything else sees it, so the stream, the tables, the dead letters, the lake and the logs
 * only ever hold pseudonyms. The same user always gets the same pseudonym under one key, which is all the join
 * (docs/ARCHITECTURE.md §3: user items, event claims keyed by (userId, eventId), the stream's partition key) and the
 * retraining's split by user need; none of them looks inside the id.
 *
 * Keyed, not a plain hash: without the key nobody can test a guessed id (an e-mail address, a customer number)
 * against a pseudonym. With the key and the raw id, anyone can recompute it: this is pseudonymisation, not
 * anonymisation. Changing the key changes every pseudonym, so every user starts a new history (see README, Privacy).
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';

export const PSEUDONYM_PREFIX = 'ps_';
/** What a pseudonym looks like: the prefix and 43 base64url characters (256 bits). */
export const PSEUDONYM_PATTERN = /^ps_[A-Za-z0-9_-]{43}$/;
export const pseudonymSchema = z.string().regex(PSEUDONYM_PATTERN, 'must be a user pseudonym (ps_ + 43 characters)');

/**
 * Shortest key accepted, in characters: Secrets Manager generates 64 alphanumeric characters (about 380 bits); a key
 * much shorter than the HMAC's 256-bit output would be the weak part.
 */
export const MIN_KEY_LENGTH = 32;

export class WeakPseudonymKeyError extends Error {
  override readonly name = 'WeakPseudonymKeyError';
}

/** The pseudonym of `userId` under `key` (deterministic; never reversible without the key and a guess). */
export function pseudonymise(key: string, userId: string): string {
  if (key.length < MIN_KEY_LENGTH) {
    throw new WeakPseudonymKeyError(`the pseudonym key has ${key.length} characters; at least ${MIN_KEY_LENGTH}`);
  }
  return PSEUDONYM_PREFIX + createHmac('sha256', key).update(userId, 'utf8').digest('base64url');
}

export const isPseudonym = (value: string): boolean => PSEUDONYM_PATTERN.test(value);
