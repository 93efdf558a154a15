/**
 * In-memory implementation of the AuditLog port, with the DynamoDB adapter's semantics and item layout
 * (`../dynamodb/audit-log.ts`): append writes once, settle sets a pending entry's outcome once, listings read pages of
 * `pageSize` entries newest first (DynamoDB's `Limit` counts entries read, before filters) and page identically.
 */
import {
  AuditConflictError,
  type AuditEntry,
  type AuditOutcome,
  type AuditPage,
  type AuditQuery,
  matchesAudit,
} from '../../core/audit.ts';
import type { AuditLog } from '../../core/ports.ts';
import {
  AUDIT_PAGING,
  type AuditPaging,
  auditItem,
  auditKeyRange,
  collectAuditPage,
  outcomeFields,
} from '../dynamodb/audit-log.ts';
import { type Attributes, fromStored, toStored } from './item.ts';

export class MemoryAuditLog implements AuditLog {
  private readonly table = new Map<string, Attributes>();

  constructor(
    private readonly retentionDays = 365,
    private readonly paging: AuditPaging = AUDIT_PAGING,
  ) {}

  async append(entry: AuditEntry): Promise<void> {
    const attrs = toStored(auditItem(entry, this.retentionDays), ['pk', 'sk'], { removeUndefinedValues: true });
    if (!this.table.has(attrs.sk!.S!)) this.table.set(attrs.sk!.S!, attrs);
  }

  async settle(key: Pick<AuditEntry, 'at' | 'id'>, outcome: AuditOutcome): Promise<void> {
    const sk = `${new Date(key.at).toISOString()}#${key.id}`;
    const stored = this.table.get(sk);
    const fields = outcomeFields(outcome);
    const current = stored && fromStored(stored);
    const allowed =
      current !== undefined &&
      (current.result === 'pending' || (current.result === fields.result && current.status === fields.status));
    if (!allowed) throw new AuditConflictError(`audit entry ${key.id} does not exist or already has another outcome`);
    this.table.set(sk, toStored({ ...current, ...fields }, ['pk', 'sk'], { removeUndefinedValues: true }));
  }

  async list(q: AuditQuery): Promise<AuditPage> {
    const { lo, hi, after } = auditKeyRange(q);
    const inRange = [...this.table.keys()]
      .filter((sk) => sk >= lo && sk <= hi)
      .sort()
      .reverse();
    const { pageSize, maxPages } = this.paging;
    return collectAuditPage(
      q,
      after,
      maxPages,
      async (start) => {
        const from = start === undefined ? 0 : inRange.indexOf(start) + 1;
        const keys = inRange.slice(from, from + pageSize);
        // DynamoDB names a last key whenever a page is full, whether or not more entries follow.
        const last = keys.length === pageSize ? keys[keys.length - 1] : undefined;
        return { items: keys.map((k) => fromStored(this.table.get(k)!)), last };
      },
      (e) => matchesAudit(e, q),
    );
  }
}
