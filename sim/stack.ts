/**
 * `--through-stack`: plays online rounds against a running engine over its public HTTP API instead of the in-process
 * core, so the whole loop (API, stream, updater, serving cache) is exercised. Slower and bounded (`maxRounds`).
 *
 * Per round: actions seen for the first time are created (`PUT …/actions/{id}`), actions that left the candidate
 * list are retired (`DELETE …/actions/{id}`), the decision is requested (`POST /v1/decisions`) and the chosen action's
 * outcome is posted (`POST /v1/events`): its events one by one (`{ type }` per count) when they count (a reward
 * mapping is configured, see `sim/outcome.ts`), else one `reward` event whose `value` is the round's reward for it
 * (none when the reward is 0). A round with `delay: k` posts
 * its events k rounds later.
 *
 * What differs from fast mode, by construction of the API: features travel as objects, so an array
 * `[v0, v1, …]` is sent as `{ "0": v0, "1": v1, … }` and the engine HASHES these keys instead of placing v_i in slot
 * 1 + i (collisions possible; results differ from fast mode). So that `reward` events count, a decision point whose
 * `rewards` are configured gets `reward: 1` added (an event's `value` overrides the amount). Warm starts are not
 * possible: the API has no way to load importance-weighted statistics.
 */
import { z } from 'zod';
import { SimFormatError, StackError } from './errors.ts';
import type { FeatureInput, Numbered, OnlineRound } from './formats.ts';
import { outcomeReward, rewardRuleNotice, scoresEvents } from './outcome.ts';
import { Scoreboard, type SimulationResult } from './simulate.ts';

/** The part of the decision response the simulator relies on (other fields are ignored). */
const decisionAnswerSchema = z.object({ decisionId: z.string().min(1), chosen: z.array(z.string()).min(1) });

export type Fetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{
  status: number;
  text(): Promise<string>;
}>;

export interface StackEvent {
  eventId: string;
  userId: string;
  decisionId: string;
  type: string;
  value?: number;
}

/** A thin client of the engine's public API (one method per call the simulator makes). */
export class StackClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly apiKey: string,
    private readonly fetchImpl: Fetch = fetch,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  private async call(method: string, path: string, body: unknown, ok: readonly number[]): Promise<string> {
    let res: { status: number; text(): Promise<string> };
    try {
      res = await this.fetchImpl(`${this.base}${path}`, {
        method,
        headers: { 'x-api-key': this.apiKey, 'content-type': 'application/json' },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    } catch (cause) {
      throw new StackError(method, path, 0, `request failed: ${(cause as Error).message}`, { cause });
    }
    const text = await res.text();
    if (!ok.includes(res.status)) throw new StackError(method, path, res.status, text);
    return text;
  }

  async putDecisionPoint(dp: string, settings: unknown): Promise<void> {
    await this.call('PUT', `/v1/decision-points/${encodeURIComponent(dp)}`, settings, [200, 201]);
  }

  async putAction(dp: string, id: string, features: Record<string, number | string | boolean>): Promise<void> {
    const path = `/v1/decision-points/${encodeURIComponent(dp)}/actions/${encodeURIComponent(id)}`;
    await this.call('PUT', path, { features }, [200, 201]);
  }

  async retireAction(dp: string, id: string): Promise<void> {
    const path = `/v1/decision-points/${encodeURIComponent(dp)}/actions/${encodeURIComponent(id)}`;
    await this.call('DELETE', path, undefined, [200, 202, 204]);
  }

  async decide(request: {
    decisionPoint: string;
    userId: string;
    context: Record<string, number | string | boolean>;
    candidates: string[];
  }): Promise<{ decisionId: string; chosen: string[] }> {
    const text = await this.call('POST', '/v1/decisions', request, [200]);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new StackError('POST', '/v1/decisions', 200, `not JSON: ${text}`, { cause });
    }
    const parsed = decisionAnswerSchema.safeParse(json);
    if (!parsed.success) throw new StackError('POST', '/v1/decisions', 200, `unexpected body: ${text}`);
    return parsed.data;
  }

  async sendEvents(events: readonly StackEvent[]): Promise<void> {
    // The API accepts at most 500 events per request.
    for (let i = 0; i < events.length; i += 500) {
      await this.call('POST', '/v1/events', { events: events.slice(i, i + 500) }, [200, 202]);
    }
  }
}

/** Features as the API takes them: arrays become `{ "0": v0, … }` (hashed by the engine, unlike in fast mode). */
export function toNamedFeatures(features: FeatureInput): Record<string, number | string | boolean> {
  if (!Array.isArray(features)) return features as Record<string, number | string | boolean>;
  const out: Record<string, number> = {};
  features.forEach((v, i) => {
    out[String(i)] = v;
  });
  return out;
}

/** The settings sent to the engine: `reward: 1` added to configured rewards so `reward` events count. */
export function stackSettings(settings: Record<string, unknown>): Record<string, unknown> {
  const rewards = (settings.rewards ?? {}) as Record<string, number>;
  if (Object.keys(rewards).length === 0 || 'reward' in rewards) return settings;
  return { ...settings, rewards: { ...rewards, reward: 1 } };
}

export interface StackOptions {
  readonly client: StackClient;
  readonly decisionPoint: string;
  /** Decision point settings as they will be PUT (see {@link stackSettings}). */
  readonly settings: Record<string, unknown>;
  /** Reward per event type, to score the chosen action's events locally for the report. */
  readonly rewards: Readonly<Record<string, number>>;
  readonly maxRounds: number;
  readonly source?: string;
  readonly onProgress?: (rounds: number) => void;
  /** Called once, at the first round with both `rewards` and `events`, with the rule that decides which counts. */
  readonly onNotice?: (message: string) => void;
}

/**
 * A decision naming an action created moments ago: an action serves from the decision function's next model refresh
 * (README, `PUT …/actions/{id}`), so until then the engine answers 400 "unknown action". Asks again every 50 ms, for at
 * most 10 s, only for that answer.
 */
async function decideOnceServed(
  client: StackClient,
  request: Parameters<StackClient['decide']>[0],
): Promise<Awaited<ReturnType<StackClient['decide']>>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await client.decide(request);
    } catch (err) {
      const notYet = err instanceof StackError && err.status === 400 && err.message.includes('unknown action');
      if (!notYet || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Plays up to `maxRounds` rounds through the engine's API; the result has the same shape as fast mode's. */
export async function simulateThroughStack(
  rounds: AsyncIterable<Numbered<OnlineRound>> | Iterable<Numbered<OnlineRound>>,
  options: StackOptions,
): Promise<SimulationResult<'engine'>> {
  const { client, decisionPoint: dp } = options;
  const source = options.source ?? 'online';
  await client.putDecisionPoint(dp, options.settings);
  const board = new Scoreboard();
  const known = new Map<string, FeatureInput>();
  let live = new Set<string>();
  const due = new Map<number, StackEvent[][]>();
  let pendingRounds = 0;
  const scoring = scoresEvents(options.rewards);
  let noticeGiven = false;
  for await (const { value: round, line } of rounds) {
    const now = board.rounds;
    if (now >= options.maxRounds) break;
    const ids: string[] = [];
    let created = false;
    for (const [i, a] of round.actions.entries()) {
      if (!known.has(a.id)) {
        if (a.features === undefined) {
          throw new SimFormatError(source, line, `actions[${i}] "${a.id}" has no features and was not seen before`);
        }
        known.set(a.id, a.features);
      }
      if (!live.has(a.id)) {
        await client.putAction(dp, a.id, toNamedFeatures(known.get(a.id) as FeatureInput));
        created = true;
      }
      ids.push(a.id);
    }
    const next = new Set(ids);
    for (const id of live) if (!next.has(id)) await client.retireAction(dp, id);
    live = next;

    const userId = `sim-user-${round.t}`;
    const request = { decisionPoint: dp, userId, context: toNamedFeatures(round.context), candidates: ids };
    const answer = created ? await decideOnceServed(client, request) : await client.decide(request);
    const chosen = answer.chosen[0] as string;
    if (!next.has(chosen)) throw new StackError('POST', '/v1/decisions', 200, `chose "${chosen}", not a candidate`);
    if (round.events !== undefined && !noticeGiven) {
      noticeGiven = true;
      options.onNotice?.(rewardRuleNotice(options.rewards, 'online rounds', 'rewards'));
    }
    const useEvents = round.events !== undefined && scoring;
    const chosenEvents = round.events?.[chosen];
    const reward = useEvents
      ? outcomeReward(options.rewards, chosenEvents ?? {}, 0)
      : (round.rewards[chosen] as number);
    const events: StackEvent[] = [];
    const base = { userId, decisionId: answer.decisionId };
    if (useEvents) {
      for (const [type, count] of Object.entries(chosenEvents ?? {})) {
        for (let k = 0; k < count; k++) events.push({ ...base, eventId: `${answer.decisionId}:${type}:${k}`, type });
      }
    } else if (reward !== 0) {
      events.push({ ...base, eventId: `${answer.decisionId}:reward`, type: 'reward', value: reward });
    }
    const delay = round.delay ?? 0;
    if (delay === 0) await client.sendEvents(events);
    else if (events.length > 0) {
      const at = now + delay;
      const list = due.get(at);
      if (list === undefined) due.set(at, [events]);
      else list.push(events);
      pendingRounds++;
    }
    board.record(round, chosen, reward);
    const arrived = due.get(now);
    if (arrived !== undefined) {
      due.delete(now);
      pendingRounds -= arrived.length;
      await client.sendEvents(arrived.flat());
    }
    options.onProgress?.(board.rounds);
  }
  return board.result('engine', pendingRounds);
}
