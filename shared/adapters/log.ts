/**
 * Structured JSON logs through the Powertools logger (one line per entry; CloudWatch Logs Insights can query every
 * field; inside Lambda each line carries the request id and cold-start flag).
 *
 * No PII: user ids appear only as the keyed pseudonyms the API makes of them (core/privacy.ts: HMAC under a secret
 * key) before anything else sees them, so a log line can correlate a user's records without naming the user, and
 * nobody without the key can test a guessed id against it. As a safety net, a field named like a user id (userId,
 * user_id, user), at any depth, is written only if its value is a pseudonym; anything else is replaced by
 * `[redacted]`, so a code path that forgot to pseudonymise writes nothing of the id. `NBA_LOG_LEVEL=silent` mutes
 * everything (tests).
 */
import { isPseudonym } from '../core/privacy.ts';
import { logger } from './observability.ts';

type Fields = Record<string, unknown>;

const USER_KEY = /^(user_?id|user)$/i;
export const REDACTED = '[redacted]';

/** Copies `value` with every user-id field that is not a pseudonym redacted (depth-limited: log fields are small). */
export function redact(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  // Too deep to look through: nothing in it is written rather than something unchecked.
  if (depth > 4) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Fields = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = USER_KEY.test(k) ? (typeof v === 'string' && isPseudonym(v) ? v : REDACTED) : redact(v, depth + 1);
  }
  return out;
}

const silent = () => process.env.NBA_LOG_LEVEL === 'silent';

export const log = {
  info: (message: string, fields?: Fields) => {
    if (!silent()) logger.info(message, (fields ? redact(fields) : {}) as Fields);
  },
  warn: (message: string, fields?: Fields) => {
    if (!silent()) logger.warn(message, (fields ? redact(fields) : {}) as Fields);
  },
  error: (message: string, fields?: Fields) => {
    if (!silent()) logger.error(message, (fields ? redact(fields) : {}) as Fields);
  },
};
