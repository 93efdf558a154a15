/**
 * Feedback to serving, locally: decide, post a click, then poll the serving model until the chosen action's reward
 * count moves. The engine runs in its own process (`npm start`), as a user runs it. The sustained-load test with
 * throughput and latency percentiles is `bench/reliability/load.bench.ts`.
 * Run directly: `npx tsx bench/engine/feedback-delay.bench.ts [--samples 30]`.
 */

import { startEngineProcess } from '../lib/engine-process.ts';
import { summarize } from '../lib/stats.ts';

export interface FeedbackDelayResult {
  samples: number;
  p50: number;
  p95: number;
  max: number;
  modelRefreshMs: number;
}

const KEY = 'delay-bench-key';

export async function runFeedbackDelayBench(opts: { samples?: number } = {}): Promise<FeedbackDelayResult> {
  const samples = opts.samples ?? 30;
  const engine = await startEngineProcess(KEY);
  const headers = { 'x-api-key': KEY, 'content-type': 'application/json' };
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${engine.url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await r.json()) as Record<string, unknown>;
  };
  try {
    await call('PUT', '/v1/decision-points/delay', { rewards: { click: 1 } });
    for (let a = 0; a < 20; a++)
      await call('PUT', `/v1/decision-points/delay/actions/offer-${a}`, { features: { category: `c${a % 5}` } });
    const rewardsOf = async (actionId: string) =>
      (
        (await call('GET', '/v1/decision-points/delay/model')).actions as { actionId: string; rewardEvents: number }[]
      ).find((a) => a.actionId === actionId)?.rewardEvents ?? 0;
    const delays: number[] = [];
    for (let i = 0; i < samples; i++) {
      const userId = `delay-${i}`;
      const decision = await call('POST', '/v1/decisions', { decisionPoint: 'delay', userId });
      const actionId = (decision.chosen as string[])[0]!;
      await new Promise((r) => setTimeout(r, 1500)); // let the impression settle, so only the reward is awaited
      const before = await rewardsOf(actionId);
      const t0 = performance.now();
      await call('POST', '/v1/events', {
        events: [{ eventId: `delay-${i}`, userId, decisionId: decision.decisionId, type: 'click' }],
      });
      while ((await rewardsOf(actionId)) <= before) await new Promise((r) => setTimeout(r, 20));
      delays.push(performance.now() - t0);
    }
    const s = summarize(delays);
    return { samples: s.n, p50: s.p50, p95: s.p95, max: s.max, modelRefreshMs: 1000 };
  } finally {
    await engine.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--samples');
  console.log(await runFeedbackDelayBench(i > 0 ? { samples: Number(process.argv[i + 1]) } : {}));
}
