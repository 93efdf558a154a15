/**
 * The audit log's contract (rules A3–A5 of shared/core/audit.ts), held by the DynamoDB adapter on dynalite and by the
 * in-memory adapter alike: entries are written once, their outcome set once, never anything outside the entry schema;
 * listings are newest first, filtered, and paging through `next` yields every matching entry exactly once. The
 * expected listings are computed here, from the rules, not by the adapters' code.
 */
import { CreateTableCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAuditLog } from '../../shared/adapters/dynamodb/audit-log.ts';
import { MemoryAuditLog } from '../../shared/adapters/memory/audit-log.ts';
import {
  AUDIT_ACTIONS,
  AuditConflictError,
  type AuditEntry,
  type AuditQuery,
  type AuditResult,
} from '../../shared/core/audit.ts';
import type { AuditLog } from '../../shared/core/ports.ts';
import { startTestStores, type TestStores, uniqueName } from '../support/emulators.ts';

let dyn: TestStores;
beforeAll(async () => {
  dyn = await startTestStores();
});
afterAll(async () => {
  await dyn.emulators.close();
});

type Paging = { pageSize: number; maxPages: number };

/** A fresh, empty audit table with the template's key schema, so each case (and property run) starts empty. */
async function dynamoLog(paging?: Paging): Promise<AuditLog> {
  const spec = dyn.plan.tables.find((t) => t.name.includes('AuditTable'));
  if (!spec) throw new Error('the template has no audit table');
  const name = uniqueName('audit');
  await dyn.emulators.dynamo.send(new CreateTableCommand({ ...spec.create, TableName: name }));
  await waitUntilTableExists(
    { client: dyn.emulators.dynamo, maxWaitTime: 10, minDelay: 0.01, maxDelay: 0.05 },
    { TableName: name },
  );
  return new DynamoAuditLog(dyn.emulators.dynamo, name, 365, paging);
}

const implementations: { name: string; open: (paging?: Paging) => Promise<AuditLog> }[] = [
  { name: 'memory', open: async (paging) => new MemoryAuditLog(365, paging) },
  { name: 'dynalite', open: dynamoLog },
];

const T0 = Date.parse('2026-11-30T10:00:00.000Z');
const entry = (over: Partial<AuditEntry> = {}): AuditEntry => ({
  id: 'req-1',
  at: T0,
  keyId: 'key_1',
  action: 'action.put',
  route: 'PUT /v1/decision-points/{decisionPoint}/actions/{actionId}',
  decisionPoint: 'home',
  target: 'a1',
  result: 'pending',
  ...over,
});
const everything: AuditQuery = { limit: 500 };

/** Follows `next` until the listing ends. */
async function listAll(log: AuditLog, q: AuditQuery): Promise<{ entries: AuditEntry[]; pages: number }> {
  const entries: AuditEntry[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await log.list({ ...q, after });
    entries.push(...page.entries);
    after = page.next;
    pages++;
    if (pages > 1000) throw new Error('the listing does not end');
  } while (after !== undefined);
  return { entries, pages };
}

describe.each(implementations)('audit log ($name)', ({ open }) => {
  it('writes an entry once: a second append of the same entry, even with other content, leaves the first', async () => {
    const log = await open();
    await log.append(entry());
    await log.append(entry({ target: 'changed', keyId: 'key_2' }));
    expect((await log.list(everything)).entries).toEqual([entry()]);
  });

  it('refuses an entry with a field outside the entry schema (a secret has nowhere to go)', async () => {
    const log = await open();
    await expect(log.append({ ...entry(), secret: 'nba_x' } as AuditEntry)).rejects.toThrow(/secret/);
    expect((await log.list(everything)).entries).toEqual([]);
  });

  it('sets a pending entry’s outcome once; the same outcome again is a no-op, another one or a missing entry is refused', async () => {
    const log = await open();
    await log.append(entry());
    const outcome = { status: 201, settledAt: T0 + 5, target: 'a1', detail: { version: 1 } };
    await log.settle(entry(), outcome);
    await log.settle(entry(), outcome);
    expect((await log.list(everything)).entries).toEqual([
      entry({ result: 'ok', status: 201, settledAt: T0 + 5, detail: { version: 1 } }),
    ]);
    await expect(log.settle(entry(), { status: 500, code: 'internal_error', settledAt: T0 + 6 })).rejects.toThrow(
      AuditConflictError,
    );
    await expect(log.settle(entry({ id: 'never-written' }), outcome)).rejects.toThrow(AuditConflictError);
    expect((await log.list(everything)).entries).toEqual([
      entry({ result: 'ok', status: 201, settledAt: T0 + 5, detail: { version: 1 } }),
    ]);
  });

  it('records a refusal and a failure with their status and code', async () => {
    const log = await open();
    await log.append(entry({ id: 'r1' }));
    await log.append(entry({ id: 'r2', at: T0 + 1 }));
    await log.settle(entry({ id: 'r1' }), { status: 409, code: 'conflict', settledAt: T0 + 2 });
    await log.settle(entry({ id: 'r2', at: T0 + 1 }), {
      status: 503,
      code: 'dependency_unavailable',
      settledAt: T0 + 3,
    });
    const listed = (await log.list(everything)).entries.map((e) => [e.id, e.result, e.status, e.code]);
    expect(listed).toEqual([
      ['r2', 'failed', 503, 'dependency_unavailable'],
      ['r1', 'refused', 409, 'conflict'],
    ]);
  });

  it('lists newest first, filters by decision point, key, action, result and an inclusive time range', async () => {
    const log = await open();
    await log.append(entry({ id: 'a', at: T0, decisionPoint: 'home' }));
    await log.append(entry({ id: 'b', at: T0 + 1000, decisionPoint: 'cart', keyId: 'key_2' }));
    await log.append(entry({ id: 'c', at: T0 + 2000, action: 'key.create', decisionPoint: undefined }));
    await log.append(entry({ id: 'd', at: T0 + 3000, result: 'ok', status: 200 }));
    const ids = async (q: Partial<AuditQuery>) =>
      (await log.list({ limit: 50, ...q })).entries.map((e) => e.id).join('');
    expect(await ids({})).toBe('dcba');
    expect(await ids({ decisionPoint: 'home' })).toBe('da');
    expect(await ids({ keyId: 'key_2' })).toBe('b');
    expect(await ids({ action: 'key.create' })).toBe('c');
    expect(await ids({ result: 'ok' })).toBe('d');
    expect(await ids({ result: 'pending' })).toBe('cba');
    expect(await ids({ since: T0 + 1000, until: T0 + 2000 })).toBe('cb');
    expect(await ids({ since: T0 + 3001 })).toBe('');
    expect(await ids({ limit: 2 })).toBe('dc');
  });

  it('pages through every matching entry exactly once, also when filters skip whole pages', async () => {
    const log = await open({ pageSize: 3, maxPages: 2 });
    for (let i = 0; i < 20; i++) {
      await log.append(entry({ id: `e${String(i).padStart(2, '0')}`, at: T0 + i, decisionPoint: i % 7 ? 'b' : 'a' }));
    }
    const all = await listAll(log, { limit: 4 });
    expect(all.entries.map((e) => e.id)).toEqual(
      Array.from({ length: 20 }, (_, i) => `e${String(19 - i).padStart(2, '0')}`),
    );
    // Three matches among 20 entries: pages of 3 with at most 2 per listing end some listings early, with `next`.
    const sparse = await listAll(log, { limit: 10, decisionPoint: 'a' });
    expect(sparse.entries.map((e) => e.id)).toEqual(['e14', 'e07', 'e00']);
    expect(sparse.pages).toBeGreaterThan(1);
  });

  it('refuses a cursor it did not issue', async () => {
    const log = await open();
    await expect(log.list({ limit: 5, after: 'bm90LWEta2V5' })).rejects.toThrow(/next/);
  });
});

describe('audit log listings (property, both adapters)', () => {
  const results: AuditResult[] = ['pending', 'ok', 'refused', 'failed'];
  const arbEntry = fc.record({
    id: fc.stringMatching(/^[a-z0-9]{1,6}$/),
    dt: fc.integer({ min: 0, max: 30 }),
    dp: fc.constantFrom('a', 'b', undefined),
    key: fc.constantFrom('k1', 'k2'),
    action: fc.constantFrom(...AUDIT_ACTIONS.slice(0, 3)),
    result: fc.constantFrom(...results),
  });
  const arbQuery = fc.record({
    limit: fc.integer({ min: 1, max: 6 }),
    dp: fc.constantFrom('a', 'b', undefined),
    key: fc.constantFrom('k1', 'k2', undefined),
    result: fc.constantFrom(...results, undefined),
    since: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
    until: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
  });

  it('follow `next` to the entries the rules select, newest first (ties by id, descending), each once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbEntry, { maxLength: 14 }), arbQuery, async (raw, q) => {
        const entries = new Map<string, AuditEntry>();
        for (const r of raw) {
          const e: AuditEntry = {
            id: r.id,
            at: T0 + r.dt * 1000,
            keyId: r.key,
            action: r.action,
            route: 'r',
            ...(r.dp ? { decisionPoint: r.dp } : {}),
            result: r.result,
          };
          // The first entry with a key is the one kept.
          const k = `${e.at}#${e.id}`;
          if (!entries.has(k)) entries.set(k, e);
        }
        const query: AuditQuery = {
          limit: q.limit,
          decisionPoint: q.dp,
          keyId: q.key,
          result: q.result,
          since: q.since === undefined ? undefined : T0 + q.since * 1000,
          until: q.until === undefined ? undefined : T0 + q.until * 1000,
        };
        const expected = [...entries.values()]
          .filter(
            (e) =>
              (q.dp === undefined || e.decisionPoint === q.dp) &&
              (q.key === undefined || e.keyId === q.key) &&
              (q.result === undefined || e.result === q.result) &&
              (query.since === undefined || e.at >= query.since) &&
              (query.until === undefined || e.at <= query.until),
          )
          .sort((x, y) => y.at - x.at || (x.id < y.id ? 1 : -1));
        for (const impl of implementations) {
          const log = await impl.open({ pageSize: 2, maxPages: 2 });
          for (const r of raw) {
            await log.append({
              id: r.id,
              at: T0 + r.dt * 1000,
              keyId: r.key,
              action: r.action,
              route: 'r',
              ...(r.dp ? { decisionPoint: r.dp } : {}),
              result: r.result,
            });
          }
          const { entries: got } = await listAll(log, query);
          expect(got, impl.name).toEqual(expected);
        }
      }),
      { numRuns: 40 },
    );
  });
});
