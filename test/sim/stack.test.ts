import { describe, expect, it } from 'vitest';
import type { OnlineRound } from '../../sim/formats.ts';
import { type Fetch, StackClient, simulateThroughStack, toNamedFeatures } from '../../sim/stack.ts';

// The simulator against the engine itself: stack.http.test.ts.
describe('features sent through the stack', () => {
  it('maps dense arrays to named features', () => {
    expect(toNamedFeatures([3, 4])).toEqual({ 0: 3, 1: 4 });
    expect(toNamedFeatures({ plan: 'gold' })).toEqual({ plan: 'gold' });
  });
});

describe('outcomes sent through the stack', () => {
  /** An engine that always chooses the first candidate and records the events it is sent. */
  function fakeEngine() {
    const events: { type: string; value?: number }[] = [];
    const fetchImpl: Fetch = async (url, init) => {
      const path = new URL(url).pathname;
      if (init.method === 'POST' && path === '/v1/decisions') {
        const body = JSON.parse(init.body as string) as { candidates: string[] };
        return { status: 200, text: async () => JSON.stringify({ decisionId: 'd1', chosen: [body.candidates[0]] }) };
      }
      if (init.method === 'POST' && path === '/v1/events') {
        events.push(...(JSON.parse(init.body as string) as { events: typeof events }).events);
        return { status: 202, text: async () => '{}' };
      }
      return { status: 200, text: async () => '{}' };
    };
    return { client: new StackClient('http://engine.test', 'key', fetchImpl), events };
  }
  const round: OnlineRound = {
    t: 0,
    context: [1],
    actions: [{ id: 'a', features: [1] }],
    rewards: { a: 0.25 },
    events: { a: { click: 3 } },
  };
  const play = async (rewards: Record<string, number>) => {
    const engine = fakeEngine();
    const notices: string[] = [];
    const result = await simulateThroughStack([{ value: round, line: 1 }], {
      client: engine.client,
      decisionPoint: 'dp',
      settings: { rewards },
      rewards,
      maxRounds: 10,
      onNotice: (m) => notices.push(m),
    });
    return { sent: engine.events.map(({ type, value }) => ({ type, value })), result, notices };
  };

  it("posts the round's reward, not its events, when no reward mapping is configured", async () => {
    const { sent, result, notices } = await play({});
    expect(sent).toEqual([{ type: 'reward', value: 0.25 }]);
    expect(result.meanReward).toBe(0.25);
    expect(notices).toHaveLength(1);
  });

  it('posts the events, scored by the mapping in the report, when one is configured', async () => {
    const { sent, result } = await play({ click: 2 });
    expect(sent).toEqual([
      { type: 'click', value: undefined },
      { type: 'click', value: undefined },
      { type: 'click', value: undefined },
    ]);
    expect(result.meanReward).toBe(6);
  });
});
