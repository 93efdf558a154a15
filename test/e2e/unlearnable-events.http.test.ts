/**
 * Events that can never be learned are visible where the caller and the operator look (README "Sending feedback"):
 * what ingestion can know it refuses with a 4xx naming the cause (a stage on no ladder, a decision point that does
 * not exist); every 202 says which checks come later; and what the updater refuses later is counted by rule in the
 * model summary of the decision point it concerned (`deadLetters`), not only in the dead-letter list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { type Api, apiClient, waitFor } from '../support/http.ts';

process.env.NBA_LOG_LEVEL = 'silent';
let stack: LocalStack;
let api: Api;

const LADDER = ['prospect', 'lead', 'customer'];

beforeAll(async () => {
  stack = await startLocalStack({ apiKey: 'unlearnable-key', context: { modelRefreshMs: 100 } });
  api = apiClient(stack.url, stack.apiKey);
  const lifecycle = { objectives: [{ name: 'lifecycle', stages: LADDER }] };
  expect((await api.call('PUT', '/v1/decision-points/shop', lifecycle)).status).toBe(201);
  expect((await api.call('PUT', '/v1/decision-points/plain', {})).status).toBe(201);
  for (const dp of ['shop', 'plain']) {
    for (const id of ['x', 'y']) {
      expect((await api.call('PUT', `/v1/decision-points/${dp}/actions/${id}`, { features: { k: id } })).status).toBe(
        201,
      );
    }
  }
});
afterAll(async () => {
  await stack?.stop();
});

const send = (events: unknown[]) => api.call('POST', '/v1/events', { events });

describe('events that can never be learned', () => {
  it('are refused at ingestion where it can know: a stage on no ladder, a decision point that does not exist', async () => {
    const off = await send([{ eventId: 's1', userId: 'u1', type: 'stage', stage: 'vip', decisionPoint: 'shop' }]);
    expect(off.status).toBe(400);
    expect(off.body.error.message).toContain('"vip" is in no stage ladder of decision point shop');
    expect(off.body.error.message).toContain('prospect → lead → customer');
    const none = await send([{ eventId: 's2', userId: 'u1', type: 'stage', stage: 'lead', decisionPoint: 'plain' }]);
    expect(none.status).toBe(400);
    expect(none.body.error.message).toContain('decision point plain has no stage ladder');
    const ghost = await send([{ eventId: 'g1', userId: 'u1', type: 'click', decisionPoint: 'nowhere' }]);
    expect(ghost.status).toBe(400);
    expect(ghost.body.error.message).toContain('decisionPoint: nowhere does not exist');

    // A key limited to decision points checks a stage event against their ladders even when it names none.
    const key = await api.call('POST', '/v1/keys', {
      name: 'plain only',
      scopes: ['feedback'],
      decisionPoints: ['plain'],
    });
    expect(key.status).toBe(201);
    const limited = apiClient(stack.url, key.body.secret);
    const stage = await limited.call('POST', '/v1/events', {
      events: [{ eventId: 's3', userId: 'u1', type: 'stage', stage: 'lead' }],
    });
    expect(stage.status).toBe(400);
    expect(stage.body.error.message).toContain("in no stage ladder of this API key's decision points");

    // None of these reached the stream: nothing to dead-letter, nothing learned.
    const letters = await api.call('GET', '/v1/dead-letters?limit=1000');
    expect(letters.body.deadLetters).toEqual([]);
  });

  it('say on every 202 which checks come later, and are then counted by rule in the model summary', {
    timeout: 90_000,
  }, async () => {
    const d = await api.call('POST', '/v1/decisions', { decisionPoint: 'plain', userId: 'u2' });
    expect(d.status).toBe(200);
    const chosen = (d.body.chosen as string[])[0]!;
    const other = chosen === 'x' ? 'y' : 'x';
    // The decision is read before the events: an event naming another user's decision is refused at once only if
    // its decision was read first, and held otherwise (F7: the two users' records may be on different shards).
    const impressions = async () =>
      ((await api.call('GET', '/v1/decision-points/plain/model')).body.actions as { impressions: number }[]).reduce(
        (s, a) => s + a.impressions,
        0,
      );
    await waitFor(async () => (await impressions()) === 1, 60_000);
    const before = (await api.call('GET', '/v1/decision-points/plain/model')).body;
    expect(before.deadLetters).toEqual({ dead: {}, held: 0, complete: true });

    const r = await send([
      // The action the decision did not choose: refused by the updater (action-not-chosen), attributed to plain.
      { eventId: 'n1', userId: 'u2', type: 'click', decisionId: d.body.decisionId, actionId: other },
      // Another user's decision: refused (another-user), attributed to the decision's decision point.
      { eventId: 'n2', userId: 'u3', type: 'click', decisionId: d.body.decisionId },
      // A user with no decision in plain: refused (no-decision), attributed to the named decision point.
      { eventId: 'n3', userId: 'nobody', type: 'click', decisionPoint: 'plain' },
      // A decision never logged: held, waiting for it.
      { eventId: 'n4', userId: 'u2', type: 'click', decisionId: 'not-yet', decisionPoint: 'plain' },
    ]);
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(4);
    expect(r.body.later).toContain('dead letter');
    expect(r.body.later).toContain('GET /v1/dead-letters');

    await waitFor(async () => {
      const m = (await api.call('GET', '/v1/decision-points/plain/model')).body;
      return m.deadLetters.held === 1 && Object.values(m.deadLetters.dead as Record<string, number>).length === 3;
    }, 60_000);
    const after = (await api.call('GET', '/v1/decision-points/plain/model')).body;
    expect(after.deadLetters).toEqual({
      dead: { 'action-not-chosen': 1, 'another-user': 1, 'no-decision': 1 },
      held: 1,
      complete: true,
    });
    // Nothing of it concerns shop.
    expect((await api.call('GET', '/v1/decision-points/shop/model')).body.deadLetters).toEqual({
      dead: {},
      held: 0,
      complete: true,
    });
    // Nothing was learned from them: plain's one impression, no reward.
    const actions = after.actions as { impressions: number; rewardEvents: number }[];
    expect(actions.reduce((s, a) => s + a.impressions, 0)).toBe(1);
    expect(actions.reduce((s, a) => s + a.rewardEvents, 0)).toBe(0);
  });
});
