/**
 * The README's promises about feedback, objectives and slots, end to end over HTTP through the local twin (every
 * answer validated against docs/openapi.json by support/http.ts):
 * - events under a stream failure: an event that did not reach the stream is `failed` in its result, a request none
 *   of whose events got through answers 503, and a retry with the same `eventId` counts once;
 * - the README's objectives JSON, as printed, configures a decision point; `type: "stage"` events move the user's
 *   stage and reward the stage objective by V(new) − V(old); decisions say which `objective` decided;
 * - `"slots": 2`: both chosen actions get an impression, and an event naming the slot-2 `actionId` rewards that action.
 * Expected values are the README's own (its objectives' `stageValues` and `events`), read from the README.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../functions/commons/engine.ts';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { type Api, apiClient, waitFor } from '../support/http.ts';
import { jsonBlocks } from '../support/readme.ts';

process.env.NBA_LOG_LEVEL = 'silent';

let stack: LocalStack;
let api: Api;
/** Makes the events function's PutRecords fail: 'all' records, or the records whose data contains the marker. */
const fault: { mode: undefined | 'all' | string } = { mode: undefined };

type Summary = { actionId: string; impressions: number; rewardEvents: number; rewardSum: number; objectives: never };
const model = async (dp: string): Promise<Summary[]> =>
  (await api.call('GET', `/v1/decision-points/${dp}/model`)).body.actions;
const byId = async (dp: string, id: string) => (await model(dp)).find((a) => a.actionId === id)!;

beforeAll(async () => {
  stack = await startLocalStack({ apiKey: 'flows-key', context: { modelRefreshMs: 50 } });
  api = apiClient(stack.url, stack.apiKey);
  const events = stack.functions.get('EventsFunction')!.instance.engine as Engine;
  events.clients.kinesis.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutRecordsCommand' && fault.mode !== undefined) {
        const input = (args as { input: { Records: { Data: Uint8Array }[] } }).input;
        const decoded = input.Records.map((r) => new TextDecoder().decode(r.Data));
        if (fault.mode === 'all' || decoded.every((d) => d.includes(fault.mode!))) {
          throw Object.assign(new Error('injected: stream unavailable'), { name: 'ServiceUnavailable' });
        }
        if (decoded.some((d) => d.includes(fault.mode!))) {
          // Kinesis's partial failure: the call succeeds, the marked records carry an error code.
          const out = (await next({
            ...args,
            input: { ...input, Records: input.Records.filter((_, i) => !decoded[i]!.includes(fault.mode!)) },
          } as never)) as { output: { Records: object[]; FailedRecordCount: number } };
          const kept = [...out.output.Records];
          out.output.Records = decoded.map((d) =>
            d.includes(fault.mode!)
              ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'injected' }
              : kept.shift()!,
          );
          out.output.FailedRecordCount = decoded.filter((d) => d.includes(fault.mode!)).length;
          return out as never;
        }
      }
      return next(args);
    },
    { step: 'initialize', name: 'testEventStreamFaults' },
  );
  expect((await api.call('PUT', '/v1/decision-points/shop', { rewards: { click: 1 } })).status).toBe(201);
  for (const id of ['a', 'b', 'c']) {
    expect((await api.call('PUT', `/v1/decision-points/shop/actions/${id}`, { features: { k: id } })).status).toBe(201);
  }
});
afterAll(async () => {
  fault.mode = undefined;
  await stack?.stop();
});

describe('events while the stream fails', () => {
  it('reports each event that did not reach the stream as failed, answers 503 when none got through, and a retry with the same eventId counts once', async () => {
    const d = await api.call('POST', '/v1/decisions', { decisionPoint: 'shop', userId: 'sf', candidates: ['a'] });
    expect(d.status).toBe(200);
    const decisionId = d.body.decisionId;
    const ev = (eventId: string) => ({ eventId, userId: 'sf', type: 'click', decisionId });

    fault.mode = 'all';
    const none = await api.call('POST', '/v1/events', { events: [ev('sf-1'), ev('sf-2')] });
    expect(none.status).toBe(503);
    expect(none.body).toMatchObject({ accepted: 0, failed: 2 });
    expect(none.body.results.map((r: { status: string }) => r.status)).toEqual(['failed', 'failed']);

    fault.mode = 'sf-2';
    const some = await api.call('POST', '/v1/events', { events: [ev('sf-1'), ev('sf-2'), { eventId: 'x' }] });
    expect(some.status).toBe(202);
    expect(some.body).toMatchObject({ accepted: 1, rejected: 1, failed: 1 });
    expect(some.body.results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'failed', 'rejected']);

    fault.mode = undefined;
    // The client retries what did not get through, and, not knowing, also what did: each counts once.
    const retry = await api.call('POST', '/v1/events', { events: [ev('sf-1'), ev('sf-2')] });
    expect(retry.status).toBe(202);
    expect(retry.body.accepted).toBe(2);
    await waitFor(async () => (await byId('shop', 'a')).rewardEvents >= 2);
    await new Promise((r) => setTimeout(r, 500));
    expect(await byId('shop', 'a')).toMatchObject({ impressions: 1, rewardEvents: 2, rewardSum: 2 });
  });
});

describe('objectives and lifecycle stages, as the README prints them', () => {
  const objectivesJson = jsonBlocks().find((b) => (b.value as { objectives?: unknown }).objectives)!.value as {
    objectives: {
      name: string;
      events?: Record<string, number>;
      stages?: string[];
      stageValues?: Record<string, number>;
    }[];
  };
  const lifecycle = objectivesJson.objectives.find((o) => o.stages)!;
  const purchase = objectivesJson.objectives.find((o) => o.events?.purchase !== undefined)!;

  it('configures a decision point with the README objectives; stage moves earn V(new) − V(old); a target event its value; decisions name their objective', async () => {
    expect((await api.call('PUT', '/v1/decision-points/home', objectivesJson)).status).toBe(201);
    for (const id of ['x', 'y']) {
      expect((await api.call('PUT', `/v1/decision-points/home/actions/${id}`, { features: { k: id } })).status).toBe(
        201,
      );
    }
    const names = objectivesJson.objectives.map((o) => o.name);
    const d = await api.call('POST', '/v1/decisions', { decisionPoint: 'home', userId: 'st', candidates: ['x'] });
    expect(d.status).toBe(200);
    // Intent mode with no outcomes yet: the global policy decides (README: "falls back to the global policy").
    expect(d.body.objective).toBe('default');
    expect([...names, 'default']).toContain(d.body.objective);
    const [s1, s2] = [lifecycle.stages![1]!, lifecycle.stages![2]!];
    const t0 = Date.now();
    const events = [
      // The README's stage event, with the identifiers every event needs.
      {
        eventId: 'st-1',
        userId: 'st',
        type: 'stage',
        stage: s1,
        decisionPoint: 'home',
        timestamp: new Date(t0).toISOString(),
      },
      {
        eventId: 'st-2',
        userId: 'st',
        type: 'stage',
        stage: s2,
        decisionPoint: 'home',
        timestamp: new Date(t0 + 1).toISOString(),
      },
      {
        eventId: 'st-3',
        userId: 'st',
        type: 'purchase',
        decisionPoint: 'home',
        timestamp: new Date(t0 + 2).toISOString(),
      },
    ];
    const sent = await api.call('POST', '/v1/events', { events });
    expect(sent.status).toBe(202);
    expect(sent.body.accepted).toBe(3);
    const v = lifecycle.stageValues!;
    const expected = {
      // The first stage event sets a stage from an unknown one, which earns nothing (ARCHITECTURE F6); s1 → s2 earns.
      [lifecycle.name]: v[s2]! - v[s1]!,
      [purchase.name]: purchase.events!.purchase!,
    };
    await waitFor(async () => {
      const x = (await byId('home', 'x')) as unknown as { objectives: Record<string, { rewardSum: number }> };
      return Object.entries(expected).every(([k, want]) => x.objectives[k]?.rewardSum === want);
    }, 20_000).catch(async () => {
      throw new Error(
        `objective rewards: ${JSON.stringify((await byId('home', 'x')).objectives)}; expected ${JSON.stringify(expected)}`,
      );
    });
  });
});

describe('two slots', () => {
  it('gives both chosen actions an impression, and an event naming the slot-2 action rewards that action', async () => {
    const before = Object.fromEntries((await model('shop')).map((a) => [a.actionId, a]));
    const d = await api.call('POST', '/v1/decisions', { decisionPoint: 'shop', userId: 'two', slots: 2 });
    expect(d.status).toBe(200);
    expect(d.body.chosen).toHaveLength(2);
    const [first, second] = d.body.chosen as [string, string];
    expect(first).not.toBe(second);
    const shown = async () => Object.fromEntries((await model('shop')).map((a) => [a.actionId, a]));
    await waitFor(async () => {
      const m = await shown();
      return [first, second].every((id) => m[id]!.impressions === before[id]!.impressions + 1);
    });
    const sent = await api.call('POST', '/v1/events', {
      events: [{ eventId: 'two-1', userId: 'two', type: 'click', decisionId: d.body.decisionId, actionId: second }],
    });
    expect(sent.status).toBe(202);
    await waitFor(async () => (await byId('shop', second)).rewardEvents > before[second]!.rewardEvents);
    await new Promise((r) => setTimeout(r, 300));
    const after = await shown();
    expect(after[second]).toMatchObject({
      impressions: before[second]!.impressions + 1,
      rewardEvents: before[second]!.rewardEvents + 1,
      rewardSum: before[second]!.rewardSum + 1,
    });
    expect(after[first]!.rewardEvents).toBe(before[first]!.rewardEvents);
  });
});
