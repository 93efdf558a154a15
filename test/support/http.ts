/**
 * A tiny client for the local stack's HTTP API. Every answer is checked against docs/openapi.json (support/openapi.ts)
 * before the test sees it: an undocumented status or a body that does not match its schema fails the call, so every
 * HTTP test also checks that the document describes what the API does. `{ validate: false }` turns that off for a
 * test that looks at something the document cannot describe.
 */
import { responseProblem } from './openapi.ts';

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies
type Json = any;

export interface Api {
  call(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: Json }>;
}

export function apiClient(url: string, apiKey: string | undefined, opts: { validate?: boolean } = {}): Api {
  return {
    async call(method, path, body, headers = {}) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...(apiKey ? { 'x-api-key': apiKey } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // keep the text
      }
      if (opts.validate !== false) {
        const problem = responseProblem(method, path, res.status, parsed);
        if (problem) throw new Error(problem);
      }
      return { status: res.status, body: parsed };
    },
  };
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 15_000, everyMs = 50): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

/** What a decision point's model learned, summed over its actions (GET …/model): impressions and rewarded events. */
export async function modelTotals(
  api: Api,
  decisionPoint: string,
): Promise<{ impressions: number; rewardEvents: number; rewardSum: number }> {
  const r = await api.call('GET', `/v1/decision-points/${decisionPoint}/model`);
  if (r.status !== 200) throw new Error(`GET …/${decisionPoint}/model answered ${r.status}`);
  const actions = r.body.actions as { impressions: number; rewardEvents: number; rewardSum: number }[];
  return {
    impressions: actions.reduce((s, a) => s + a.impressions, 0),
    rewardEvents: actions.reduce((s, a) => s + a.rewardEvents, 0),
    rewardSum: actions.reduce((s, a) => s + a.rewardSum, 0),
  };
}
