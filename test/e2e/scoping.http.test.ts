/**
 * Feedback is scoped and bounded (docs/ARCHITECTURE.md §3, F8 and F9), over HTTP on the local twin: a feedback key
 * restricted to decision point A cannot move what decision point B learned, whatever its events say; a `value`
 * outside a decision point's reward range, or one it does not accept, is refused with a 4xx naming the bound where
 * the event names its decision point, and dead-lettered by the updater where it does not; every refusal is listed in
 * the dead letters an operator reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { type Api, apiClient, modelTotals, waitFor } from '../support/http.ts';

process.env.NBA_LOG_LEVEL = 'silent';
let stack: LocalStack;
let admin: Api;
let keyForA: Api;
const USERS = 10;
const decisionsOfB: { userId: string; decisionId: string }[] = [];

const totals = (dp: string) => modelTotals(admin, dp);
const deadLetters = async (code: string) =>
  (await admin.call('GET', `/v1/dead-letters?code=${code}&limit=1000`)).body.deadLetters as { reason: string }[];

beforeAll(async () => {
  stack = await startLocalStack({ apiKey: 'test-admin-key', context: { modelRefreshMs: 100 } });
  admin = apiClient(stack.url, stack.apiKey);
  for (const [dp, settings] of [
    ['scope-a', { rewards: { click: 1 } }],
    ['scope-b', { rewards: { click: 1, purchase: 20 } }],
    ['no-values', { rewards: { click: 1 }, acceptEventValues: false }],
  ] as const) {
    expect((await admin.call('PUT', `/v1/decision-points/${dp}`, settings)).status).toBe(201);
    expect((await admin.call('PUT', `/v1/decision-points/${dp}/actions/x`, { features: { k: 'x' } })).status).toBe(201);
  }
  const key = await admin.call('POST', '/v1/keys', {
    name: 'feedback for A',
    scopes: ['feedback'],
    decisionPoints: ['scope-a'],
  });
  expect(key.status).toBe(201);
  keyForA = apiClient(stack.url, key.body.secret);
  for (let i = 0; i < USERS; i++) {
    const userId = `b-user-${i}`;
    const r = await admin.call('POST', '/v1/decisions', { decisionPoint: 'scope-b', userId });
    expect(r.status).toBe(200);
    decisionsOfB.push({ userId, decisionId: r.body.decisionId });
  }
  await waitFor(async () => (await totals('scope-b')).impressions === USERS);
});
afterAll(async () => {
  await stack?.stop();
});

describe('a feedback key restricted to one decision point', () => {
  it('changes nothing another decision point learned, with or without decisionId, and each refusal is listed', async () => {
    const events = decisionsOfB.flatMap(({ userId, decisionId }, i) => [
      { eventId: `named-${i}`, userId, decisionId, type: 'click', value: 1 },
      { eventId: `unnamed-${i}`, userId, type: 'click' },
    ]);
    // Nothing at ingestion says these events are B's: they are accepted, and the updater refuses them.
    const sent = await keyForA.call('POST', '/v1/events', { events });
    expect(sent.status).toBe(202);
    expect(sent.body.accepted).toBe(2 * USERS);
    await waitFor(async () => (await deadLetters('out-of-scope')).length === USERS);
    await waitFor(async () => (await deadLetters('no-decision')).length === USERS);
    expect(await totals('scope-b')).toEqual({ impressions: USERS, rewardEvents: 0, rewardSum: 0 });
    expect((await deadLetters('out-of-scope'))[0]!.reason).toMatch(/decision point scope-b is outside its API key's/);

    // Naming B is refused at once: 403, since every event of the request was outside the key's decision points.
    const named = await keyForA.call('POST', '/v1/events', {
      events: [{ eventId: 'dp-named', userId: 'b-user-0', decisionPoint: 'scope-b', type: 'click' }],
    });
    expect(named.status).toBe(403);
    expect(named.body.error.message).toMatch(/decisionPoint: scope-b is outside this API key's decision points/);
  });
});

describe('reward bounds', () => {
  it('refuses a value outside the range with 400 naming the bound, and dead-letters one the API could not check', async () => {
    const { userId, decisionId } = decisionsOfB[0]!;
    const out = await admin.call('POST', '/v1/events', {
      events: [{ eventId: 'huge', userId, decisionId, decisionPoint: 'scope-b', type: 'purchase', value: 1_000_000 }],
    });
    expect(out.status).toBe(400);
    expect(out.body.error.message).toMatch(
      /value 1000000 is outside the reward range \[0, 20\] of decision point scope-b/,
    );

    // Without its decision point the API cannot know the range: the updater refuses it against the decision's.
    const unchecked = await admin.call('POST', '/v1/events', {
      events: [{ eventId: 'huge-unnamed', userId, decisionId, type: 'purchase', value: 1_000_000 }],
    });
    expect(unchecked.status).toBe(202);
    await waitFor(async () => (await deadLetters('value-out-of-range')).length === 1);
    // Within the range it counts.
    const fine = await admin.call('POST', '/v1/events', {
      events: [{ eventId: 'fine', userId, decisionId, decisionPoint: 'scope-b', type: 'purchase', value: 15 }],
    });
    expect(fine.body.accepted).toBe(1);
    await waitFor(async () => (await totals('scope-b')).rewardSum === 15);
    expect((await totals('scope-b')).rewardEvents).toBe(1);
  });

  it('refuses any value where the decision point does not accept them', async () => {
    const out = await admin.call('POST', '/v1/events', {
      events: [{ eventId: 'v', userId: 'someone', decisionPoint: 'no-values', type: 'click', value: 1 }],
    });
    expect(out.status).toBe(400);
    expect(out.body.error.message).toMatch(/does not accept event values/);
    const settings = await admin.call('PUT', '/v1/decision-points/bounded', { rewardBounds: { min: 5, max: 1 } });
    expect(settings.status).toBe(400);
    expect(settings.body.error.message).toMatch(/rewardBounds\.max: must be greater than min/);
  });
});
