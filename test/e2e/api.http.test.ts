import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { physicalName } from '../../local/twin/template.ts';
import { LIMITS } from '../../shared/core/schemas.ts';
import { type Api, apiClient, waitFor } from '../support/http.ts';

process.env.NBA_LOG_LEVEL = 'silent';
let stack: LocalStack;
let api: Api;

beforeAll(async () => {
  stack = await startLocalStack({ apiKey: 'test-admin-key', context: { modelRefreshMs: 100 } });
  api = apiClient(stack.url, stack.apiKey);
  expect((await api.call('PUT', '/v1/decision-points/home', {})).status).toBe(201);
  for (const [id, features] of Object.entries({
    a: { color: 'red' },
    b: { color: 'blue' },
    c: { color: 'green', price: 3 },
  })) {
    expect((await api.call('PUT', `/v1/decision-points/home/actions/${id}`, { features })).status).toBe(201);
  }
});
afterAll(async () => {
  await stack?.stop();
});

const decide = (body: Record<string, unknown>) =>
  api.call('POST', '/v1/decisions', { decisionPoint: 'home', userId: 'u1', ...body });

describe('authentication', () => {
  it('rejects a request without an API key or with a wrong one with 401, and changes nothing', async () => {
    const anonymous = apiClient(stack.url, undefined);
    const wrong = apiClient(stack.url, 'not-the-key');
    for (const client of [anonymous, wrong]) {
      const put = await client.call('PUT', '/v1/decision-points/intruder', {});
      expect(put.status).toBe(401);
      expect(put.body.error.code).toBe('unauthorized');
      expect((await client.call('POST', '/v1/decisions', { decisionPoint: 'home', userId: 'x' })).status).toBe(401);
    }
    expect((await api.call('GET', '/v1/decision-points/intruder')).status).toBe(404);
  });
});

describe('health and unknown paths', () => {
  it('answers GET /v1/health without a key, and an unknown path with where the API is', async () => {
    const anonymous = apiClient(stack.url, undefined);
    const health = await anonymous.call('GET', '/v1/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', checks: { stateTable: 'ok' } });
    // Public means this route only: everything else still needs a key.
    expect((await anonymous.call('GET', '/v1/decision-points')).status).toBe(401);
    const root = await anonymous.call('GET', '/');
    expect(root.status).toBe(404);
    expect(root.body.error.message).toContain('GET /v1/health');
  });
});

describe('body limit', () => {
  it('answers 413 naming the limit, whether the function or the gateway refuses the body', async () => {
    for (const size of [LIMITS.maxBodyBytes + 100, LIMITS.maxBodyBytes * 5]) {
      const body = JSON.stringify({ decisionPoint: 'home', userId: 'u1', context: { pad: 'x'.repeat(size) } });
      const r = await api.call('POST', '/v1/decisions', body);
      expect(r.status, `${size} bytes`).toBe(413);
      expect(r.body.error.message).toContain(`exceeds ${LIMITS.maxBodyBytes} bytes`);
    }
  });
});

describe('decision points and catalog', () => {
  it('creates a decision point from {} with every default filled in, and what is learned left out', async () => {
    const got = await api.call('GET', '/v1/decision-points/home');
    expect(got.status).toBe(200);
    expect(got.body.settings).toMatchObject({
      contextDim: 16,
      actionDim: 8,
      attributionWindowSeconds: 3600,
      exploration: {},
      rewards: {},
      priors: {},
    });
  });

  it('rejects invalid settings with a message naming the field', async () => {
    const r = await api.call('PUT', '/v1/decision-points/bad', { exploration: { epsilon: 2 }, colour: 1 });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/exploration\.epsilon/);
    expect(r.body.error.message).toMatch(/colour/);
    expect((await api.call('GET', '/v1/decision-points/bad')).status).toBe(404);
  });

  it('lists, reads and retires actions; a retired action keeps its record', async () => {
    expect(
      (await api.call('PUT', '/v1/decision-points/home/actions/temp', { features: { color: 'red' } })).status,
    ).toBe(201);
    const retired = await api.call('DELETE', '/v1/decision-points/home/actions/temp');
    expect(retired.status).toBe(200);
    expect(retired.body.status).toBe('retired');
    const list = await api.call('GET', '/v1/decision-points/home/actions?status=live');
    expect(list.body.actions.map((a: { actionId: string }) => a.actionId).sort()).toEqual(['a', 'b', 'c']);
    expect((await api.call('GET', '/v1/decision-points/home/actions/temp')).body.status).toBe('retired');
  });
});

describe('POST /v1/decisions', () => {
  it('returns one action per slot, a full ranking whose probabilities sum to 1, and the model version', async () => {
    const r = await decide({ context: { segment: 'new', age: 31, vip: false }, slots: 2 });
    expect(r.status).toBe(200);
    expect(r.body.chosen).toHaveLength(2);
    expect(new Set(r.body.chosen).size).toBe(2);
    expect(r.body.ranking.map((e: { actionId: string }) => e.actionId).sort()).toEqual(['a', 'b', 'c']);
    const sum = r.body.ranking.reduce((s: number, e: { probability: number }) => s + e.probability, 0);
    expect(sum).toBeCloseTo(1, 9);
    for (const e of r.body.ranking) expect(e.probability).toBeGreaterThanOrEqual(0.05 / 3 - 1e-12);
    expect(typeof r.body.decisionId).toBe('string');
    expect(typeof r.body.modelVersion).toBe('string');
  });

  it('honours candidates and exclude, and never serves a retired action even when named', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await decide({ candidates: ['a', 'b', 'temp'], exclude: ['a'] });
      expect(r.status).toBe(200);
      expect(r.body.chosen).toEqual(['b']);
      expect(r.body.ranking).toHaveLength(1);
    }
  });

  it('answers 4xx with a clear message for bad input', async () => {
    const cases: [Record<string, unknown> | string, number, RegExp][] = [
      [{ context: { age: 'x'.repeat(300) } }, 400, /context\.age/],
      [{ candidates: ['nope'] }, 400, /unknown action nope/],
      [{ slots: 0 }, 400, /slots/],
      [{ extra: true }, 400, /extra/],
      [{ decisionPoint: 'missing' }, 404, /missing does not exist/],
      [{ candidates: ['a'], exclude: ['a'] }, 422, /no eligible candidate: every live action is excluded/],
      ['{"decisionPoint": ', 400, /not valid JSON/],
    ];
    for (const [body, status, message] of cases) {
      const r = typeof body === 'string' ? await api.call('POST', '/v1/decisions', body) : await decide(body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.body.error.message).toMatch(message);
    }
    expect((await api.call('GET', '/v1/decisions')).status).toBe(405);
    expect((await api.call('GET', '/v1/nothing-here')).status).toBe(404);
  });
});

describe('POST /v1/events', () => {
  it('accepts valid events with 202 and reports each invalid one, and the valid ones are learned', async () => {
    const d = await decide({ userId: 'eve', candidates: ['c'] });
    const r = await api.call('POST', '/v1/events', {
      events: [
        { eventId: 'ev-1', userId: 'eve', decisionId: d.body.decisionId, type: 'click' },
        { eventId: 'ev-2', userId: 'eve', type: 'click', value: 'much' },
        { userId: 'eve', type: 'click' },
      ],
    });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ accepted: 1, rejected: 2, failed: 0 });
    expect(r.body.results[1]).toMatchObject({ index: 1, eventId: 'ev-2', status: 'rejected' });
    expect(r.body.results[1].error).toMatch(/value/);
    expect(r.body.results[2].error).toMatch(/eventId/);
    await waitFor(async () => {
      const m = await api.call('GET', '/v1/decision-points/home/model');
      const c = m.body.actions.find((a: { actionId: string }) => a.actionId === 'c');
      return c.rewardEvents === 1 && c.impressions >= 1;
    });
  });

  it('counts an event sent twice once (the same eventId is safe to resend)', async () => {
    const d = await decide({ userId: 'dup', candidates: ['b'] });
    const event = { eventId: 'ev-dup', userId: 'dup', decisionId: d.body.decisionId, type: 'click' };
    expect((await api.call('POST', '/v1/events', { events: [event] })).status).toBe(202);
    expect((await api.call('POST', '/v1/events', { events: [event] })).status).toBe(202);
    // A later event marks when both copies have been through the updater.
    const later = { ...event, eventId: 'ev-dup-later' };
    expect((await api.call('POST', '/v1/events', { events: [later] })).status).toBe(202);
    const rewards = async () =>
      (await api.call('GET', '/v1/decision-points/home/model')).body.actions.find(
        (a: { actionId: string }) => a.actionId === 'b',
      ).rewardEvents;
    await waitFor(async () => (await rewards()) >= 2);
    expect(await rewards()).toBe(2);
  });

  it('shows an event for a decision it never saw among the dead letters, with the reason', async () => {
    const event = { eventId: 'ev-orphan', userId: 'orphan', decisionId: 'no-such-decision', type: 'click' };
    expect((await api.call('POST', '/v1/events', { events: [event] })).status).toBe(202);
    await waitFor(async () => {
      const r = await api.call('GET', '/v1/dead-letters');
      expect(r.status).toBe(200);
      return JSON.stringify(r.body.deadLetters).includes('no-such-decision');
    });
  });

  it('rejects a request with no valid event with 400', async () => {
    const r = await api.call('POST', '/v1/events', { events: [{ nope: 1 }] });
    expect(r.status).toBe(400);
    expect((await api.call('POST', '/v1/events', { events: [] })).status).toBe(400);
  });
});

describe('POST /v1/dead-letters/replay-range', () => {
  /** Where a record whose data contains `marker` landed on the stream (read with the emulator's own client). */
  async function locate(marker: string): Promise<{ shardId: string; seq: string } | undefined> {
    const { kinesis } = stack.emulators;
    const StreamName = physicalName(stack.plan, 'EventStream');
    for (const shard of (await kinesis.send(new ListShardsCommand({ StreamName }))).Shards ?? []) {
      const it = await kinesis.send(
        new GetShardIteratorCommand({ StreamName, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }),
      );
      const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator!, Limit: 10_000 }));
      const hit = (out.Records ?? []).find((r) => Buffer.from(r.Data!).toString('utf8').includes(marker));
      if (hit) return { shardId: shard.ShardId!, seq: hit.SequenceNumber! };
    }
    return undefined;
  }

  it('puts a range back on the stream, and a replayed event still counts once', async () => {
    const d = await decide({ userId: 'replayer', candidates: ['a'] });
    const event = { eventId: 'ev-replay', userId: 'replayer', decisionId: d.body.decisionId, type: 'click' };
    expect((await api.call('POST', '/v1/events', { events: [event] })).status).toBe(202);
    const rewards = async () =>
      (await api.call('GET', '/v1/decision-points/home/model')).body.actions.find(
        (a: { actionId: string }) => a.actionId === 'a',
      ).rewardEvents as number;
    const before = await (async () => {
      let n = 0;
      await waitFor(async () => {
        n = await rewards();
        return (await locate('ev-replay')) !== undefined && n >= 1;
      });
      return n;
    })();
    const at = (await locate('ev-replay'))!;
    const r = await api.call('POST', '/v1/dead-letters/replay-range', {
      shardId: at.shardId,
      from: at.seq,
      to: at.seq,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.replayed).toBe(1);
    // A later event of the same user (same shard, so after the replayed copy) on another decision marks when the
    // replayed copy has been through the updater.
    const marker = await decide({ userId: 'replayer', candidates: ['b'] });
    const rewardsOf = async (actionId: string) =>
      (await api.call('GET', '/v1/decision-points/home/model')).body.actions.find(
        (x: { actionId: string }) => x.actionId === actionId,
      ).rewardEvents as number;
    const markerBefore = await rewardsOf('b');
    const later = {
      eventId: 'ev-replay-marker',
      userId: 'replayer',
      decisionId: marker.body.decisionId,
      type: 'click',
    };
    expect((await api.call('POST', '/v1/events', { events: [later] })).status).toBe(202);
    await waitFor(async () => (await rewardsOf('b')) > markerBefore);
    expect(await rewards()).toBe(before);
  });
});

describe('settings that cannot change', () => {
  it('refuses to change dimensions once the decision point has learned (409)', async () => {
    await waitFor(async () =>
      (await api.call('GET', '/v1/decision-points/home/model')).body.actions.some(
        (a: { impressions: number }) => a.impressions > 0,
      ),
    );
    const r = await api.call('PUT', '/v1/decision-points/home', { contextDim: 8 });
    expect(r.status).toBe(409);
    expect(r.body.error.message).toMatch(/contextDim/);
  });
});
