/**
 * Structured JSON logs, one line per entry (CloudWatch Logs Insights can query every field).
 * User ids never appear in logs unhashed (see `hashForLog`). `NBA_LOG_LEVEL=silent` mutes them (tests).
 */
import { createHash } from 'node:crypto';

type Fields = Record<string, unknown>;

function write(level: string, message: string, fields?: Fields): void {
  if (process.env.NBA_LOG_LEVEL === 'silent') return;
  const line = JSON.stringify({ level, message, service: process.env.POWERTOOLS_SERVICE_NAME ?? 'nba-engine', timestamp: new Date().toISOString(), ...fields });
  if (level === 'ERROR' || level === 'WARN') process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
}

export const log = {
  info: (message: string, fields?: Fields) => write('INFO', message, fields),
  warn: (message: string, fields?: Fields) => write('WARN', message, fields),
  error: (message: string, fields?: Fields) => write('ERROR', message, fields),
};

/** A short, stable, non-reversible token for a user id, so logs can correlate a user without naming them. */
export const hashForLog = (userId: string): string => createHash('sha256').update(userId).digest('hex').slice(0, 16);
