/**
 * Operations security over HTTP, through the twin (each function under its role from the template):
 * - the audit trail: every change made through the admin API is listed by `GET /v1/audit` with the acting key, route,
 *   decision point, target, result and time, newest first and filterable, never with a secret (shared/core/audit.ts);
 * - API keys that expire (`expiresAt`: refused afterwards with a 401 naming the instant, listed as expired) and keys
 *   with their own request limit (`rateLimit`);
 * - local mode answers only requests whose Host names its listening address (DNS rebinding).
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { hashApiKey } from '../../shared/app/auth.ts';
import { type Api, apiClient } from '../support/http.ts';

process.env.NBA_LOG_LEVEL = 'silent';
let stack: LocalStack;
let admin: Api;

beforeAll(async () => {
  stack = await startLocalStack({ apiKey: 'ops-admin-key', context: { modelRefreshMs: 100 } });
  admin = apiClient(stack.url, stack.apiKey);
});
afterAll(async () => {
  await stack?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An entry as the test compares it: what it says, without its id and times. */
const shape = (e: Record<string, unknown>) => ({
  action: e.action,
  keyId: e.keyId,
  route: e.route,
  decisionPoint: e.decisionPoint,
  target: e.target,
  result: e.result,
  status: e.status,
  code: e.code,
});

describe('GET /v1/audit', () => {
  let since: string;
  let secret: string;
  let opsKeyId: string;
  let rangeStatus: number;

  beforeAll(async () => {
    since = new Date().toISOString();
    expect((await admin.call('PUT', '/v1/decision-points/shop', {})).status).toBe(201);
    expect((await admin.call('PUT', '/v1/decision-points/shop/actions/a1', { features: { x: 1 } })).status).toBe(201);
    expect((await admin.call('DELETE', '/v1/decision-points/shop/actions/a1')).status).toBe(200);
    const imported = await admin.call('POST', '/v1/decision-points/shop/actions:batch', {
      actions: [
        { actionId: 'b1', features: { x: 2 } },
        { actionId: 'b2', features: 'not an object' },
      ],
    });
    expect(imported.body).toMatchObject({ created: 1, rejected: 1 });
    const created = await admin.call('POST', '/v1/keys', { name: 'ops', scopes: ['admin'] });
    expect(created.status).toBe(201);
    secret = created.body.secret;
    opsKeyId = created.body.keyId;
    const ops = apiClient(stack.url, secret);
    expect((await ops.call('PUT', '/v1/decision-points/shop', { attributionWindowSeconds: 60 })).status).toBe(200);
    expect((await ops.call('POST', '/v1/decision-points/shop/model:rollback', {})).status).toBe(409);
    expect((await admin.call('GET', '/v1/decision-points/shop')).status).toBe(200);
    expect((await admin.call('POST', '/v1/dead-letters/replay', { decisionPoint: 'shop' })).status).toBe(200);
    const range = await admin.call('POST', '/v1/dead-letters/replay-range', {
      shardId: 'shardId-000000000000',
      from: '1',
      to: '2',
    });
    // "1" is no sequence number the stream holds: the caller's mistake, named (never a 500).
    expect(range.status).toBe(400);
    expect(range.body.error.message).toContain('from: 1 is not a sequence number of shard shardId-000000000000');
    rangeStatus = range.status;
    expect((await admin.call('DELETE', `/v1/keys/${opsKeyId}`)).status).toBe(200);
    // Refused before the route (a revoked key; a body on a route that is not valid JSON is the route's own refusal).
    expect((await ops.call('PUT', '/v1/decision-points/shop', {})).status).toBe(401);
  });

  it('lists every change newest first with the acting key, route, decision point, target, result and time', async () => {
    const r = await admin.call('GET', `/v1/audit?since=${since}`);
    expect(r.status).toBe(200);
    expect(r.body.next).toBeUndefined();
    expect(r.body.entries.map(shape)).toEqual([
      {
        action: 'key.revoke',
        keyId: 'local-admin',
        route: 'DELETE /v1/keys/{keyId}',
        target: opsKeyId,
        result: 'ok',
        status: 200,
      },
      {
        action: 'dead-letters.replay-range',
        keyId: 'local-admin',
        route: 'POST /v1/dead-letters/replay-range',
        // Whatever the answer (a made-up range), the entry says it.
        result: rangeStatus < 400 ? 'ok' : rangeStatus < 500 ? 'refused' : 'failed',
        status: rangeStatus,
        ...(rangeStatus < 400 ? { target: 'shardId-000000000000/1-2' } : { code: expect.any(String) }),
      },
      {
        action: 'dead-letters.replay',
        keyId: 'local-admin',
        route: 'POST /v1/dead-letters/replay',
        result: 'ok',
        status: 200,
      },
      {
        action: 'model.rollback',
        keyId: opsKeyId,
        route: 'POST /v1/decision-points/{decisionPoint}/model:rollback',
        decisionPoint: 'shop',
        result: 'refused',
        status: 409,
        code: 'conflict',
      },
      {
        action: 'decision-point.put',
        keyId: opsKeyId,
        route: 'PUT /v1/decision-points/{decisionPoint}',
        decisionPoint: 'shop',
        result: 'ok',
        status: 200,
      },
      {
        action: 'key.create',
        keyId: 'local-admin',
        route: 'POST /v1/keys',
        target: opsKeyId,
        result: 'ok',
        status: 201,
      },
      {
        action: 'actions.import',
        keyId: 'local-admin',
        route: 'POST /v1/decision-points/{decisionPoint}/actions:batch',
        decisionPoint: 'shop',
        result: 'ok',
        status: 200,
      },
      {
        action: 'action.retire',
        keyId: 'local-admin',
        route: 'DELETE /v1/decision-points/{decisionPoint}/actions/{actionId}',
        decisionPoint: 'shop',
        target: 'a1',
        result: 'ok',
        status: 200,
      },
      {
        action: 'action.put',
        keyId: 'local-admin',
        route: 'PUT /v1/decision-points/{decisionPoint}/actions/{actionId}',
        decisionPoint: 'shop',
        target: 'a1',
        result: 'ok',
        status: 201,
      },
      {
        action: 'decision-point.put',
        keyId: 'local-admin',
        route: 'PUT /v1/decision-points/{decisionPoint}',
        decisionPoint: 'shop',
        result: 'ok',
        status: 201,
      },
    ]);
    const times = r.body.entries.map((e: { at: string }) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(Math.min(...times)).toBeGreaterThanOrEqual(Date.parse(since));
    for (const e of r.body.entries) expect(Date.parse(e.settledAt)).toBeGreaterThanOrEqual(Date.parse(e.at));
    expect(r.body.entries[8].detail).toEqual({ version: 1 });
    expect(r.body.entries[6].detail).toEqual({ created: 1, updated: 0, unchanged: 0, rejected: 1, failed: 0 });
  });

  it('never holds a secret: not the created key’s secret, not its hash, not the caller’s key', async () => {
    const text = JSON.stringify((await admin.call('GET', `/v1/audit?since=${since}&limit=500`)).body);
    for (const s of [secret, hashApiKey(secret), stack.apiKey, hashApiKey(stack.apiKey)]) expect(text).not.toContain(s);
  });

  it('filters by decision point, key, action, result and time, and pages with next', async () => {
    const actions = async (query: string) =>
      (await admin.call('GET', `/v1/audit?since=${since}&${query}`)).body.entries.map(
        (e: { action: string }) => e.action,
      );
    expect(await actions('decisionPoint=shop')).toEqual([
      'model.rollback',
      'decision-point.put',
      'actions.import',
      'action.retire',
      'action.put',
      'decision-point.put',
    ]);
    expect(await actions(`keyId=${opsKeyId}`)).toEqual(['model.rollback', 'decision-point.put']);
    expect(await actions('action=key.create')).toEqual(['key.create']);
    expect(await actions('result=refused&decisionPoint=shop')).toEqual(['model.rollback']);
    const all = (await admin.call('GET', `/v1/audit?since=${since}`)).body.entries;
    const middle = all[4].at as string;
    expect(await actions(`until=${middle}`)).toEqual(all.slice(4).map((e: { action: string }) => e.action));

    const paged: string[] = [];
    let after = '';
    for (let i = 0; i < 20; i++) {
      const page = await admin.call('GET', `/v1/audit?since=${since}&limit=4${after}`);
      expect(page.body.entries.length).toBeLessThanOrEqual(4);
      paged.push(...page.body.entries.map((e: { id: string }) => e.id));
      if (!page.body.next) break;
      after = `&after=${page.body.next}`;
    }
    expect(paged).toEqual(all.map((e: { id: string }) => e.id));
  });

  it('is for unrestricted admin keys only', async () => {
    const restricted = await admin.call('POST', '/v1/keys', {
      name: 'shop admin',
      scopes: ['admin'],
      decisionPoints: ['shop'],
    });
    const decider = await admin.call('POST', '/v1/keys', { name: 'decider', scopes: ['decide'] });
    expect((await apiClient(stack.url, restricted.body.secret).call('GET', '/v1/audit')).status).toBe(403);
    expect((await apiClient(stack.url, decider.body.secret).call('GET', '/v1/audit')).status).toBe(403);
    expect((await apiClient(stack.url, undefined).call('GET', '/v1/audit')).status).toBe(401);
  });

  it('answers 400 naming a bad filter', async () => {
    for (const [query, named] of [
      ['result=maybe', 'result'],
      ['since=yesterday', 'since'],
      ['limit=501', 'limit'],
      ['after=not-a-cursor', 'after'],
      ['since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z', 'until'],
    ]) {
      const r = await admin.call('GET', `/v1/audit?${query}`);
      expect({ query, status: r.status }).toEqual({ query, status: 400 });
      expect(r.body.error.message).toContain(named);
    }
  });
});

describe('API keys with an expiry and their own limit', () => {
  it('work until expiresAt, then get 401 naming it, and are listed as expired', async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const created = await admin.call('POST', '/v1/keys', { name: 'temp', scopes: ['admin'], expiresAt });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ expiresAt, status: 'active' });
    const temp = apiClient(stack.url, created.body.secret);
    expect((await temp.call('GET', '/v1/decision-points')).status).toBe(200);
    await sleep(Date.parse(expiresAt) - Date.now() + 50);
    const refused = await temp.call('GET', '/v1/decision-points');
    expect(refused.status).toBe(401);
    expect(refused.body.error).toEqual({ code: 'unauthorized', message: `this API key expired at ${expiresAt}` });
    const listed = (await admin.call('GET', '/v1/keys')).body.keys.find(
      (k: { keyId: string }) => k.keyId === created.body.keyId,
    );
    expect(listed).toMatchObject({ expiresAt, status: 'expired' });
  });

  it('cannot be created already expired', async () => {
    const r = await admin.call('POST', '/v1/keys', {
      name: 'late',
      scopes: ['admin'],
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/expiresAt: must be in the future/);
  });

  it('are limited by their own rateLimit (429 with Retry-After), shown in the list', async () => {
    const created = await admin.call('POST', '/v1/keys', {
      name: 'slow',
      scopes: ['admin'],
      rateLimit: { ratePerSecond: 0.5, burst: 2 },
    });
    expect(created.body.rateLimit).toEqual({ ratePerSecond: 0.5, burst: 2 });
    const slow = apiClient(stack.url, created.body.secret);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await slow.call('GET', '/v1/decision-points')).status);
    expect(statuses).toEqual([200, 200, 429]);
    // The admin key, on its own bucket, is not slowed by it.
    expect((await admin.call('GET', '/v1/decision-points')).status).toBe(200);
  });
});

describe('the Host header (DNS rebinding)', () => {
  const get = (host: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const { port } = new URL(stack.url);
      const req = request(
        { host: '127.0.0.1', port, path: '/v1/decision-points', headers: { host, 'x-api-key': stack.apiKey } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });

  it('refuses a Host that is not the listening address with 421, naming the addresses it answers for', async () => {
    const { port } = new URL(stack.url);
    for (const host of [
      `rebound.example:${port}`,
      'rebound.example',
      `127.0.0.1:${Number(port) + 1}`,
      `localhost.evil:${port}`,
    ]) {
      const r = await get(host);
      expect({ host, status: r.status }).toEqual({ host, status: 421 });
      expect(JSON.parse(r.body).error).toEqual({
        code: 'misdirected_request',
        message: expect.stringContaining(`127.0.0.1:${port} or localhost:${port}`),
      });
    }
  });

  it('answers for 127.0.0.1 and localhost on its port', async () => {
    const { port } = new URL(stack.url);
    expect((await get(`127.0.0.1:${port}`)).status).toBe(200);
    expect((await get(`localhost:${port}`)).status).toBe(200);
    expect((await get(`LOCALHOST:${port}`)).status).toBe(200);
  });
});
