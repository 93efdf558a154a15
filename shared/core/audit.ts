/**
 * The audit trail: one entry per change an operator (or the retraining) makes, so "who changed what, when, and did it
 * work" has an answer. The rules:
 *
 * - A1. Every change is recorded: API keys created or revoked, decision point settings, actions (put, imported,
 *   retired), promotion and rollback of models, dead-letter replay and replay-range, user erasure. An API change is
 *   recorded once its key may use the route, whatever the outcome (a refused or failed change is recorded with its
 *   status and error code); a request refused before that (no key; a wrong, revoked or expired key; a key without
 *   the scope or the decision point; a rate-limited key) changes nothing and is not: it is in the API's access log.
 * - A2. No change without its entry: the entry is written `pending` before the change runs; if it cannot be written
 *   the change does not run (503). The outcome is added afterwards. An entry left `pending` therefore means "the
 *   outcome was not recorded" (the function died, or the store failed at that moment), never "nothing happened";
 *   each entry is also logged as one structured line with its outcome, so the log group has it even then. A
 *   promotion (the retraining's, not an API request) is recorded right after the model pointer moves, complete; the
 *   step fails, and is retried, until it is (the retry finds the pointer moved and writes the same entry).
 * - A3. Entries are append-only: written once (a retried write finds its own entry and changes nothing), their
 *   outcome set once (`pending` → final; setting the same outcome again is a no-op, setting another is refused).
 * - A4. Never a secret: an entry holds the acting key's id, never a key secret or hash, and no request body; what a
 *   change applied to is named by id (`target`), and `detail` holds only counts and versions the route chooses.
 * - A5. Listed newest first (`GET /v1/audit`), filtered by decision point, key, action, result and time.
 */
import { z } from 'zod';
import { instantMs, instantSchema } from './catalog/schedule.ts';
import { EngineError } from './errors.ts';
import { decisionPointIdSchema } from './schemas.ts';

/** What was changed, as a stable verb a filter can name. */
export const AUDIT_ACTIONS = [
  'decision-point.put',
  'action.put',
  'actions.import',
  'action.retire',
  'key.create',
  'key.revoke',
  'model.promote',
  'model.rollback',
  'dead-letters.replay',
  'dead-letters.replay-range',
  'user.erase',
  'decision-job.create',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** `pending` until the outcome is recorded; then `ok` (2xx), `refused` (4xx) or `failed` (5xx). */
export const AUDIT_RESULTS = ['pending', 'ok', 'refused', 'failed'] as const;
export type AuditResult = (typeof AUDIT_RESULTS)[number];

const idText = z.string().regex(/^[A-Za-z0-9._:/@-]{1,128}$/, 'must be 1-128 characters from A-Z a-z 0-9 . _ : / @ -');
const detailSchema = z.record(
  z.string().regex(/^[A-Za-z0-9_]{1,32}$/),
  z.union([z.string().max(128), z.number().refine(Number.isFinite), z.boolean()]),
);

/** One entry as stored and as listed. */
export const auditEntrySchema = z.strictObject({
  /** Unique per change: the API request id, or the retraining run's. */
  id: idText,
  /** When the change was asked for (ms since the epoch). */
  at: z.number().int().nonnegative(),
  /** The acting API key's id; absent for a change the engine made itself (`system`). */
  keyId: idText.optional(),
  /** The engine part that made the change itself, e.g. `retraining`. */
  system: idText.optional(),
  action: z.enum(AUDIT_ACTIONS),
  /** The route template, e.g. `DELETE /v1/keys/{keyId}`, or the step for a system change (`retraining promote`). */
  route: z.string().min(1).max(160),
  decisionPoint: decisionPointIdSchema.optional(),
  /** What the change applied to besides the decision point: an action id, a key id, a model version. */
  target: z.string().min(1).max(256).optional(),
  result: z.enum(AUDIT_RESULTS),
  /** The HTTP status answered (200 for a system change that succeeded). */
  status: z.number().int().min(100).max(599).optional(),
  /** The error code of a refused or failed change. */
  code: z.string().max(64).optional(),
  detail: detailSchema.optional(),
  /** When the outcome was recorded (ms). */
  settledAt: z.number().int().nonnegative().optional(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

/** An entry as `GET /v1/audit` shows it: times as ISO-8601. */
export const auditEntryViewSchema = auditEntrySchema.extend({
  at: z.iso.datetime(),
  settledAt: z.iso.datetime().optional(),
});
export type AuditEntryView = z.infer<typeof auditEntryViewSchema>;

export function auditEntryView(e: AuditEntry): AuditEntryView {
  const { settledAt, ...rest } = e;
  return {
    ...rest,
    at: new Date(e.at).toISOString(),
    ...(settledAt !== undefined ? { settledAt: new Date(settledAt).toISOString() } : {}),
  };
}

/** The outcome added to a pending entry. */
export interface AuditOutcome {
  status: number;
  code?: string | undefined;
  target?: string | undefined;
  detail?: Record<string, string | number | boolean> | undefined;
  settledAt: number;
}

/** The result an HTTP status stands for. */
export function resultOf(status: number): Exclude<AuditResult, 'pending'> {
  if (status < 400) return 'ok';
  return status < 500 ? 'refused' : 'failed';
}

export const AUDIT_LIST_DEFAULT = 50;
export const AUDIT_LIST_MAX = 500;

/** Where a listing continues: the sort position of the last entry it returned (opaque to clients). */
const cursorSchema = z.string().regex(/^[A-Za-z0-9_-]{1,400}$/, 'must be the `next` value of an earlier answer');

/** `GET /v1/audit` query: every filter optional; `since`/`until` are ISO-8601 instants (inclusive). */
export const auditQuerySchema = z
  .strictObject({
    decisionPoint: decisionPointIdSchema.optional(),
    keyId: idText.optional(),
    action: z.enum(AUDIT_ACTIONS).optional(),
    result: z.enum(AUDIT_RESULTS).optional(),
    since: instantSchema.optional(),
    until: instantSchema.optional(),
    limit: z.coerce.number().int().min(1).max(AUDIT_LIST_MAX).default(AUDIT_LIST_DEFAULT),
    /** The `next` of the previous page. */
    after: cursorSchema.optional(),
  })
  .refine((q) => q.since === undefined || q.until === undefined || instantMs(q.since) <= instantMs(q.until), {
    path: ['until'],
    message: 'must not be before since',
  });
export type AuditQueryInput = z.input<typeof auditQuerySchema>;

/** A parsed query, as the port takes it. */
export interface AuditQuery {
  decisionPoint?: string | undefined;
  keyId?: string | undefined;
  action?: AuditAction | undefined;
  result?: AuditResult | undefined;
  /** Inclusive bounds, ms. */
  since?: number | undefined;
  until?: number | undefined;
  limit: number;
  after?: string | undefined;
}

export function toAuditQuery(q: z.output<typeof auditQuerySchema>): AuditQuery {
  return {
    decisionPoint: q.decisionPoint,
    keyId: q.keyId,
    action: q.action,
    result: q.result,
    since: q.since === undefined ? undefined : instantMs(q.since),
    until: q.until === undefined ? undefined : instantMs(q.until),
    limit: q.limit,
    after: q.after,
  };
}

/** An entry's filters, as one predicate (the memory adapter's, and the reference the DynamoDB filter is tested to). */
export function matchesAudit(e: AuditEntry, q: AuditQuery): boolean {
  return (
    (q.decisionPoint === undefined || e.decisionPoint === q.decisionPoint) &&
    (q.keyId === undefined || e.keyId === q.keyId) &&
    (q.action === undefined || e.action === q.action) &&
    (q.result === undefined || e.result === q.result) &&
    (q.since === undefined || e.at >= q.since) &&
    (q.until === undefined || e.at <= q.until)
  );
}

/** A page of entries, newest first; `next` when more entries may match (pass it as `after`). */
export interface AuditPage {
  entries: AuditEntry[];
  next?: string | undefined;
}

/** A write that would break A3: settling an entry that does not exist, or that already has another outcome. */
export class AuditConflictError extends EngineError {}

/** The audit trail cannot be written, so the change was not made (A2). Clients may retry. */
export class AuditUnavailableError extends EngineError {
  override readonly status = 503;
  override readonly code = 'audit_unavailable';
}
