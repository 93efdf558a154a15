/**
 * Several slots over HTTP on the local stack, as the README tells a client to use them: `POST /v1/decisions` with
 * `"slots": 3` answers three actions, each with its propensity given the slots above; the client sends a click for
 * the slot its user clicked, naming that slot's `actionId`; every slot's impression and click is learned (through the
 * stream, the updater and the DynamoDB emulator), and `GET …/model` shows how much attention each slot gets as
 * `learned.examination`, learned from that feedback.
 *
 * The users (pure, seeded): slot j's action a is clicked with probability κ_j · ρ_a, κ = (1, 0.5, 0.2),
 * ρ = (0.6, 0.45, 0.3, 0.15): a position-based click model. ε = 0.3 spreads every action over every slot, so the
 * examination ratios are well identified from a few hundred decisions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { createRng } from '../../shared/core/random.ts';
import { type Api, apiClient, modelTotals, waitFor } from '../support/http.ts';

process.env.NBA_LOG_LEVEL = 'silent';
let stack: LocalStack;
let api: Api;
const DP = 'carousel';
const RHO: Record<string, number> = { a: 0.6, b: 0.45, c: 0.3, d: 0.15 };
const KAPPA = [1, 0.5, 0.2];
const DECISIONS = 600;

beforeAll(async () => {
  stack = await startLocalStack({ apiKey: 'test-admin-key', context: { modelRefreshMs: 100 } });
  api = apiClient(stack.url, stack.apiKey);
  const put = await api.call('PUT', `/v1/decision-points/${DP}`, {
    rewards: { click: 1 },
    exploration: { epsilon: 0.3 },
  });
  expect(put.status, JSON.stringify(put.body)).toBe(201);
  for (const id of Object.keys(RHO)) {
    expect((await api.call('PUT', `/v1/decision-points/${DP}/actions/${id}`, { features: {} })).status).toBe(201);
  }
});
afterAll(async () => {
  await stack?.stop();
});

describe('several slots over HTTP', () => {
  it("learns every slot's feedback and shows the slots' examination ratios in GET …/model", async () => {
    const rng = createRng('carousel-users');
    let clicks = 0;
    for (let i = 0; i < DECISIONS; i++) {
      const userId = `c-${i}`;
      const res = await api.call('POST', '/v1/decisions', { decisionPoint: DP, userId, context: {}, slots: 3 });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const slots = res.body.slots as { actionId: string; propensity: number }[];
      expect(slots.map((s) => s.actionId)).toEqual(res.body.chosen);
      expect(new Set(res.body.chosen).size).toBe(3);
      const events = slots.flatMap((s, j) =>
        rng.next() < KAPPA[j]! * RHO[s.actionId]!
          ? [{ eventId: `c-${i}-${j}`, userId, decisionId: res.body.decisionId, type: 'click', actionId: s.actionId }]
          : [],
      );
      if (events.length > 0) {
        const ev = await api.call('POST', '/v1/events', { events });
        expect(ev.body.accepted, JSON.stringify(ev.body)).toBe(events.length);
        clicks += events.length;
      }
    }
    await waitFor(async () => {
      const t = await modelTotals(api, DP);
      return t.impressions === 3 * DECISIONS && t.rewardEvents === clicks;
    }, 60_000);
    const model = await api.call('GET', `/v1/decision-points/${DP}/model`);
    expect(model.status).toBe(200);
    const kappa = model.body.learned.examination as number[];
    console.log(`learned examination over HTTP: ${kappa.map((k) => k.toFixed(3)).join(', ')} (world: 1, 0.5, 0.2)`);
    expect(kappa).toHaveLength(3);
    expect(kappa[0]).toBe(1);
    expect(Math.abs(kappa[1]! - KAPPA[1]!)).toBeLessThan(0.2);
    expect(Math.abs(kappa[2]! - KAPPA[2]!)).toBeLessThan(0.15);
  }, 180_000);
});
