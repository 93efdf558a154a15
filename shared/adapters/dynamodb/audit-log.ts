/**
 * DynamoDB implementation of the AuditLog port (rules A1–A5 in `shared/core/audit.ts`), and the audit table's item
 * layout, which the in-memory adapter shares.
 *
 * Layout: every entry in one partition (`pk = AUDIT`), sorted by `sk = <ISO time>#<id>`, so a listing is one Query in
 * descending order with the time range as the key condition and the other filters as a filter expression. One
 * partition is enough: entries are administrative changes (a handful per minute, each request already limited per
 * key), far below a partition's 1,000 writes/s, and without a local index a partition key has no size limit. Old
 * entries leave through the table's TTL (`expiresAt`, seconds), after the retention the stack configures.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import {
  AuditConflictError,
  type AuditEntry,
  type AuditOutcome,
  type AuditPage,
  type AuditQuery,
  auditEntrySchema,
  resultOf,
} from '../../core/audit.ts';
import { ValidationError } from '../../core/errors.ts';
import type { AuditLog } from '../../core/ports.ts';

export const AUDIT_PARTITION = 'AUDIT';
/** How a listing reads: entries per Query page, and pages per listing at most (filters may skip many entries). */
export interface AuditPaging {
  pageSize: number;
  maxPages: number;
}
export const AUDIT_PAGING: AuditPaging = { pageSize: 200, maxPages: 10 };

/** Appending: an entry is written once; a retried append finds it and changes nothing (A3). */
const NEW_ENTRY = 'attribute_not_exists(pk)';
/**
 * Settling: the entry exists (an outcome never creates an entry on its own) and is still pending, or already has
 * exactly this outcome (a retried settle); an outcome once recorded is never replaced (A3).
 */
const PENDING_OR_SAME = 'attribute_exists(pk) AND (#result = :pending OR (#result = :result AND #status = :status))';

const sortKey = (e: Pick<AuditEntry, 'at' | 'id'>) => `${new Date(e.at).toISOString()}#${e.id}`;

/** The stored item of an entry: the entry, its keys and its expiry (TTL, seconds since the epoch). */
export function auditItem(entry: AuditEntry, retentionDays: number): Record<string, unknown> {
  return {
    ...auditEntrySchema.parse(entry),
    pk: AUDIT_PARTITION,
    sk: sortKey(entry),
    expiresAt: Math.floor(entry.at / 1000) + retentionDays * 86_400,
  };
}

export function toAuditEntry(item: Record<string, unknown>): AuditEntry {
  const { pk: _pk, sk: _sk, expiresAt: _expiresAt, ...entry } = item;
  return auditEntrySchema.parse(entry);
}

/** The key range of a query, in descending-read terms: `[lo, hi]`, with `hi` capped by the cursor (inclusive). */
export function auditKeyRange(q: AuditQuery): { lo: string; hi: string; after: string | undefined } {
  const after = q.after === undefined ? undefined : decodeCursor(q.after);
  // '#' sorts below every id character and '~' above them, so these bounds include every id at those instants.
  const lo = q.since === undefined ? '0000' : `${new Date(q.since).toISOString()}#`;
  let hi = q.until === undefined ? '9999~' : `${new Date(q.until).toISOString()}#~`;
  if (after !== undefined && after < hi) hi = after;
  return { lo, hi, after };
}

export const encodeCursor = (sk: string) => Buffer.from(sk, 'utf8').toString('base64url');
function decodeCursor(cursor: string): string {
  const sk = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z#[A-Za-z0-9._:/@-]{1,128}$/.test(sk)) {
    throw new ValidationError('invalid query: after: must be the `next` value of an earlier answer');
  }
  return sk;
}

/** The attribute values an outcome sets (shared with the memory adapter, so both store the same item). */
export function outcomeFields(outcome: AuditOutcome): Record<string, unknown> {
  return {
    result: resultOf(outcome.status),
    status: outcome.status,
    settledAt: outcome.settledAt,
    ...(outcome.code !== undefined ? { code: outcome.code } : {}),
    ...(outcome.target !== undefined ? { target: outcome.target } : {}),
    ...(outcome.detail !== undefined ? { detail: outcome.detail } : {}),
  };
}

/**
 * Collects one listing from pages read newest first: `readPage(start)` returns up to `pageSize` items after `start`
 * (exclusive) and the key to continue from, if any. Shared by both adapters so they page identically.
 */
export async function collectAuditPage(
  q: AuditQuery,
  after: string | undefined,
  maxPages: number,
  readPage: (start: string | undefined) => Promise<{ items: Record<string, unknown>[]; last: string | undefined }>,
  matches: (e: AuditEntry) => boolean = () => true,
): Promise<AuditPage> {
  const found: { entry: AuditEntry; sk: string }[] = [];
  let start: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const { items, last } = await readPage(start);
    for (const item of items) {
      const sk = String(item.sk);
      // The cursor's own entry: the range includes it, the page after it must not.
      if (sk === after) continue;
      const entry = toAuditEntry(item);
      if (matches(entry)) found.push({ entry, sk });
    }
    if (found.length > q.limit) break;
    if (last === undefined) {
      return { entries: found.map((f) => f.entry) };
    }
    start = last;
    if (found.length === q.limit) break;
  }
  if (found.length >= q.limit) {
    const page = found.slice(0, q.limit);
    return { entries: page.map((f) => f.entry), next: encodeCursor(page[page.length - 1]!.sk) };
  }
  // The read budget ran out before `limit` matches: continue from the last entry read.
  return { entries: found.map((f) => f.entry), next: encodeCursor(start!) };
}

export class DynamoAuditLog implements AuditLog {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly retentionDays = 365,
    private readonly paging: AuditPaging = AUDIT_PAGING,
  ) {}

  async append(entry: AuditEntry): Promise<void> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall(auditItem(entry, this.retentionDays), { removeUndefinedValues: true }),
          ConditionExpression: NEW_ENTRY,
        }),
      );
    } catch (err) {
      // The entry is there: the same entry written by an earlier attempt of this append (its key holds the id).
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  async settle(key: Pick<AuditEntry, 'at' | 'id'>, outcome: AuditOutcome): Promise<void> {
    const fields = outcomeFields(outcome);
    const names = Object.keys(fields);
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ pk: AUDIT_PARTITION, sk: sortKey(key) }),
          UpdateExpression: `SET ${names.map((n) => `#${n} = :${n}`).join(', ')}`,
          ConditionExpression: PENDING_OR_SAME,
          ExpressionAttributeNames: Object.fromEntries(names.map((n) => [`#${n}`, n])),
          ExpressionAttributeValues: marshall(
            {
              ...Object.fromEntries(names.map((n) => [`:${n}`, fields[n]])),
              ':pending': 'pending',
            },
            { removeUndefinedValues: true },
          ),
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        throw new AuditConflictError(`audit entry ${key.id} does not exist or already has another outcome`, undefined, {
          cause: err,
        });
      }
      throw err;
    }
  }

  async list(q: AuditQuery): Promise<AuditPage> {
    const { lo, hi, after } = auditKeyRange(q);
    if (lo > hi) return { entries: [] };
    const filters: string[] = [];
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':pk': AUDIT_PARTITION, ':lo': lo, ':hi': hi };
    for (const field of ['decisionPoint', 'keyId', 'action', 'result'] as const) {
      const v = q[field];
      if (v === undefined) continue;
      filters.push(`#${field} = :${field}`);
      names[`#${field}`] = field;
      values[`:${field}`] = v;
    }
    return collectAuditPage(q, after, this.paging.maxPages, async (start) => {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
          ...(filters.length > 0 ? { FilterExpression: filters.join(' AND '), ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: marshall(values),
          ScanIndexForward: false,
          Limit: this.paging.pageSize,
          ...(start !== undefined ? { ExclusiveStartKey: marshall({ pk: AUDIT_PARTITION, sk: start }) } : {}),
        }),
      );
      const last = out.LastEvaluatedKey as Record<string, AttributeValue> | undefined;
      return {
        items: (out.Items ?? []).map((i) => unmarshall(i)),
        last: last ? String(unmarshall(last).sk) : undefined,
      };
    });
  }
}
