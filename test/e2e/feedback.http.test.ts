/**
 * The README's client pattern over HTTP on the local stack (docs/ARCHITECTURE.md §3): a decision, a click that names
 * no decision, the user's next decision at once (the click opened a page that asks for one), and a client retry of
 * the click (same eventId, no timestamp) after that next decision. Every click must count exactly once, for the
 * first decision's action (F2b, F3), and nothing may be dead-lettered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as deadLetters } from '../../cli/dead-letters.ts';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { runCli } from '../support/cli.ts';
import { type Api, apiClient, waitFor } from '../support/http.ts';

process.env.NBA_LOG_LEVEL = 'silent';
let stack: LocalStack;
let api: Api;
const DP = 'clicks';
const USERS = 40;

beforeAll(async () => {
  stack = await startLocalStack({ apiKey: 'test-admin-key', context: { modelRefreshMs: 100 } });
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

  it('lists an event it cannot credit with its rule, and replays it through the CLI (refused again: still no decision)', async () => {
    const cli = (...args: string[]) => runCli(deadLetters, [...args, '--url', stack.url, '--key', stack.apiKey]);
    const click = { eventId: 'orphan-1', userId: 'nobody-yet', type: 'click', decisionPoint: DP };
    expect((await api.call('POST', '/v1/events', { events: [click] })).body.accepted).toBe(1);
    await waitFor(
      async () => (await api.call('GET', '/v1/dead-letters?code=no-decision')).body.deadLetters.length === 1,
    );
    const listed = await cli('list', '--decision-point', DP, '--reason', 'no-decision', '--json');
    expect(listed.code).toBe(0);
    const [letter] = JSON.parse(listed.out).deadLetters;
    expect(letter).toMatchObject({ status: 'dead', code: 'no-decision' });
    expect(letter.reason).toMatch(/orphan-1: the user has no decision in clicks at or before the event's time/);

    const replayed = await cli('replay', '--decision-point', DP);
    expect(replayed).toMatchObject({ code: 0, err: '' });
    expect(replayed.out).toMatch(/replayed 1 record/);
    // The user still has no decision before the click: the replayed record is refused again, as a new entry.
    await waitFor(
      async () => (await api.call('GET', '/v1/dead-letters?code=no-decision')).body.deadLetters.length === 2,
    );
    const statuses = (await api.call('GET', '/v1/dead-letters?code=no-decision')).body.deadLetters.map(
      (d: { status: string }) => d.status,
    );
    expect(statuses.sort()).toEqual(['dead', 'replayed']);

    // An event naming a decision the engine has not read (yet) waits for it, listed as held.
    const early = { eventId: 'early-1', userId: 'reader-0', type: 'click', decisionId: 'not-logged-yet' };
    expect((await api.call('POST', '/v1/events', { events: [early] })).body.accepted).toBe(1);
    await waitFor(async () => (await api.call('GET', '/v1/dead-letters?status=held')).body.deadLetters.length === 1);
    const [held] = (await api.call('GET', '/v1/dead-letters?status=held')).body.deadLetters;
    expect(held).toMatchObject({ status: 'held', code: 'held', reason: 'waiting for decision not-logged-yet' });

    const bad = await cli('list', '--status', 'gone');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/status/);
    const backwards = await cli('replay-range', '--shard', 'shardId-000000000000', '--from', '9', '--to', '1');
    expect(backwards.code).toBe(2);
    expect(backwards.err).toMatch(/to: must not be before from/);
    const missing = await cli('replay-range', '--shard', 'shardId-000000000000');
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/needs --shard, --from and --to/);
  });
});
