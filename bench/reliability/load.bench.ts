/**
 * Sustained load on the local stack: decisions and feedback at once for a bounded time (the test is 60 s),
 * then a check that nothing was lost under load: every decision answered 200 is learned (the serving model's
 * impressions reach the count of decisions served).
 *
 * The engine runs in its own process (`npm start` on a temporary data folder; its emulators in a third one unless
 * `NBA_EMULATORS_IN_PROCESS=1`), autocannon in this one.
 * Run directly: `npx tsx bench/reliability/load.bench.ts [--seconds 60]`.
 */
import autocannon from 'autocannon';
import { startEngineProcess } from '../lib/engine-process.ts';

export interface EndpointFigures {
  requests: number;
  perSecond: number;
  p50: number;
  p99: number;
  p999: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

export interface LoadBenchResult {
  seconds: number;
  actions: number;
  emulators: 'child process' | 'in process';
  decisions: EndpointFigures;
  events: EndpointFigures;
  /** Decisions and events answered per second together. */
  totalPerSecond: number;
  /**
   * Decisions counted 200 by the load generator (plus the warm-up), and how many the model had learned at the end.
   * Requests in flight when the run stops are answered (and learned) but not counted: up to one per connection.
   */
  learned: { served: number; impressions: number; secondsToCatchUp: number; inFlightAtCut: number };
  zeroErrors: boolean;
}

const KEY = 'load-bench-key';
const DP = 'load';
const USERS = 500;

const figures = (r: autocannon.Result): EndpointFigures => ({
  requests: r.requests.total,
  perSecond: r.requests.average,
  p50: r.latency.p50,
  p99: r.latency.p99,
  p999: r.latency.p99_9,
  errors: r.errors,
  timeouts: r.timeouts,
  non2xx: r.non2xx,
});

export async function runLoadBench(opts: { seconds?: number; actions?: number } = {}): Promise<LoadBenchResult> {
  const seconds = opts.seconds ?? 60;
  const actions = opts.actions ?? 20;
  const engine = await startEngineProcess(KEY);
  const url = engine.url;
  const headers = { 'x-api-key': KEY, 'content-type': 'application/json' };
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  try {
    await call('PUT', `/v1/decision-points/${DP}`, { rewards: { click: 1, purchase: 5 } });
    for (let a = 0; a < actions; a++) {
      await call('PUT', `/v1/decision-points/${DP}/actions/offer-${a}`, {
        features: { category: `c${a % 5}`, price: a },
      });
    }
    // Every user has a decision before the load starts, so feedback without a decision id always has one to join.
    let warm = 0;
    for (let u = 0; u < USERS; u++) {
      if ((await call('POST', '/v1/decisions', { decisionPoint: DP, userId: `user-${u}` })).status === 200) warm++;
    }

    let n = 0;
    const decisionBody = () => {
      n++;
      return JSON.stringify({
        decisionPoint: DP,
        userId: `user-${n % USERS}`,
        context: { segment: `s${n % 7}`, visits: n % 30, mobile: n % 2 === 0 },
      });
    };
    let e = 0;
    const eventBody = () => {
      e++;
      return JSON.stringify({
        events: [
          { eventId: `load-${e}`, userId: `user-${e % USERS}`, type: e % 5 === 0 ? 'purchase' : 'click' },
          { eventId: `load-${e}-view`, userId: `user-${(e * 7) % USERS}`, type: 'view' },
        ],
      });
    };
    const run = (path: string, connections: number, body: () => string) =>
      autocannon({
        url: `${url}${path}`,
        connections,
        duration: seconds,
        timeout: 10,
        requests: [{ method: 'POST', headers, setupRequest: (req) => ({ ...req, body: body() }) }],
      });
    const [d, ev] = await Promise.all([run('/v1/decisions', 8, decisionBody), run('/v1/events', 4, eventBody)]);
    const decisions = figures(d);
    const events = figures(ev);

    // Nothing lost under load: the updater learns every decision that was answered.
    const served = warm + (d['2xx'] ?? 0);
    const impressions = async () => {
      const m = await call('GET', `/v1/decision-points/${DP}/model`);
      return ((m.body.actions ?? []) as { impressions: number }[]).reduce((s, a) => s + a.impressions, 0);
    };
    const t0 = performance.now();
    let learned = await impressions();
    while (learned < served && performance.now() - t0 < 120_000) {
      await new Promise((r) => setTimeout(r, 250));
      learned = await impressions();
    }
    const zeroErrors = [decisions, events].every((x) => x.errors === 0 && x.timeouts === 0 && x.non2xx === 0);
    return {
      seconds,
      actions,
      emulators: process.env.NBA_EMULATORS_IN_PROCESS === '1' ? 'in process' : 'child process',
      decisions,
      events,
      totalPerSecond: decisions.perSecond + events.perSecond,
      learned: { served, impressions: learned, secondsToCatchUp: (performance.now() - t0) / 1000, inFlightAtCut: 8 },
      zeroErrors,
    };
  } finally {
    await engine.stop();
  }
}

/** The result as the markdown BENCHMARKS.md shows. */
export function formatLoadBench(r: LoadBenchResult): string {
  const row = (name: string, x: EndpointFigures) =>
    `| ${name} | ${x.requests} | ${x.perSecond.toFixed(1)} | ${x.p50} | ${x.p99} | ${x.p999} | ${x.errors + x.timeouts} | ${x.non2xx} |`;
  return [
    `${r.seconds} s of sustained decisions (8 connections) and feedback (4 connections, 2 events per request) on ${r.actions} actions; emulators in a ${r.emulators === 'child process' ? 'child process' : 'shared process'}.`,
    '',
    '| endpoint | requests | req/s | p50 ms | p99 ms | p99.9 ms | errors | non-2xx |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    row('POST /v1/decisions', r.decisions),
    row('POST /v1/events', r.events),
    '',
    `${r.zeroErrors ? 'Zero errors' : '**Errors**'}; ${r.totalPerSecond.toFixed(1)} requests/s in total. Nothing lost: the model learned ${r.learned.impressions} decisions for ${r.learned.served} counted 200 (at most ${r.learned.inFlightAtCut} more were in flight when the run stopped), ${r.learned.secondsToCatchUp.toFixed(1)} s after the load ended.`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--seconds');
  const r = await runLoadBench(i > 0 ? { seconds: Number(process.argv[i + 1]) } : {});
  console.log(formatLoadBench(r));
  console.log(JSON.stringify(r));
  const lost =
    r.learned.impressions < r.learned.served || r.learned.impressions > r.learned.served + r.learned.inFlightAtCut;
  if (!r.zeroErrors || lost) process.exitCode = 1;
}
