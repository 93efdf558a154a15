/**
 * `GET /v1/decision-points/{dp}/learning` (issue 15: the console's curves) through the local stack, by a real HTTP
 * client, against docs/ARCHITECTURE.md §10.1 computed from what the client itself saw: each decision's propensity
 * (from its ranking), its candidate count (the live actions), and the reward of each click it reported. Clicks are
 * sent twice and some without a decision id (the README's pattern), which must not change the sums; an unknown
 * decision point is a 404 and a bad `hours` a 400.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { type Api, apiClient, waitFor } from '../support/http.ts';

process.env.NBA_LOG_LEVEL = 'silent';
let stack: LocalStack;
let api: Api;
const DP = 'series';
const ACTIONS = ['a', 'b', 'c'];

interface Window {
  decisions: number;
  rewardEvents: number;
  meanReward: number | null;
  uniformEstimate: number | null;
  explorationShare: number | null;
  meanDelaySeconds: number | null;
  sums: Record<string, number>;
}

const expected = { decisions: 0, randomness: 0, weightSum: 0, reward: 0, weightedReward: 0, rewardEvents: 0 };

beforeAll(async () => {
  stack = await startLocalStack({ apiKey: 'test-admin-key', context: { modelRefreshMs: 100 } });
  api = apiClient(stack.url, stack.apiKey);
  expect((await api.call('PUT', `/v1/decision-points/${DP}`, { rewards: { click: 1, buy: 5 } })).status).toBe(201);
  for (const id of ACTIONS) {
    expect((await api.call('PUT', `/v1/decision-points/${DP}/actions/${id}`, { features: { id } })).status).toBe(201);
  }
  for (let i = 0; i < 40; i++) {
    const userId = `u${i}`;
    const r = await api.call('POST', '/v1/decisions', { decisionPoint: DP, userId, context: { i: i % 4 } });
    expect(r.status).toBe(200);
    const chosen = r.body.chosen[0] as string;
    const p = (r.body.ranking as { actionId: string; probability: number }[]).find(
      (x) => x.actionId === chosen,
    )!.probability;
    const w = 1 / ACTIONS.length / p;
    expected.decisions += 1;
    expected.randomness += 1 - p;
    expected.weightSum += w;
    const type = i % 3 === 0 ? 'buy' : i % 3 === 1 ? 'click' : undefined;
    if (!type) continue;
    const reward = type === 'buy' ? 5 : 1;
    expected.reward += reward;
    expected.weightedReward += reward * w;
    expected.rewardEvents += 1;
    // Half with the decision id, half without (joined to the user's latest decision); each sent twice.
    const ev = { eventId: `e${i}`, userId, type, ...(i % 2 === 0 ? { decisionId: r.body.decisionId } : {}) };
    for (let k = 0; k < 2; k++) expect((await api.call('POST', '/v1/events', { events: [ev] })).status).toBe(202);
  }
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

describe('GET /v1/decision-points/{dp}/learning', () => {
  it('sums each window as §10.1 says, from what the client saw, duplicates counted once', async () => {
    let windows: Window[] = [];
    await waitFor(async () => {
      const r = await api.call('GET', `/v1/decision-points/${DP}/learning?hours=2`);
      expect(r.status).toBe(200);
      windows = r.body.windows;
      const sum = (k: string) => windows.reduce((s, w) => s + w.sums[k]!, 0);
      return sum('decisions') === expected.decisions && sum('rewardEvents') === expected.rewardEvents;
    }, 30_000);
    const sum = (k: string) => windows.reduce((s, w) => s + w.sums[k]!, 0);
    for (const k of Object.keys(expected) as (keyof typeof expected)[]) {
      expect(close(sum(k), expected[k]), `${k}: ${sum(k)} vs ${expected[k]}`).toBe(true);
    }
    expect(sum('weighted')).toBe(expected.decisions);
    expect(sum('lateEvents')).toBe(0);
    // The window length cuts the same sums differently and changes none of them.
    for (const resolution of ['minute', 'hour', 'day']) {
      const r = await api.call('GET', `/v1/decision-points/${DP}/learning?hours=48&resolution=${resolution}`);
      expect(r.body.resolution).toBe(resolution);
      const total = (k: string) => (r.body.windows as Window[]).reduce((t, w) => t + w.sums[k]!, 0);
      for (const k of Object.keys(expected) as (keyof typeof expected)[])
        expect(close(total(k), expected[k])).toBe(true);
    }
    for (const w of windows) {
      expect(close(w.meanReward!, w.sums.reward! / w.decisions)).toBe(true);
      expect(close(w.uniformEstimate!, w.sums.weightedReward! / w.sums.weightSum!)).toBe(true);
      expect(close(w.explorationShare!, w.sums.randomness! / w.decisions)).toBe(true);
      expect(w.meanDelaySeconds).toBeGreaterThanOrEqual(0);
    }
  });

  it('answers 404 for an unknown decision point and 400 naming a bad hours value', async () => {
    expect((await api.call('GET', '/v1/decision-points/nope/learning')).status).toBe(404);
    const bad = await api.call('GET', `/v1/decision-points/${DP}/learning?hours=0`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('hours');
    const many = await api.call('GET', `/v1/decision-points/${DP}/learning?hours=99999`);
    expect(many.status).toBe(400);
    const minutes = await api.call('GET', `/v1/decision-points/${DP}/learning?hours=100&resolution=minute`);
    expect(minutes.status).toBe(400);
    expect(minutes.body.error.message).toContain('minutes are kept 3 days');
    const weird = await api.call('GET', `/v1/decision-points/${DP}/learning?resolution=week`);
    expect(weird.status).toBe(400);
  });
});
