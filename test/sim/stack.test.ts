import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSimulate } from '../../cli/simulate.ts';
import type { OnlineRound } from '../../sim/formats.ts';
import { StackClient, simulateThroughStack, stackSettings, toNamedFeatures } from '../../sim/stack.ts';

interface Call {
  method: string;
  path: string;
  key: string | undefined;
  body: unknown;
}

/** A stand-in for the engine's API: records every call; always chooses the last candidate. */
function fakeEngine() {
  const calls: Call[] = [];
  let decisions = 0;
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => {
      text += c;
    });
    req.on('end', () => {
      const body = text === '' ? undefined : JSON.parse(text);
      calls.push({ method: req.method ?? '', path: req.url ?? '', key: req.headers['x-api-key'] as string, body });
      if (req.headers['x-api-key'] !== 'k1') {
        res.writeHead(401).end('{"error":"unauthorized"}');
        return;
      }
      if (req.method === 'POST' && req.url === '/v1/decisions') {
        const candidates = (body as { candidates: string[] }).candidates;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            decisionId: `d${decisions++}`,
            chosen: [candidates.at(-1)],
            ranking: [],
            modelVersion: 'v1',
            objective: 'default',
          }),
        );
        return;
      }
      res.writeHead(req.method === 'POST' ? 202 : 200).end('{}');
    });
  });
  return { server, calls };
}

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

describe('through the stack (against a fake engine)', () => {
  const engine = fakeEngine();
  let url: string;
  beforeAll(async () => {
    await new Promise<void>((r) => engine.server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(engine.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => engine.server.close(() => r()));
  });

  it('creates actions as they appear, retires those that leave, decides and posts the chosen outcome', async () => {
    engine.calls.length = 0;
    const result = await simulateThroughStack(
      rounds.map((value, i) => ({ value, line: i + 1 })),
      {
        client: new StackClient(`${url}/`, 'k1'),
        decisionPoint: 'dp1',
        settings: stackSettings({ contextDim: 8, rewards: { click: 1 } }),
        rewards: { click: 1 },
        maxRounds: 10,
      },
    );
    const summary = engine.calls.map((c) => `${c.method} ${c.path}`);
    expect(summary).toEqual([
      'PUT /v1/decision-points/dp1',
      'PUT /v1/decision-points/dp1/actions/a',
      'PUT /v1/decision-points/dp1/actions/b',
      'POST /v1/decisions',
      'PUT /v1/decision-points/dp1/actions/c',
      'DELETE /v1/decision-points/dp1/actions/b',
      'POST /v1/decisions',
      'POST /v1/events', // round 1: two clicks on c
      'POST /v1/events', // round 0's reward, delayed by one round
      'POST /v1/decisions',
    ]);
    expect(engine.calls.every((c) => c.key === 'k1')).toBe(true);
    // `reward: 1` is added so that reward events count; arrays travel as named (hashed) features.
    expect(engine.calls[0]?.body).toEqual({ contextDim: 8, rewards: { click: 1, reward: 1 } });
    expect(engine.calls[1]?.body).toEqual({ features: { 0: 1, 1: 0 } });
    expect(engine.calls[3]?.body).toEqual({
      decisionPoint: 'dp1',
      userId: 'sim-user-0',
      context: { 0: 0.5, 1: 1 },
      candidates: ['a', 'b'],
    });
    expect(engine.calls[7]?.body).toEqual({
      events: [
        { userId: 'sim-user-1', decisionId: 'd1', eventId: 'd1:click:0', type: 'click' },
        { userId: 'sim-user-1', decisionId: 'd1', eventId: 'd1:click:1', type: 'click' },
      ],
    });
    expect(engine.calls[8]?.body).toEqual({
      events: [{ userId: 'sim-user-0', decisionId: 'd0', eventId: 'd0:reward', type: 'reward', value: 1 }],
    });
    // Chosen: b (1, expected 0.3), c (2 clicks = 2, expected 0.2), a (0, expected 0.4).
    expect(result.policy).toBe('engine');
    expect(result.rounds).toBe(3);
    expect(result.meanReward).toBeCloseTo(1, 12);
    expect(result.meanExpectedReward).toBeCloseTo(0.3, 12);
  });

  it('stops after maxRounds and reports an engine failure with its status', async () => {
    engine.calls.length = 0;
    const r = await simulateThroughStack(
      rounds.map((value, i) => ({ value, line: i + 1 })),
      { client: new StackClient(url, 'k1'), decisionPoint: 'dp1', settings: {}, rewards: {}, maxRounds: 1 },
    );
    expect(r.rounds).toBe(1);
    const out: string[] = [];
    const err: string[] = [];
    const dir = await mkdtemp(join(tmpdir(), 'sim-stack-'));
    await writeFile(join(dir, 'online.jsonl'), rounds.map((x) => JSON.stringify(x)).join('\n'));
    const code = await runSimulate(
      ['--online', join(dir, 'online.jsonl'), '--through-stack', url, '--api-key', 'wrong'],
      { stdout: { write: (s) => out.push(s) > 0 }, stderr: { write: (s) => err.push(s) > 0 } },
    );
    await rm(dir, { recursive: true, force: true });
    expect(code).toBe(1);
    expect(err.join('')).toContain('PUT /v1/decision-points/sim answered 401');
  });

  it('maps dense arrays to named features', () => {
    expect(toNamedFeatures([3, 4])).toEqual({ 0: 3, 1: 4 });
    expect(toNamedFeatures({ plan: 'gold' })).toEqual({ plan: 'gold' });
  });
});
