/**
 * Authentication and authorisation on every route of the API, over HTTP through the local stack: without a valid key
 * a request gets 401, with a key lacking the scope or the decision point 403, and in every case nothing changes
 * (every table item and every stream record compared before and after). Also the key lifecycle through `/v1/keys`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import type { Route } from '../../shared/adapters/http/api.ts';
import { type Api, apiClient } from '../support/http.ts';
import { apiDocument } from '../support/openapi.ts';
import { readmeText } from '../support/readme.ts';
import { type StateSnapshot, snapshot } from './snapshot.ts';

process.env.NBA_LOG_LEVEL = 'silent';
let stack: LocalStack;
let admin: Api;
let routes: Pick<Route, 'method' | 'path' | 'scope'>[];
const secrets: Record<string, string> = {};

/** A request each route would accept from an authorised caller: authentication must be the only obstacle. */
const bodies: Record<string, unknown> = {
  'POST /v1/decisions': { decisionPoint: 'home', userId: 'u1' },
  'POST /v1/decisions:batch': { requests: [{ decisionPoint: 'home', userId: 'u1' }] },
  'POST /v1/decision-points/{decisionPoint}/decision-jobs': { input: 's3://elsewhere/users.jsonl' },
  'POST /v1/events': { events: [{ eventId: 'e1', userId: 'u1', type: 'click' }] },
  'PUT /v1/decision-points/{decisionPoint}': { description: 'changed' },
  'PUT /v1/decision-points/{decisionPoint}/actions/{actionId}': { features: { color: 'black' } },
  'POST /v1/decision-points/{decisionPoint}/actions:batch': { actions: [{ actionId: 'new', features: {} }] },
  'POST /v1/keys': { name: 'intruder', scopes: ['admin'] },
};

const concrete = (path: string) =>
  path
    .replace('{decisionPoint}', 'home')
    .replace('{actionId}', 'a')
    .replace('{keyId}', 'local-admin')
    .replace('{jobId}', '0000000000000a')
    .replace(/\{\w+\}/g, 'x');

beforeAll(async () => {
  stack = await startLocalStack({ apiKey: 'security-admin-key', context: { modelRefreshMs: 100 } });
  admin = apiClient(stack.url, stack.apiKey);
  expect((await admin.call('PUT', '/v1/decision-points/home', {})).status).toBe(201);
  expect((await admin.call('PUT', '/v1/decision-points/other', {})).status).toBe(201);
  for (const id of ['a', 'b']) {
    expect(
      (await admin.call('PUT', `/v1/decision-points/home/actions/${id}`, { features: { color: id } })).status,
    ).toBe(201);
  }
  const create = async (label: string, body: unknown) => {
    const r = await admin.call('POST', '/v1/keys', body);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    secrets[label] = r.body.secret;
    return r.body;
  };
  await create('decide', { name: 'decide only', scopes: ['decide'] });
  await create('feedback', { name: 'feedback only', scopes: ['feedback'] });
  await create('otherAdmin', {
    name: 'admin of other',
    scopes: ['admin', 'decide', 'feedback'],
    decisionPoints: ['other'],
  });
  const revoked = await create('revoked', { name: 'revoked', scopes: ['admin', 'decide', 'feedback'] });
  expect((await admin.call('DELETE', `/v1/keys/${revoked.keyId}`)).status).toBe(200);

  // The routes from the API description, each with the scope the README's table says it needs (not the code's own
  // route table): a route the code guards with another scope than documented fails below.
  routes = documentedRoutes();
});
afterAll(async () => {
  await stack?.stop();
});

/** Every operation of docs/openapi.json with its scope from the README's table (`admin`: "every other route"). */
function documentedRoutes(): Pick<Route, 'method' | 'path' | 'scope'>[] {
  const table = new Map<string, Route['scope']>();
  let others: Route['scope'] | undefined;
  for (const [, scope, cell] of readmeText().matchAll(/^\| `(\w+)`\s*\| (.+?)\s*\|$/gm)) {
    const named = [...cell!.matchAll(/`(GET|PUT|POST|DELETE) ([^`]+)`/g)];
    if (named.length > 0) for (const [, m, p] of named) table.set(`${m} ${p}`, scope as Route['scope']);
    else if (/every other route/.test(cell!)) others = scope as Route['scope'];
  }
  expect(others, 'the README names the scope of every other route').toBeDefined();
  // Routes the document marks public (`security: []`) need no key; the README's table must say so in its `none` row.
  const publicRow = readmeText().match(/^\| none\s*\| (.+?)\s*\|$/m)?.[1] ?? '';
  const isPublic = (path: string, m: string) => {
    const op = (item: unknown) => (item as Record<string, { security?: unknown[] }>)[m];
    const open = op(apiDocument.paths[path as keyof typeof apiDocument.paths])?.security?.length === 0;
    if (open)
      expect(publicRow, `README lists ${m.toUpperCase()} ${path} as needing no key`).toContain(
        `${m.toUpperCase()} ${path}`,
      );
    return open;
  };
  return Object.entries(apiDocument.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((m) => ['get', 'put', 'post', 'delete'].includes(m) && !isPublic(path, m))
      .map((m) => {
        const method = m.toUpperCase() as Route['method'];
        return { method, path, scope: table.get(`${method} ${path}`) ?? others! };
      }),
  );
}

/** Calls every route (but those `skip` selects: calls the key may make, which would change the state). */
async function callAll(
  key: string | undefined,
  headers: Record<string, string> = {},
  skip: (r: Pick<Route, 'method' | 'path' | 'scope'>) => boolean = () => false,
) {
  const client = apiClient(stack.url, key);
  const out: { route: string; status: number; code: string | undefined; scope: string; path: string }[] = [];
  for (const r of routes) {
    if (skip(r)) continue;
    const id = `${r.method} ${r.path}`;
    const res = await client.call(
      r.method,
      concrete(r.path),
      bodies[id] ?? (r.method === 'PUT' || r.method === 'POST' ? {} : undefined),
      headers,
    );
    out.push({ route: id, status: res.status, code: res.body?.error?.code, scope: r.scope, path: r.path });
  }
  return out;
}

describe('every route', () => {
  let before: StateSnapshot;
  beforeAll(async () => {
    before = await snapshot(stack);
  });

  it('covers the API: decisions, events, catalog, model, dead letters and keys', () => {
    expect(routes.length).toBeGreaterThanOrEqual(14);
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining([
        'POST /v1/decisions',
        'POST /v1/events',
        'PUT /v1/decision-points/{decisionPoint}',
        'POST /v1/keys',
        'DELETE /v1/keys/{keyId}',
      ]),
    );
  });

  it.each([
    ['no key', undefined, {}],
    ['an empty key', undefined, { 'x-api-key': '' }],
    ['a wrong key', 'nba_not-a-key', {}],
    ['a near miss of the admin key', 'security-admin-kez', {}],
    ['a revoked key', 'revoked', {}],
  ] as const)('answers 401 to %s and changes nothing', async (_, key, headers) => {
    const secret = key === 'revoked' ? secrets.revoked : key;
    for (const r of await callAll(secret, headers)) {
      expect({ route: r.route, status: r.status, code: r.code }).toEqual({
        route: r.route,
        status: 401,
        code: 'unauthorized',
      });
    }
    expect(await snapshot(stack)).toEqual(before);
  });

  it('answers 403 to a key without the route’s scope, and changes nothing', async () => {
    for (const [label, has] of [
      ['decide', 'decide'],
      ['feedback', 'feedback'],
    ] as const) {
      const calls = await callAll(secrets[label], {}, (r) => r.scope === has);
      // The README's scope table: four routes need `decide`, one needs `feedback`; a key with one is refused the rest.
      const own = { decide: 4, feedback: 1 }[has];
      expect(calls.length).toBe(routes.length - own);
      for (const r of calls) {
        expect({ route: r.route, label, status: r.status, code: r.code }).toEqual({
          route: r.route,
          label,
          status: 403,
          code: 'forbidden',
        });
      }
    }
    expect(await snapshot(stack)).toEqual(before);
  });

  it('answers 403 to a key restricted to another decision point, on every route that reaches this one or spans all', async () => {
    // Feedback events name no decision point, so a restricted feedback key is accepted there (a documented limit).
    const calls = await callAll(secrets.otherAdmin, {}, (r) => r.path === '/v1/events');
    for (const r of calls) {
      expect({ route: r.route, status: r.status, code: r.code }).toEqual({
        route: r.route,
        status: 403,
        code: 'forbidden',
      });
    }
    expect(await snapshot(stack)).toEqual(before);
  });
});

describe('/v1/keys', () => {
  it('shows a secret once at creation, never in a list, and the key works with its scope only', async () => {
    const created = await admin.call('POST', '/v1/keys', {
      name: 'partner',
      scopes: ['decide'],
      decisionPoints: ['home'],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'partner',
      scopes: ['decide'],
      decisionPoints: ['home'],
      status: 'active',
    });
    expect(created.body.secret).toMatch(/^nba_[A-Za-z0-9_-]{43}$/);
    const listed = await admin.call('GET', '/v1/keys');
    expect(listed.status).toBe(200);
    const text = JSON.stringify(listed.body);
    expect(text).not.toContain(created.body.secret);
    expect(text).not.toMatch(/"(secret|hash)"/);
    expect(listed.body.keys.map((k: { keyId: string }) => k.keyId)).toContain(created.body.keyId);

    const partner = apiClient(stack.url, created.body.secret);
    expect((await partner.call('POST', '/v1/decisions', { decisionPoint: 'home', userId: 'p1' })).status).toBe(200);
    expect((await partner.call('POST', '/v1/decisions', { decisionPoint: 'other', userId: 'p1' })).status).toBe(403);
    expect((await partner.call('GET', '/v1/decision-points/home')).status).toBe(403);

    const revoked = await admin.call('DELETE', `/v1/keys/${created.body.keyId}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ keyId: created.body.keyId, status: 'revoked' });
    // The container that revoked the key refuses it at once; every other function's containers (each twin function is
    // one) within the 60 s cache TTL, as documented for AWS.
    expect((await partner.call('GET', '/v1/decision-points/home')).status).toBe(401);
  });

  it('rejects invalid keys with 400 and unknown ids with 404', async () => {
    for (const body of [
      {},
      { name: 'x', scopes: [] },
      { name: 'x', scopes: ['root'] },
      { name: 'x', scopes: ['admin'], extra: 1 },
      { name: '', scopes: ['admin'] },
    ]) {
      const r = await admin.call('POST', '/v1/keys', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message).toMatch(/invalid key/);
    }
    expect((await admin.call('DELETE', '/v1/keys/key_0000000000000000')).status).toBe(404);
  });
});
