/**
 * The local stack under load: the engine runs in its own process (`npm start` on a temporary data folder), the load
 * generator (autocannon) in this one. Sustained decisions plus feedback for a bounded time, then the delay from
 * POST /v1/events to a serving model that reflects the event.
 * Run directly: `npx tsx bench/engine/http.bench.ts [--seconds 10]`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { summarize } from '../lib/stats.ts';

export interface HttpBenchResult {
  seconds: number;
  actions: number;
  decisions: {
    requests: number;
    perSecond: number;
    p50: number;
    p99: number;
    p999: number;
    errors: number;
    non2xx: number;
  };
  events: {
    requests: number;
    perSecond: number;
    p50: number;
    p99: number;
    p999: number;
    errors: number;
    non2xx: number;
  };
  feedbackDelayMs: { n: number; p50: number; p95: number; max: number };
  modelRefreshMs: number;
}

const KEY = 'bench-key';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function startEngine(port: number, dataDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    env: { ...process.env, PORT: String(port), NBA_API_KEY: KEY, NBA_DATA_DIR: dataDir, NBA_LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Press Ctrl-C')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`engine exited with ${code}`)));
  });
  return child;
}

export async function runHttpBench(opts: { seconds?: number; actions?: number } = {}): Promise<HttpBenchResult> {
  const seconds = opts.seconds ?? 10;
  const actions = opts.actions ?? 20;
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'nba-bench-'));
  const engine = await startEngine(port, dataDir);
  const url = `http://127.0.0.1:${port}`;
  const headers = { 'x-api-key': KEY, 'content-type': 'application/json' };
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: the benchmark reads arbitrary JSON bodies
    return { status: r.status, body: (await r.json()) as any };
  };
  try {
    await call('PUT', '/v1/decision-points/load', { rewards: { click: 1 } });
    for (let a = 0; a < actions; a++) {
      await call('PUT', `/v1/decision-points/load/actions/offer-${a}`, {
        features: { category: `c${a % 5}`, price: a },
      });
    }
    const users = 200;
    for (let u = 0; u < users; u++) await call('POST', '/v1/decisions', { decisionPoint: 'load', userId: `user-${u}` });

    let n = 0;
    const decisionBody = () =>
      JSON.stringify({
        decisionPoint: 'load',
        userId: `user-${n++ % users}`,
        context: { segment: `s${n % 7}`, visits: n % 30, mobile: n % 2 === 0 },
      });
    let e = 0;
    const eventBody = () =>
      JSON.stringify({ events: [{ eventId: `load-${e++}`, userId: `user-${e % users}`, type: 'click' }] });
    const run = (path: string, connections: number, body: () => string) =>
      autocannon({
        url: `${url}${path}`,
        connections,
        duration: seconds,
        requests: [{ method: 'POST', headers, setupRequest: (req) => ({ ...req, body: body() }) }],
      });
    const [d, ev] = await Promise.all([run('/v1/decisions', 8, decisionBody), run('/v1/events', 2, eventBody)]);
    const view = (r: autocannon.Result) => ({
      requests: r.requests.total,
      perSecond: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      p999: r.latency.p99_9,
      errors: r.errors + r.timeouts,
      non2xx: r.non2xx,
    });

    // Feedback delay: decide, post a click, then poll the serving model until the action's reward count moves.
    const delays: number[] = [];
    for (let i = 0; i < 30; i++) {
      const userId = `delay-${i}`;
      const dec = await call('POST', '/v1/decisions', { decisionPoint: 'load', userId });
      const actionId = dec.body.chosen[0] as string;
      const rewardsOf = async () =>
        (
          (await call('GET', '/v1/decision-points/load/model')).body.actions as {
            actionId: string;
            rewardEvents: number;
          }[]
        ).find((a) => a.actionId === actionId)!.rewardEvents;
      await new Promise((r) => setTimeout(r, 1500)); // let the impression settle so only the reward is awaited
      const before = await rewardsOf();
      const t0 = performance.now();
      await call('POST', '/v1/events', {
        events: [{ eventId: `delay-${i}`, userId, decisionId: dec.body.decisionId, type: 'click' }],
      });
      while ((await rewardsOf()) <= before) await new Promise((r) => setTimeout(r, 20));
      delays.push(performance.now() - t0);
    }
    const dl = summarize(delays);
    return {
      seconds,
      actions,
      decisions: view(d),
      events: view(ev),
      feedbackDelayMs: { n: dl.n, p50: dl.p50, p95: dl.p95, max: dl.max },
      modelRefreshMs: 1000,
    };
  } finally {
    engine.kill('SIGINT');
    await new Promise((r) => engine.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--seconds');
  console.log(JSON.stringify(await runHttpBench(i > 0 ? { seconds: Number(process.argv[i + 1]) } : {}), null, 2));
}
