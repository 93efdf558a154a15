/**
 * `GET /v1/audit` on the admin API: the audit trail, newest first (rule A5, shared/core/audit.ts). Filters:
 * `decisionPoint`, `keyId`, `action`, `result`, `since`/`until` (ISO-8601, inclusive), `limit` (default 50, at most
 * 500); `after` takes the `next` of the previous page. Times are shown as ISO-8601. It spans every decision point, so
 * a key restricted to decision points is refused (api.ts).
 */
import type { AuditTrail } from '../../app/audit/audit-trail.ts';
import { auditEntryView, auditQuerySchema, toAuditQuery } from '../../core/audit.ts';
import { parseWith, type Route } from './api.ts';

export function auditRoutes(audit: AuditTrail): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/audit',
      scope: 'admin',
      handle: async ({ query }) => {
        const page = await audit.list(toAuditQuery(parseWith(auditQuerySchema, query, 'query')));
        return {
          status: 200,
          body: { entries: page.entries.map(auditEntryView), ...(page.next !== undefined ? { next: page.next } : {}) },
        };
      },
    },
  ];
}
