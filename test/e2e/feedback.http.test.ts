/**
 * The README's client pattern over HTTP on the local stack (docs/ARCHITECTURE.md §3): a decision, a click that names
 * no decision, the user's next decision at once (the click opened a page that asks for one), and a client retry of
 * the click (same eventId, no timestamp) after that next decision. Every click must count exactly once, for the
 * first decision's action (F2b, F3), and nothing may be dead-lettered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { type Api, apiClient, waitFor } from '../support/http.ts';

process.env.NBA_LOG_LEVEL = 'silent';
let stack: LocalStack;
let api: Api;
const DP = 'clicks';
const USERS = 40;

beforeAll(async () => {
  stack = await startLocalStack({ apiKey: 'test-admin-key', modelRefreshMs: 100 });
  api = apiClient(stack.url, stack.apiKey);
  expect((await api.call('PUT', `/v1/decision-points/${DP}`, { rewards: { click: 1 } })).status).toBe(201);
  for (const id of ['a', 'b', 'c']) {
    expect((await api.call('PUT', `/v1/decision-points/${DP}/actions/${id}`, { features: { id } })).status).toBe(201);
  }
});
afterAll(async () => {
  await stack?.stop();
});

interface ActionFigures {
  actionId: string;
  impressions: number;
  rewardEvents: number;
  rewardSum: number;
}

const model = async (): Promise<Map<string, ActionFigures>> => {
  const r = await api.call('GET', `/v1/decision-points/${DP}/model`);
  expect(r.status).toBe(200);
  return new Map((r.body.actions as ActionFigures[]).map((a) => [a.actionId, a]));
};

describe('feedback without a decisionId, as the README shows it', () => {
  it('credits every click once to the decision it followed, despite the next decision and the retry', async () => {
    const firstChoice = new Map<string, number>();
    await Promise.all(
      Array.from({ length: USERS }, async (_, i) => {
        const userId = `reader-${i}`;
        const first = await api.call('POST', '/v1/decisions', { decisionPoint: DP, userId, context: { n: i } });
        expect(first.status).toBe(200);
        const action = first.body.chosen[0] as string;
        firstChoice.set(action, (firstChoice.get(action) ?? 0) + 1);
        const click = { events: [{ eventId: `click-${i}`, userId, type: 'click' }] };
        expect((await api.call('POST', '/v1/events', click)).body.accepted).toBe(1);
        expect((await api.call('POST', '/v1/decisions', { decisionPoint: DP, userId, context: { n: i } })).status).toBe(
          200,
        );
        // The client did not see the first answer in time and sends the click again: it must count once.
        expect((await api.call('POST', '/v1/events', click)).body.accepted).toBe(1);
      }),
    );

    const impressions = (m: Map<string, ActionFigures>) => [...m.values()].reduce((s, a) => s + a.impressions, 0);
    const rewards = (m: Map<string, ActionFigures>) => [...m.values()].reduce((s, a) => s + a.rewardEvents, 0);
    await waitFor(async () => {
      const m = await model();
      return impressions(m) === 2 * USERS && rewards(m) === USERS;
    }, 30_000);
    // Every record has been read by the updater: a late double count would show now.
    await waitFor(async () => stack.counters.records >= 4 * USERS, 30_000);
    await new Promise((r) => setTimeout(r, 500));

    const m = await model();
    expect(impressions(m)).toBe(2 * USERS);
    expect(rewards(m)).toBe(USERS);
    for (const [actionId, count] of firstChoice) {
      expect(m.get(actionId)?.rewardSum, `clicks credited to ${actionId}`).toBe(count);
    }
    const dead = await api.call('GET', '/v1/dead-letters');
    expect(dead.status).toBe(200);
    expect(dead.body.deadLetters).toEqual([]);
  });
});
