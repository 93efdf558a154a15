/**
 * The audit trail around a change (rule A2 of shared/core/audit.ts): no change runs without its pending entry, the
 * outcome is added once, and a failure to store the outcome is never the client's problem but is logged (with the
 * outcome) and counted. Through the admin API's handler, every route that changes state records its change.
 */
import { describe, expect, it } from 'vitest';
import { createApiHandler, type Route } from '../../shared/adapters/http/api.ts';
import { MemoryAuditLog } from '../../shared/adapters/memory/audit-log.ts';
import { AuditTrail } from '../../shared/app/audit/audit-trail.ts';
import { ApiKeyAuthenticator, hashApiKey } from '../../shared/app/auth.ts';
import { type AuditEntry, AuditUnavailableError } from '../../shared/core/audit.ts';
import type { ApiKeyRecord } from '../../shared/core/domain.ts';
import type { AuditLog } from '../../shared/core/ports.ts';

const T0 = Date.parse('2026-11-30T10:00:00.000Z');
const draft = { id: 'req-1', keyId: 'key_1', action: 'action.put' as const, route: 'PUT /x', decisionPoint: 'home' };
const all = { limit: 500 };

function logger() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  return {
    lines,
    log: (level: string, message: string, fields: Record<string, unknown>) => lines.push({ level, message, fields }),
  };
}

describe('AuditTrail', () => {
  it('writes the entry pending before the change, then its outcome, and logs the settled entry once', async () => {
    const store = new MemoryAuditLog();
    const { lines, log } = logger();
    let t = T0;
    const trail = new AuditTrail(store, { now: () => t, log });
    const pending = await trail.begin(draft);
    expect((await store.list(all)).entries).toEqual([{ ...draft, at: T0, result: 'pending' }]);
    t += 7;
    await trail.settle(pending, { status: 201, target: 'a1', detail: { version: 1 } });
    const settled: AuditEntry = {
      ...draft,
      at: T0,
      target: 'a1',
      detail: { version: 1 },
      result: 'ok',
      status: 201,
      settledAt: T0 + 7,
    };
    expect((await store.list(all)).entries).toEqual([settled]);
    expect(lines).toEqual([{ level: 'info', message: 'audit', fields: { audit: settled } }]);
  });

  it('refuses the change (503, nothing to run) when the pending entry cannot be written', async () => {
    const failing: AuditLog = {
      append: async () => {
        throw new Error('ProvisionedThroughputExceededException');
      },
      settle: async () => undefined,
      list: async () => ({ entries: [] }),
    };
    const { lines, log } = logger();
    const err = await new AuditTrail(failing, { log }).begin(draft).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuditUnavailableError);
    expect((err as AuditUnavailableError).status).toBe(503);
    expect(lines.map((l) => [l.level, l.message])).toEqual([['error', 'audit entry not written: change refused']]);
  });

  it('never throws when the outcome cannot be stored: the entry stays pending, the outcome is logged and counted', async () => {
    const store = new MemoryAuditLog();
    const flaky: AuditLog = {
      append: (e) => store.append(e),
      settle: async () => {
        throw new Error('network down');
      },
      list: (q) => store.list(q),
    };
    const { lines, log } = logger();
    const incomplete: AuditEntry[] = [];
    const trail = new AuditTrail(flaky, { now: () => T0, log, onIncomplete: (e) => incomplete.push(e) });
    await trail.settle(await trail.begin(draft), { status: 200 });
    expect((await store.list(all)).entries.map((e) => e.result)).toEqual(['pending']);
    expect(incomplete.map((e) => [e.id, e.result, e.status])).toEqual([['req-1', 'ok', 200]]);
    expect(lines.at(-1)).toMatchObject({
      level: 'error',
      message: 'audit outcome not recorded: the entry stays pending',
      fields: { audit: { id: 'req-1', result: 'ok', status: 200 } },
    });
  });
});

describe('an audited API handler', () => {
  const secret = 'nba_admin';
  const key: ApiKeyRecord = {
    keyId: 'key_admin',
    hash: hashApiKey(secret),
    name: 'a',
    scopes: ['admin'],
    createdAt: 0,
  };
  const auth = () => new ApiKeyAuthenticator({ getApiKey: async (h) => (h === key.hash ? key : undefined) });
  let requests = 0;
  const event = (method: string, path: string, body?: unknown, apiKey = secret) =>
    ({
      httpMethod: method,
      path,
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      isBase64Encoded: false,
      queryStringParameters: null,
      requestContext: { requestId: `req-${++requests}` },
    }) as never;
  const context = { awsRequestId: 'x' } as never;

  it('refuses to be built with a route that changes state and does not say how it is audited', () => {
    const routes: Route[] = [
      { method: 'POST', path: '/v1/keys', scope: 'admin', handle: async () => ({ status: 200 }) },
    ];
    expect(() => createApiHandler(routes, auth(), { audit: new AuditTrail(new MemoryAuditLog()) })).toThrow(
      /POST \/v1\/keys changes state but does not say how it is audited/,
    );
  });

  it('records a change with its key, route, decision point, target, result and detail; a failure with its code; never a read or an unauthenticated call', async () => {
    const store = new MemoryAuditLog();
    const routes: Route[] = [
      {
        method: 'PUT',
        path: '/v1/decision-points/{decisionPoint}/actions/{actionId}',
        scope: 'admin',
        audit: { action: 'action.put', target: (p) => p.actionId },
        handle: async ({ body }) => {
          if ((body as { fail?: boolean }).fail) throw new Error('boom');
          return { status: 201, body: { ok: true, secret: 'never kept' }, audit: { detail: { version: 3 } } };
        },
      },
      {
        method: 'GET',
        path: '/v1/decision-points/{decisionPoint}',
        scope: 'admin',
        handle: async () => ({ status: 200 }),
      },
    ];
    const handler = createApiHandler(routes, auth(), { audit: new AuditTrail(store, { now: () => T0 }) });
    expect((await handler(event('PUT', '/v1/decision-points/home/actions/a1', {}), context)).statusCode).toBe(201);
    expect(
      (await handler(event('PUT', '/v1/decision-points/home/actions/a2', { fail: true }), context)).statusCode,
    ).toBe(500);
    expect((await handler(event('GET', '/v1/decision-points/home'), context)).statusCode).toBe(200);
    expect(
      (await handler(event('PUT', '/v1/decision-points/home/actions/a3', {}, 'nba_wrong'), context)).statusCode,
    ).toBe(401);
    const entries = (await store.list(all)).entries;
    expect(
      entries.map(({ id: _id, ...e }) => e).sort((a, b) => String(a.target).localeCompare(String(b.target))),
    ).toEqual([
      {
        at: T0,
        keyId: 'key_admin',
        action: 'action.put',
        route: 'PUT /v1/decision-points/{decisionPoint}/actions/{actionId}',
        decisionPoint: 'home',
        target: 'a1',
        result: 'ok',
        status: 201,
        detail: { version: 3 },
        settledAt: T0,
      },
      {
        at: T0,
        keyId: 'key_admin',
        action: 'action.put',
        route: 'PUT /v1/decision-points/{decisionPoint}/actions/{actionId}',
        decisionPoint: 'home',
        target: 'a2',
        result: 'failed',
        status: 500,
        code: 'internal_error',
        settledAt: T0,
      },
    ]);
    expect(JSON.stringify(entries)).not.toContain('never kept');
  });

  it('does not run the change when its entry cannot be written', async () => {
    let ran = false;
    const routes: Route[] = [
      {
        method: 'POST',
        path: '/v1/keys',
        scope: 'admin',
        audit: { action: 'key.create' },
        handle: async () => {
          ran = true;
          return { status: 201 };
        },
      },
    ];
    const down: AuditLog = {
      append: async () => {
        throw new Error('down');
      },
      settle: async () => undefined,
      list: async () => ({ entries: [] }),
    };
    const res = await createApiHandler(routes, auth(), { audit: new AuditTrail(down) })(
      event('POST', '/v1/keys', {}),
      context,
    );
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body)).toEqual({
      error: { code: 'audit_unavailable', message: expect.stringMatching(/nothing was changed/) },
    });
    expect(ran).toBe(false);
  });
});
