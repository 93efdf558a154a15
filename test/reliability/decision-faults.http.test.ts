/**
 * The decision API under dependency faults, over HTTP through the local stack, with faults injected into the very
 * SDK clients the twin gave the decisions function (middleware on its own clients): the model store (S3 GetObject of
 * the snapshot's pointer and of the snapshot, docs/ARCHITECTURE.md §5) failing or slow, the decision log (Kinesis PutRecords) failing or slow. Budget 300 ms.
 *
 * Expected: never a 5xx for what the engine can absorb; answers within the budget from the last good model, or the
 * documented uniform fallback (flagged) when a container has none; a decision log entry that missed the budget is
 * flagged `decisionLog: "deferred"`, counted, and reaches the stream later: every served decision is learned once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../functions/commons/engine.ts';
import type { Degradations } from '../../functions/commons/observability.ts';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { type Api, apiClient, waitFor } from '../support/http.ts';

process.env.NBA_LOG_LEVEL = 'silent';
const BUDGET_MS = 300;

type Fault = undefined | 'fail' | { delayMs: number };
const faults: { model: Fault; putRecords: Fault } = { model: undefined, putRecords: undefined };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let stack: LocalStack;
let api: Api;
let degradations: Degradations;

beforeAll(async () => {
  // The budget and model wait as variables of the decisions function, on a copy of the stack: set as a deployment
  // would set them.
  stack = await startLocalStack({
    apiKey: 'faults-key',
    context: { modelRefreshMs: 50 },
    customize: (s) => {
      s.decisionsFunction.addEnvironment('DECISION_BUDGET_MS', String(BUDGET_MS));
      s.decisionsFunction.addEnvironment('MODEL_WAIT_MS', '100');
    },
  });
  api = apiClient(stack.url, stack.apiKey);
  for (const dp of ['home', 'cold']) {
    expect((await api.call('PUT', `/v1/decision-points/${dp}`, {})).status).toBe(201);
    for (const id of ['a', 'b', 'c']) {
      expect(
        (await api.call('PUT', `/v1/decision-points/${dp}/actions/${id}`, { features: { color: id } })).status,
      ).toBe(201);
    }
  }
  const decisions = stack.functions.get('DecisionsFunction')!;
  const engine = decisions.instance.engine as Engine;
  degradations = engine.observability.degradations;
  const { clients } = engine;
  const inject =
    (fault: () => Fault, error: () => Error) =>
    (next: (args: unknown) => Promise<unknown>) =>
    async (args: unknown) => {
      const f = fault();
      if (f === 'fail') throw error();
      if (f) await sleep(f.delayMs);
      return next(args);
    };
  clients.s3.middlewareStack.add(
    (next, context) =>
      context.commandName === 'GetObjectCommand'
        ? (inject(
            () => faults.model,
            () => Object.assign(new Error('injected: please reduce your request rate'), { name: 'SlowDown' }),
          )(next as never) as never)
        : next,
    { step: 'initialize', name: 'testModelStoreFaults' },
  );
  clients.kinesis.middlewareStack.add(
    (next, context) =>
      context.commandName === 'PutRecordsCommand'
        ? (inject(
            () => faults.putRecords,
            () => Object.assign(new Error('injected: stream unavailable'), { name: 'ServiceUnavailable' }),
          )(next as never) as never)
        : next,
    { step: 'initialize', name: 'testStreamFaults' },
  );
});
afterAll(async () => {
  faults.model = undefined;
  faults.putRecords = undefined;
  await stack?.stop();
});

async function decide(body: Record<string, unknown>) {
  const t0 = performance.now();
  const r = await api.call('POST', '/v1/decisions', { userId: 'u1', ...body });
  return { ...r, ms: performance.now() - t0 };
}

function summary(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  return { n: s.length, p50: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
}

describe('the model store (the S3 snapshots) failing or slow', () => {
  it('answers from the last good model while the refresh fails, without a 5xx', async () => {
    const warm = await decide({ decisionPoint: 'home' });
    expect(warm.status).toBe(200);
    faults.model = 'fail';
    const ms: number[] = [];
    for (let i = 0; i < 30; i++) {
      await sleep(10);
      const r = await decide({ decisionPoint: 'home' });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.modelVersion).toBe(warm.body.modelVersion);
      expect(r.body.fallback).toBeUndefined();
      ms.push(r.ms);
    }
    faults.model = undefined;
    console.log('model store failing, last good model:', summary(ms));
    expect(summary(ms).p50).toBeLessThan(BUDGET_MS);
  });

  it('answers within the budget from the last good model while the refresh is slow (3 s)', async () => {
    expect((await decide({ decisionPoint: 'home' })).status).toBe(200);
    const before = degradations.staleModel;
    faults.model = { delayMs: 3000 };
    await sleep(60); // past refreshMs: the next request starts a refresh
    const ms: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await decide({ decisionPoint: 'home' });
      expect(r.status).toBe(200);
      expect(r.body.fallback).toBeUndefined();
      ms.push(r.ms);
    }
    faults.model = undefined;
    console.log('model store slow, last good model:', summary(ms));
    expect(degradations.staleModel).toBeGreaterThan(before);
    expect(summary(ms).p50).toBeLessThan(BUDGET_MS);
    expect(summary(ms).max).toBeLessThan(1500);
  });

  it('with no model in the container, answers the uniform fallback over the named candidates, flagged', async () => {
    faults.model = 'fail';
    const r = await decide({ decisionPoint: 'cold', candidates: ['a', 'b', 'c'], exclude: ['c'], slots: 1 });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      fallback: true,
      fallbackReason: 'model_store_unavailable',
      modelVersion: 'fallback',
    });
    expect(['a', 'b']).toContain(r.body.chosen[0]);
    expect(r.body.ranking.map((x: { probability: number }) => x.probability)).toEqual([0.5, 0.5]);
    // A fallback answer is not logged: its id says so, and feedback on it is dead-lettered at once, not held.
    expect(r.body.decisionId).toMatch(/^fallback-/);
    const fb = await api.call('POST', '/v1/events', {
      events: [{ eventId: 'on-fallback', userId: 'u1', decisionId: r.body.decisionId, type: 'click' }],
    });
    expect(fb.status).toBe(202);
    // Without candidates there is nothing to fall back on: 503, saying what would help.
    const none = await decide({ decisionPoint: 'cold' });
    expect(none.status).toBe(503);
    expect(none.body.error.message).toMatch(/name candidates/);

    faults.model = { delayMs: 3000 };
    const slow = await decide({ decisionPoint: 'cold', candidates: ['a', 'b'] });
    faults.model = undefined;
    expect(slow.status).toBe(200);
    expect(slow.body).toMatchObject({ fallback: true, fallbackReason: 'model_store_timeout' });
    expect(slow.ms).toBeLessThan(1500);
    // Once the store answers again, the model serves.
    await sleep(3100);
    const healed = await decide({ decisionPoint: 'cold', candidates: ['a', 'b'] });
    expect(healed.status).toBe(200);
    expect(healed.body.fallback).toBeUndefined();
    await waitFor(async () => {
      const dead = await api.call('GET', '/v1/dead-letters?code=fallback-decision');
      return dead.body.deadLetters.some((d: { reason: string }) => d.reason.includes('on-fallback'));
    });
  });
});

describe('the decision log (Kinesis) failing or slow', () => {
  async function impressions(dp: string): Promise<number> {
    const m = await api.call('GET', `/v1/decision-points/${dp}/model`);
    return m.body.actions.reduce((s: number, a: { impressions: number }) => s + a.impressions, 0);
  }

  it('answers within the budget, flags the deferred log entry, and every served decision is learned exactly once', async () => {
    expect((await api.call('PUT', '/v1/decision-points/logged', {})).status).toBe(201);
    for (const id of ['a', 'b']) await api.call('PUT', `/v1/decision-points/logged/actions/${id}`, { features: {} });
    const served: string[] = [];
    const ok = async (body: Record<string, unknown>) => {
      const r = await decide({ decisionPoint: 'logged', ...body });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      served.push(r.body.decisionId);
      return r;
    };
    for (let i = 0; i < 5; i++) expect((await ok({})).body.decisionLog).toBeUndefined();
    const deferredBefore = degradations.logDeferred;

    faults.putRecords = 'fail';
    const failing: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await ok({ userId: `f${i}` });
      expect(r.body.decisionLog).toBe('deferred');
      failing.push(r.ms);
    }
    faults.putRecords = { delayMs: 1500 };
    const slow: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await ok({ userId: `s${i}` });
      expect(r.body.decisionLog).toBe('deferred');
      slow.push(r.ms);
    }
    faults.putRecords = undefined;
    console.log('decision log failing:', summary(failing), 'slow:', summary(slow));
    expect(summary(failing).max).toBeLessThan(1000);
    expect(summary(slow).max).toBeLessThan(1000);
    expect(degradations.logDeferred - deferredBefore).toBe(15);

    // Healed: the next requests flush what was deferred; the late puts of the slow phase also land (deduplicated).
    await sleep(1600);
    for (let i = 0; i < 3; i++) await ok({ userId: `h${i}` });
    await waitFor(async () => (await impressions('logged')) >= served.length, 20_000, 100);
    await sleep(500);
    expect(await impressions('logged')).toBe(served.length);
    for (const id of served) {
      expect((await stack.stores.decisions.getDecisions([id])).has(id), id).toBe(true);
    }
    expect(degradations.logLost).toBe(0);
    expect(degradations.logRecovered).toBeGreaterThanOrEqual(15);
  });
});
