/**
 * Feedback to serving, locally: decide, post a click, then poll until the click is learned (the state table's model,
 * GET …/model, counts it: `learned`) and until decisions are served from a model that includes it (`served`: a
 * decision's `modelVersion` ends in the sum of the statistics items' versions, which only grows, so a served model whose
 * sum reached the one that first counted the click was built after it). The engine runs in its own process (`npm start`), as a user runs it. The sustained-load test with
 * throughput and latency percentiles is `bench/reliability/load.bench.ts`.
 * Run directly: `npx tsx bench/engine/feedback-delay.bench.ts [--samples 30]`.
 */

import { startEngineProcess } from '../lib/engine-process.ts';
import { summarize } from '../lib/stats.ts';

export interface FeedbackDelayResult {
  samples: number;
  /** POST /v1/events → the state table's model counts the click. */
  learned: { p50: number; p95: number; max: number };
  /** POST /v1/events → a decision is served from a model that includes it (through its snapshot). */
  served: { p50: number; p95: number; max: number };
  modelRefreshMs: number;
}

/** The last part of a model version: the sum of its statistics items' versions. */
const learnedSum = (version: string) => Number(version.slice(version.lastIndexOf('.') + 1));

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
    const stateModel = async (actionId: string) => {
      const m = await call('GET', '/v1/decision-points/delay/model');
      const rewards =
        (m.actions as { actionId: string; rewardEvents: number }[]).find((a) => a.actionId === actionId)
          ?.rewardEvents ?? 0;
      return { rewards, version: m.modelVersion as string };
    };
    const learned: number[] = [];
    const served: number[] = [];
    for (let i = 0; i < samples; i++) {
      const userId = `delay-${i}`;
      const decision = await call('POST', '/v1/decisions', { decisionPoint: 'delay', userId });
      const actionId = (decision.chosen as string[])[0]!;
      await new Promise((r) => setTimeout(r, 1500)); // let the impression settle, so only the reward is awaited
      const before = (await stateModel(actionId)).rewards;
      const t0 = performance.now();
      await call('POST', '/v1/events', {
        events: [{ eventId: `delay-${i}`, userId, decisionId: decision.decisionId, type: 'click' }],
      });
      // Poll both at once: the state table's model (until it counts the click) and decisions (their model versions,
      // with when they were answered). The click is served from the first decision whose version sum reached the
      // sum of the state model that first counted it: sums only grow, so that model was built after the click.
      const seen: { at: number; sum: number }[] = [];
      let target: number | undefined;
      for (let k = 0; ; k++) {
        const [counted, d] = await Promise.all([
          target === undefined ? stateModel(actionId) : undefined,
          call('POST', '/v1/decisions', { decisionPoint: 'delay', userId: `probe-${i}-${k}` }),
        ]);
        seen.push({ at: performance.now() - t0, sum: learnedSum(d.modelVersion as string) });
        if (counted && counted.rewards > before) {
          learned.push(performance.now() - t0);
          target = learnedSum(counted.version);
        }
        if (target !== undefined && seen.some((x) => x.sum >= target!)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const first = seen.find((x) => x.sum >= target!)!;
      served.push(first.at);
    }
    const pick = (xs: number[]) => {
      const s = summarize(xs);
      return { p50: s.p50, p95: s.p95, max: s.max };
    };
    return { samples: learned.length, learned: pick(learned), served: pick(served), modelRefreshMs: 1000 };
  } finally {
    await engine.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--samples');
  console.log(await runFeedbackDelayBench(i > 0 ? { samples: Number(process.argv[i + 1]) } : {}));
}
