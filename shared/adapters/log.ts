/**
 * Structured JSON logs through the Powertools logger (one line per entry; CloudWatch Logs Insights can query every
 * field; inside Lambda each line carries the request id and cold-start flag).
 *
 * No PII: user ids never appear unhashed. Callers pass `hashForLog(userId)`; as a safety net any field named like a
 * user id (userId, user_id, user) is hashed here before it is written, at any depth. `NBA_LOG_LEVEL=silent` mutes
 * everything (tests).
 */
import { createHash } from 'node:crypto';
import { logger } from './observability.ts';

type Fields = Record<string, unknown>;

/** A short, stable, non-reversible token for a user id, so logs can correlate a user without naming them. */
export const hashForLog = (userId: string): string => createHash('sha256').update(userId).digest('hex').slice(0, 16);

const USER_KEY = /^(user_?id|user)$/i;

/** Copies `value` with every user-id field hashed (depth-limited: log fields are small). */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Fields = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = USER_KEY.test(k) && typeof v === 'string' ? `hash:${hashForLog(v)}` : redact(v, depth + 1);
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
