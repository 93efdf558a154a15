/**
 * A user profile of hundreds of features, over HTTP on the local stack (issue 13, item 6; the limits are the settings
 * schema's: contextDim ≤ 256, up to 512 named features, dense arrays of at most contextDim − 1): a decision point of
 * contextDim 256 × actionDim 8 (beyond the old contextDim × actionDim ≤ 256, so its shared part is sketched) decides
 * with a probability per candidate (summing to 1; their exactness is the Monte Carlo tests' subject), learns every
 * impression and click through the real stream, updater and the DynamoDB emulator (an action's statistics item is
 * ≈ 260 KB at d = 256, within the 400 KB item limit), and refuses what does not fit with a message naming the limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { createRng } from '../../shared/core/random.ts';
import { type Api, apiClient, modelTotals, waitFor } from '../support/http.ts';

process.env.NBA_LOG_LEVEL = 'silent';
let stack: LocalStack;
let api: Api;
const DP = 'profiles';
const USERS = 24;
const FEATURES = 400;

beforeAll(async () => {
  stack = await startLocalStack({ apiKey: 'test-admin-key', context: { modelRefreshMs: 100 } });
  api = apiClient(stack.url, stack.apiKey);
  const put = await api.call('PUT', `/v1/decision-points/${DP}`, {
    contextDim: 256,
    actionDim: 8,
    rewards: { click: 1 },
  });
  expect(put.status, JSON.stringify(put.body)).toBe(201);
  for (const id of ['a', 'b', 'c']) {
    expect((await api.call('PUT', `/v1/decision-points/${DP}/actions/${id}`, { features: { id } })).status).toBe(201);
  }
});
afterAll(async () => {
  await stack?.stop();
});

function profile(seed: number, count: number): Record<string, number | string> {
  const r = createRng(`profile-${seed}`);
  const out: Record<string, number | string> = {};
  for (let i = 0; i < count; i++) out[`f${i}`] = i % 10 === 0 ? `c${r.int(5)}` : Math.round(r.normal() * 100) / 100;
  return out;
}

/** The chosen action has a positive probability and the ranking's probabilities sum to 1 (with ε ≥ 0.01 each ≥ ε/3). */
function expectPropensities(body: { chosen: string[]; ranking: { actionId: string; probability: number }[] }): void {
  const sum = body.ranking.reduce((s, e) => s + e.probability, 0);
  expect(sum).toBeCloseTo(1, 9);
  for (const e of body.ranking) expect(e.probability).toBeGreaterThanOrEqual(0.01 / 3 - 1e-12);
  expect(body.ranking.find((e) => e.actionId === body.chosen[0])?.probability).toBeGreaterThan(0);
}

describe('contexts of hundreds of features', () => {
  it('decides with probabilities that sum to 1 and learns every impression and click, at contextDim 256 × actionDim 8', async () => {
    let clicks = 0;
    for (let i = 0; i < USERS; i++) {
      const userId = `wide-${i}`;
      const res = await api.call('POST', '/v1/decisions', { decisionPoint: DP, userId, context: profile(i, FEATURES) });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expectPropensities(res.body);
      if (i % 2 === 0) {
        clicks++;
        const ev = { events: [{ eventId: `wide-click-${i}`, userId, decisionId: res.body.decisionId, type: 'click' }] };
        expect((await api.call('POST', '/v1/events', ev)).body.accepted).toBe(1);
      }
    }
    const totals = async () => {
      const t = await modelTotals(api, DP);
      return { impressions: t.impressions, rewards: t.rewardEvents };
    };
    await waitFor(async () => {
      const t = await totals();
      return t.impressions === USERS && t.rewards === clicks;
    }, 30_000);
    // The learned model serves: a decision after the feedback still answers with a propensity.
    const after = await api.call('POST', '/v1/decisions', {
      decisionPoint: DP,
      userId: 'wide-after',
      context: profile(999, FEATURES),
    });
    expect(after.status).toBe(200);
    expectPropensities(after.body);
    const dead = await api.call('GET', '/v1/dead-letters');
    expect(dead.status).toBe(200);
    expect(dead.body.deadLetters).toEqual([]);
  });

  it('takes a dense context of contextDim − 1 numbers and refuses one more, and more than 512 named features', async () => {
    const dense = Array.from({ length: 255 }, (_, i) => Math.sin(i));
    const ok = await api.call('POST', '/v1/decisions', { decisionPoint: DP, userId: 'dense', context: dense });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const long = await api.call('POST', '/v1/decisions', {
      decisionPoint: DP,
      userId: 'dense',
      context: [...dense, 1],
    });
    expect(long.status).toBe(400);
    expect(JSON.stringify(long.body)).toMatch(/256|255/);
    const many = await api.call('POST', '/v1/decisions', {
      decisionPoint: DP,
      userId: 'many',
      context: profile(1, 513),
    });
    expect(many.status).toBe(400);
    expect(JSON.stringify(many.body)).toContain('at most 512 features');
  });

  it('refuses contextDim 257 naming the limit', async () => {
    const r = await api.call('PUT', '/v1/decision-points/too-wide', { contextDim: 257 });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toMatch(/contextDim/);
    expect(JSON.stringify(r.body)).toMatch(/256/);
  });
});
