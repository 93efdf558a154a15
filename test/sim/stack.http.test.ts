/**
 * `npm run simulate -- --through-stack URL`, against the real local stack (the twin, over HTTP): the simulator creates
 * the decision point and actions as they appear, retires those that leave, decides, and posts the chosen action's
 * outcome; what the engine then shows through its API is checked against what the simulator says it played.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSimulate } from '../../cli/simulate.ts';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import type { OnlineRound } from '../../sim/formats.ts';
import { StackClient, simulateThroughStack, stackSettings } from '../../sim/stack.ts';
import { type Api, apiClient, waitFor } from '../support/http.ts';

process.env.NBA_LOG_LEVEL = 'silent';

const rounds: OnlineRound[] = [
  {
    t: 0,
    context: [0.5, 1],
    actions: [
      { id: 'a', features: [1, 0] },
      { id: 'b', features: { kind: 'promo' } },
    ],
    rewards: { a: 0, b: 1 },
    expected: { a: 0.1, b: 0.3 },
    delay: 1,
  },
  {
    t: 1,
    context: [0.2, 0],
    actions: [{ id: 'a' }, { id: 'c', features: [0, 1] }],
    rewards: { a: 0, c: 1 },
    events: { c: { click: 2 } },
    expected: { a: 0.1, c: 0.2 },
  },
  {
    t: 2,
    context: [0.1, 0],
    actions: [{ id: 'c' }, { id: 'a' }],
    rewards: { a: 0, c: 0 },
    expected: { a: 0.4, c: 0.2 },
  },
];

let stack: LocalStack;
let api: Api;
beforeAll(async () => {
  // A refresh slower than the simulator's next request: every action it creates is unknown to the decisions function
  // for up to a second, as on AWS between two refreshes; the simulator must wait for it, not fail.
  stack = await startLocalStack({ apiKey: 'sim-key', context: { modelRefreshMs: 1000 } });
  api = apiClient(stack.url, stack.apiKey);
});
afterAll(async () => {
  await stack?.stop();
});

describe('through the real local stack', () => {
  it('creates actions as they appear, retires those that leave, and the engine learns exactly the outcomes it played', async () => {
    const result = await simulateThroughStack(
      rounds.map((value, i) => ({ value, line: i + 1 })),
      {
        client: new StackClient(`${stack.url}/`, stack.apiKey),
        decisionPoint: 'dp1',
        settings: stackSettings({ contextDim: 8, rewards: { click: 1 } }),
        rewards: { click: 1 },
        maxRounds: 10,
      },
    );
    expect(result.policy).toBe('engine');
    expect(result.rounds).toBe(3);
    const dp = await api.call('GET', '/v1/decision-points/dp1');
    expect(dp.body.settings).toMatchObject({ contextDim: 8, rewards: { click: 1, reward: 1 } });
    const actions = (await api.call('GET', '/v1/decision-points/dp1/actions')).body.actions as {
      actionId: string;
      status: string;
    }[];
    expect(Object.fromEntries(actions.map((a) => [a.actionId, a.status]))).toEqual({
      a: 'live',
      b: 'retired',
      c: 'live',
    });
    // Every round's decision is an impression, and the rewards the simulator posted are what the model holds; the
    // delayed reward of round 0 arrives too.
    const total = result.meanReward * result.rounds;
    const learned = async () => {
      const m = (await api.call('GET', '/v1/decision-points/dp1/model')).body.actions as {
        impressions: number;
        rewardSum: number;
      }[];
      return {
        impressions: m.reduce((s, a) => s + a.impressions, 0),
        rewardSum: m.reduce((s, a) => s + a.rewardSum, 0),
      };
    };
    await waitFor(async () => {
      const l = await learned();
      return l.impressions === 3 && Math.abs(l.rewardSum - total) < 1e-9;
    }).catch(async () => {
      throw new Error(
        `engine learned ${JSON.stringify(await learned())}; the simulator played 3 rounds worth ${total}`,
      );
    });
  });

  it('reports an engine refusal with its status and exits 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-stack-'));
    await writeFile(join(dir, 'online.jsonl'), rounds.map((x) => JSON.stringify(x)).join('\n'));
    const err: string[] = [];
    const code = await runSimulate(
      ['--online', join(dir, 'online.jsonl'), '--through-stack', stack.url, '--api-key', 'wrong'],
      { stdout: { write: () => true }, stderr: { write: (s) => err.push(s) > 0 } },
    );
    await rm(dir, { recursive: true, force: true });
    expect(code).toBe(1);
    expect(err.join('')).toContain('PUT /v1/decision-points/sim answered 401');
  });
});
