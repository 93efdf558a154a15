/**
 * Privacy by default, end to end over HTTP through the twin (every call under its function's role): user ids are
 * pseudonymised at the API, so no table, stream record or lake object holds the raw id; `DELETE /v1/users/{userId}`
 * leaves no item of the user in the tables (read back through the emulators), is admin-only, and the next retraining
 * leaves the user's lake records up to the erasure out while what they do afterwards is a new history.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { physicalName } from '../../local/twin/template.ts';
import { type Api, apiClient, waitFor } from '../support/http.ts';
import { pseudonymOf } from '../support/privacy.ts';

process.env.NBA_LOG_LEVEL = 'silent';
const DP = 'privacy';
const ALICE = 'alice.smith@example.com';
const BOB = 'bob/42 (legacy id)';
const DAY = 86_400_000;

let stack: LocalStack;
let api: Api;
let lakeDir: string;
let alice: string;
let bob: string;

beforeAll(async () => {
  lakeDir = mkdtempSync(join(tmpdir(), 'nba-privacy-lake-'));
  stack = await startLocalStack({ apiKey: 'test-admin-key', context: { modelRefreshMs: 0 }, lakeDir });
  api = apiClient(stack.url, stack.apiKey);
  expect((await api.call('PUT', `/v1/decision-points/${DP}`, { rewards: { click: 1 } })).status).toBe(201);
  for (const id of ['a', 'b']) {
    expect((await api.call('PUT', `/v1/decision-points/${DP}/actions/${id}`, { features: { id } })).status).toBe(201);
  }
  alice = await pseudonymOf(stack, ALICE);
  bob = await pseudonymOf(stack, BOB);
});
afterAll(async () => {
  await stack?.stop();
  rmSync(lakeDir, { recursive: true, force: true });
});

type Construct = 'StateTable' | 'DecisionsTable' | 'DeadLetterTable';
async function scan(construct: Construct): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, never> | undefined;
  do {
    const page = await stack.emulators.dynamo.send(
      new ScanCommand({ TableName: physicalName(stack.plan, construct), ExclusiveStartKey: start }),
    );
    items.push(...(page.Items ?? []).map((i) => unmarshall(i)));
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return items;
}
const naming = (items: Record<string, unknown>[], text: string) =>
  items.filter((i) => JSON.stringify(i).includes(text));
const keyOf = (i: Record<string, unknown>) => String(i.decisionId ?? i.id ?? `${i.pk}/${i.sk}`);

/** Every record on the stream, as text. */
async function streamText(): Promise<string[]> {
  const { kinesis } = stack.emulators;
  const name = physicalName(stack.plan, 'EventStream');
  const out: string[] = [];
  for (const shard of (await kinesis.send(new ListShardsCommand({ StreamName: name }))).Shards ?? []) {
    let it = (
      await kinesis.send(
        new GetShardIteratorCommand({ StreamName: name, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }),
      )
    ).ShardIterator;
    while (it) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: it }));
      for (const r of page.Records ?? []) out.push(Buffer.from(r.Data!).toString('utf8'));
      if ((page.Records ?? []).length === 0) break;
      it = page.NextShardIterator;
    }
  }
  return out;
}

/** Every line of every lake object. */
function lakeLines(dir = join(lakeDir, 'lake')): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(lakeLines(path));
    else out.push(...gunzipSync(readFileSync(path)).toString('utf8').split('\n').filter(Boolean));
  }
  return out;
}

/** A user's visit: two decisions, a click on the first, a click that names none, one naming a decision never made. */
async function visit(userId: string, tag: string): Promise<void> {
  const decide = () => api.call('POST', '/v1/decisions', { decisionPoint: DP, userId, context: { tag } });
  const first = await decide();
  expect(first.status).toBe(200);
  expect((await decide()).status).toBe(200);
  const events = [
    { eventId: `${tag}-1`, userId, decisionId: first.body.decisionId, type: 'click' },
    { eventId: `${tag}-2`, userId, type: 'click' },
    { eventId: `${tag}-3`, userId, decisionId: `${tag}-never-made`, type: 'click' },
  ];
  const sent = await api.call('POST', '/v1/events', { events });
  expect(sent.body.accepted).toBe(3);
}

describe('user ids and erasure', () => {
  let bobBefore: string[];

  it('keeps no raw user id in any table, stream record or lake object: only the pseudonym, in items that expire', async () => {
    await visit(ALICE, 'a');
    await visit(BOB, 'b');
    // The updater has applied everything (claims of both users' two counted clicks) and the lake has every record.
    await waitFor(async () => naming(await scan('DecisionsTable'), 'EVENT#').length >= 4);
    await waitFor(async () => lakeLines().length >= 10);
    const tables = [
      ...(await scan('StateTable')),
      ...(await scan('DecisionsTable')),
      ...(await scan('DeadLetterTable')),
    ];
    const everywhere = JSON.stringify([tables, await streamText(), lakeLines()]);
    for (const raw of [ALICE, BOB, 'alice', 'bob/42']) expect(everywhere).not.toContain(raw);
    expect(everywhere).toContain(alice);
    expect(everywhere).toContain(bob);
    // Each of those items expires (DynamoDB TTL, seconds), within the template's default retention: join items 90 days
    // after their last write (decisions: after their attribution window, one hour here), dead letters after 30.
    const nowS = Date.now() / 1000;
    const expiries = (items: Record<string, unknown>[]) =>
      [...naming(items, alice), ...naming(items, bob)].map((i) => i.expiresAt as number);
    for (const [construct, days] of [
      ['DecisionsTable', 90],
      ['DeadLetterTable', 30],
    ] as const) {
      const e = expiries(await scan(construct));
      expect(e.length).toBeGreaterThan(0);
      for (const t of e) {
        expect(t, construct).toBeGreaterThan(nowS + (days - 1) * 86_400);
        expect(t, construct).toBeLessThan(nowS + days * 86_400 + 3_600 + 60);
      }
    }
    bobBefore = [...naming(await scan('DecisionsTable'), bob), ...naming(await scan('DeadLetterTable'), bob)]
      .map(keyOf)
      .sort();
  });

  it('refuses an erasure without an unrestricted admin key, changing nothing', async () => {
    const created = await api.call('POST', '/v1/keys', { name: 'app', scopes: ['decide', 'feedback'] });
    const restricted = await api.call('POST', '/v1/keys', {
      name: 'dp admin',
      scopes: ['admin'],
      decisionPoints: [DP],
    });
    const path = `/v1/users/${encodeURIComponent(ALICE)}`;
    expect((await apiClient(stack.url, created.body.secret).call('DELETE', path)).status).toBe(403);
    expect((await apiClient(stack.url, restricted.body.secret).call('DELETE', path)).status).toBe(403);
    expect((await apiClient(stack.url, undefined).call('DELETE', path)).status).toBe(401);
    expect(naming(await scan('StateTable'), alice)).toEqual([]);
    expect(naming(await scan('DecisionsTable'), alice).length).toBeGreaterThan(0);
  });

  it('erases the user: no item of theirs is left in the tables but the erasure, and nobody else’s is touched', async () => {
    const before = { decisions: await scan('DecisionsTable'), deadLetters: await scan('DeadLetterTable') };
    const hers = naming(before.decisions, alice).map(keyOf);
    const res = await api.call('DELETE', `/v1/users/${encodeURIComponent(ALICE)}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      pseudonym: alice,
      erasedAt: expect.any(String),
      deleted: {
        users: hers.filter((k) => k.startsWith('USER#')).length,
        decisions: hers.filter((k) => !/^(USER|EVENT)#/.test(k)).length,
        eventClaims: hers.filter((k) => k.startsWith('EVENT#')).length,
        deadLetters: naming(before.deadLetters, alice).length,
      },
    });
    expect(res.body.deleted).toEqual({ users: 1, decisions: 2, eventClaims: 2, deadLetters: 1 });

    expect(naming(await scan('DecisionsTable'), alice)).toEqual([]);
    expect(naming(await scan('DeadLetterTable'), alice)).toEqual([]);
    expect(naming(await scan('StateTable'), alice)).toEqual([
      expect.objectContaining({ pk: 'ERASED', sk: alice, erasedAt: Date.parse(res.body.erasedAt) }),
    ]);
    const bobAfter = [...naming(await scan('DecisionsTable'), bob), ...naming(await scan('DeadLetterTable'), bob)];
    expect(bobAfter.map(keyOf).sort()).toEqual(bobBefore);
  });

  it('treats what the user does after the erasure as a new history, and the next retraining leaves out the rest', async () => {
    const erasedAt = (await scan('StateTable')).find((i) => i.sk === alice)!.erasedAt as number;
    await new Promise((r) => setTimeout(r, 5));
    await visit(ALICE, 'a2');
    await waitFor(async () => naming(await scan('DecisionsTable'), 'EVENT#').length >= 4);
    expect(naming(await scan('DecisionsTable'), alice).length).toBeGreaterThan(0);
    await waitFor(async () => lakeLines().length >= 15);

    const lines = lakeLines().map((l) => JSON.parse(l) as { kind: string; at?: number; receivedAt?: number });
    const hersBefore = lines.filter((r) => JSON.stringify(r).includes(alice) && (r.at ?? r.receivedAt)! <= erasedAt);
    const decisionsKept = lines.filter(
      (r) => r.kind === 'decision' && !(JSON.stringify(r).includes(alice) && r.at! <= erasedAt),
    );
    expect(hersBefore.length).toBe(5);
    expect(decisionsKept.length).toBe(4);

    // The template's state machine, its steps under their role, as the schedule runs it two days from now, when
    // today's decisions are before the cutoff and trained on (a run may not train as of a time still to come).
    const r = await stack.retrain(
      { decisionPoint: DP, minEvalRounds: 1 },
      { executionName: 'after-erasure', startTime: new Date(Date.now() + 2 * DAY) },
    );
    expect(r.status, r.error).toBe('SUCCEEDED');
    expect(r.output!.reduce!.counters.erasedRecords).toBe(hersBefore.length);
    expect(r.output!.reduce!.counters.decisionsUsed).toBe(decisionsKept.length);
  });
});
