/**
 * `POST /v1/decisions:batch` (issue 18, item 4) through the local stack, by a real HTTP client, against what the
 * README and the API document promise:
 * - each decided item is the decision `POST /v1/decisions` makes for the same request at the same model: the same
 *   probability for every candidate (so the same exact propensity for whichever action is chosen), the same
 *   `modelVersion`; each has its own decision id;
 * - a bad item (malformed, unknown decision point, unknown candidate, nothing eligible, outside the key's decision
 *   points) is answered alone with its reason and logs nothing; the others are decided;
 * - the whole call is one put on the decision stream (the twin's IAM ledger counts the decisions function's
 *   PutRecords), and every decided item is learned once: impressions grow by exactly the number decided, and feedback
 *   on a batch decision, sent twice, counts once;
 * - a call with no valid item, or more than 100, is a 4xx naming the problem.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { type Api, apiClient, modelTotals, waitFor } from '../support/http.ts';

process.env.NBA_LOG_LEVEL = 'silent';
let stack: LocalStack;
let api: Api;
const DP = 'bulk';
const ACTIONS = ['a', 'b', 'c', 'd'];

interface Decision {
  decisionId: string;
  chosen: string[];
  modelVersion: string;
  ranking: { actionId: string; probability: number }[];
}

const totals = async () => {
  const { impressions, rewardEvents } = await modelTotals(api, DP);
  return { impressions, rewardEvents };
};

const putRecords = () =>
  stack.iam
    .entries()
    .filter((c) => c.principal === 'DecisionsFunction' && c.action === 'kinesis:PutRecords')
    .reduce((n, c) => n + c.count, 0);

const probabilities = (d: Decision) =>
  Object.fromEntries(
    [...d.ranking].sort((x, y) => x.actionId.localeCompare(y.actionId)).map((r) => [r.actionId, r.probability]),
  );

beforeAll(async () => {
  stack = await startLocalStack({ apiKey: 'test-admin-key', context: { modelRefreshMs: 100 } });
  api = apiClient(stack.url, stack.apiKey);
  expect((await api.call('PUT', `/v1/decision-points/${DP}`, { rewards: { click: 1 } })).status).toBe(201);
  for (const id of ACTIONS) {
    expect((await api.call('PUT', `/v1/decision-points/${DP}/actions/${id}`, { features: { id } })).status).toBe(201);
  }
  // A model that is not the prior: users of segment x click on a, users of segment y on c.
  let events = 0;
  for (let i = 0; i < 60; i++) {
    const segment = i % 2 === 0 ? 'x' : 'y';
    const r = await api.call('POST', '/v1/decisions', { decisionPoint: DP, userId: `t${i}`, context: { segment } });
    expect(r.status).toBe(200);
    if (r.body.chosen[0] === (segment === 'x' ? 'a' : 'c')) {
      events++;
      const ev = { eventId: `t${i}`, userId: `t${i}`, decisionId: r.body.decisionId, type: 'click' };
      expect((await api.call('POST', '/v1/events', { events: [ev] })).status).toBe(202);
    }
  }
  await waitFor(async () => {
    const t = await totals();
    return t.impressions === 60 && t.rewardEvents === events;
  }, 30_000);
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe('POST /v1/decisions:batch', () => {
  it('decides each request as POST /v1/decisions does at the same model, with one stream put for all', async () => {
    const requests = Array.from({ length: 20 }, (_, i) => ({
      decisionPoint: DP,
      userId: `same-${i}`,
      context: { segment: i % 2 === 0 ? 'x' : 'y', i: i % 3 },
      ...(i % 5 === 4 ? { exclude: ['b'] } : {}),
      ...(i % 7 === 6 ? { candidates: ['a', 'c', 'd'], slots: 2 } : {}),
    }));
    // The model may still move (a snapshot in flight): compare only within one model version. Every attempt's
    // decisions are logged, so the impressions expected add up over the attempts.
    const before = await totals();
    let shown = 0;
    await waitFor(async () => {
      const puts = putRecords();
      const batch = await api.call('POST', '/v1/decisions:batch', { requests, ranking: true });
      expect(batch.status, JSON.stringify(batch.body)).toBe(200);
      expect(putRecords()).toBe(puts + 1);
      const results = batch.body.results as ({ index: number; status: string } & Decision)[];
      expect(results.map((r) => [r.index, r.status])).toEqual(requests.map((_, i) => [i, 'decided']));
      expect(new Set(results.map((r) => r.decisionId)).size).toBe(requests.length);
      const singles: Decision[] = [];
      for (const req of requests) singles.push((await api.call('POST', '/v1/decisions', req)).body as Decision);
      shown += [...results, ...singles].reduce((n, r) => n + r.chosen.length, 0);
      const versions = new Set([...results, ...singles].map((d) => d.modelVersion));
      if (versions.size > 1) return false;
      results.forEach((r, i) => {
        expect(probabilities(r), `requests[${i}]`).toEqual(probabilities(singles[i]!));
        expect((r as unknown as { propensity: number }).propensity).toBe(probabilities(r)[r.chosen[0]!]);
        expect(r.chosen.length).toBe(requests[i]!.slots ?? 1);
        for (const a of r.chosen) expect(probabilities(r)[a]).toBeGreaterThan(0);
      });
      // Not the prior: the two segments are served differently.
      expect(probabilities(results[0]!)).not.toEqual(probabilities(results[1]!));
      // Every decision of both calls is logged and learned, once (an impression per chosen action).
      await waitFor(async () => (await totals()).impressions >= before.impressions + shown).catch(() => undefined);
      expect((await totals()).impressions).toBe(before.impressions + shown);
      return true;
    }, 30_000);
  });

  it('answers each bad item alone, logs nothing for it, and learns feedback on a batch decision once', async () => {
    const before = await totals();
    const puts = putRecords();
    const res = await api.call('POST', '/v1/decisions:batch', {
      requests: [
        { decisionPoint: DP, userId: 'ok-1', context: { segment: 'x' } },
        { decisionPoint: DP, userId: 'bad-1', context: { segment: 'x' }, colour: 'red' },
        { decisionPoint: 'no-such-dp', userId: 'bad-2' },
        { decisionPoint: DP, userId: 'bad-3', candidates: ['a', 'zzz'] },
        { decisionPoint: DP, userId: 'bad-4', exclude: ACTIONS },
        { decisionPoint: DP, userId: 'ok-2', context: { segment: 'y' } },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ decided: 2, rejected: 4, failed: 0 });
    const results = res.body.results as { index: number; status: string; code?: string; error?: string }[];
    expect(results.map((r) => [r.index, r.status, r.code])).toEqual([
      [0, 'decided', undefined],
      [1, 'rejected', 'invalid'],
      [2, 'rejected', 'not-found'],
      [3, 'rejected', 'invalid'],
      [4, 'rejected', 'unprocessable'],
      [5, 'decided', undefined],
    ]);
    expect(results[1]!.error).toMatch(/colour/);
    expect(results[2]!.error).toMatch(/no-such-dp/);
    expect(results[3]!.error).toMatch(/zzz/);
    expect(results[4]!.error).toMatch(/excluded/);
    expect(putRecords()).toBe(puts + 1);
    await waitFor(async () => (await totals()).impressions === before.impressions + 2);

    // Feedback on a batch decision, delivered twice, is one reward.
    const ok = res.body.results[0] as Decision;
    const ev = { eventId: 'bulk-click', userId: 'ok-1', decisionId: ok.decisionId, type: 'click' };
    for (let i = 0; i < 2; i++) expect((await api.call('POST', '/v1/events', { events: [ev] })).status).toBe(202);
    await waitFor(async () => (await totals()).rewardEvents === before.rewardEvents + 1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await totals()).toEqual({ impressions: before.impressions + 2, rewardEvents: before.rewardEvents + 1 });
  });

  it('answers the propensity without the ranking by default, and refuses rankings too big to answer, deciding nothing', async () => {
    const plain = await api.call('POST', '/v1/decisions:batch', { requests: [{ decisionPoint: DP, userId: 'p1' }] });
    expect(plain.status).toBe(200);
    expect(plain.body.results[0].ranking).toBeUndefined();
    expect(plain.body.results[0].propensity).toBeGreaterThan(0);
    const actions = Array.from({ length: 600 }, (_, i) => ({ actionId: `w${i}`, features: { i } }));
    expect((await api.call('PUT', '/v1/decision-points/wide', { rewards: { click: 1 } })).status).toBe(201);
    expect((await api.call('POST', '/v1/decision-points/wide/actions:batch', { actions })).status).toBe(200);
    await waitFor(
      async () => (await api.call('POST', '/v1/decisions', { decisionPoint: 'wide', userId: 'x' })).status === 200,
    );
    const puts = putRecords();
    const requests = Array.from({ length: 100 }, (_, i) => ({ decisionPoint: 'wide', userId: `w${i}` }));
    const big = await api.call('POST', '/v1/decisions:batch', { requests, ranking: true });
    expect(big.status).toBe(400);
    expect(big.body.error.message).toMatch(/60000 entries \(at most 50000/);
    expect(putRecords()).toBe(puts);
    expect((await api.call('POST', '/v1/decisions:batch', { requests })).status).toBe(200);
  });

  it('refuses a call with no valid item, more than 100 items, or only items outside the key', async () => {
    const none = await api.call('POST', '/v1/decisions:batch', { requests: [{ decisionPoint: DP }] });
    expect(none.status).toBe(400);
    expect(none.body.error.message).toMatch(/requests\[0\].*userId/);
    const many = Array.from({ length: 101 }, (_, i) => ({ decisionPoint: DP, userId: `m${i}` }));
    const tooMany = await api.call('POST', '/v1/decisions:batch', { requests: many });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.message).toMatch(/requests.*100/);
    const key = await api.call('POST', '/v1/keys', { name: 'other dp', scopes: ['decide'], decisionPoints: ['other'] });
    expect(key.status).toBe(201);
    const scoped = apiClient(stack.url, key.body.secret);
    const forbidden = await scoped.call('POST', '/v1/decisions:batch', {
      requests: [{ decisionPoint: DP, userId: 'f' }],
    });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.message).toMatch(/outside this API key/);
  });
});
