/**
 * The simulator pointed at a user's own file, with no settings: dimensions from dense features, which of `rewards`
 * and `events` counts, and results that do not depend on how the file arrives.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSimulate } from '../../cli/simulate.ts';
import { createRng } from '../../shared/core/random.ts';
import { decisionPointSettingsSchema } from '../../shared/core/schemas.ts';
import type { HistoryLine, OnlineRound } from '../../sim/formats.ts';
import type { Policy } from '../../sim/policies.ts';
import { simulate } from '../../sim/simulate.ts';
import { warmStart } from '../../sim/warm-start.ts';
import { captureStreams } from '../support/cli.ts';

/** Rounds with a dense context of `p` numbers and `k` candidates of `q` dense features each, on every line. */
function denseRounds(n: number, p: number, q: number, k = 4, seed = 1): string {
  const rng = createRng(seed);
  const r2 = (v: number) => Math.round(v * 100) / 100;
  const actions = Array.from({ length: k }, (_, i) => ({
    id: `a${i}`,
    features: Array.from({ length: q }, () => r2(rng.normal())),
  }));
  const lines: string[] = [];
  for (let t = 0; t < n; t++) {
    const rewards: Record<string, number> = {};
    const expected: Record<string, number> = {};
    for (const a of actions) {
      expected[a.id] = r2(rng.next());
      rewards[a.id] = rng.next() < (expected[a.id] as number) ? 1 : 0;
    }
    const context = Array.from({ length: p }, () => r2(rng.normal()));
    lines.push(JSON.stringify({ t, context, actions, rewards, expected }));
  }
  return `${lines.join('\n')}\n`;
}

const withoutRate = (json: string) => ({ ...JSON.parse(json), roundsPerSecond: 0 });

describe('simulate on a file with no settings', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sim-user-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Writes `text` alone in a folder of its own (no config.json beside it) and returns its path. */
  async function alone(name: string, text: string): Promise<string> {
    await mkdir(join(dir, name));
    const path = join(dir, name, 'online.jsonl');
    await writeFile(path, text);
    return path;
  }

  it('takes contextDim and actionDim from dense features, and says so: the same run as with those settings given', async () => {
    const text = denseRounds(300, 16, 8);
    const path = await alone('dense16', text);
    const inferred = captureStreams();
    expect(await runSimulate(['--online', path, '--json', '--seed', '2'], inferred.streams)).toBe(0);
    expect(inferred.err).toContain('inferred contextDim 17 from dense contexts of 16 features');
    expect(inferred.err).toContain('inferred actionDim 9');

    const config = join(dir, 'dense16-settings.json');
    await writeFile(config, JSON.stringify({ contextDim: 17, actionDim: 9 }));
    const given = captureStreams();
    expect(
      await runSimulate(['--online', path, '--decision-point-config', config, '--json', '--seed', '2'], given.streams),
    ).toBe(0);
    expect(given.err).not.toContain('inferred');
    expect(withoutRate(inferred.out)).toEqual(withoutRate(given.out));
    expect(JSON.parse(inferred.out).rounds).toBe(300);
  });

  it('keeps the hashed default for named features while inferring the dense side', async () => {
    const lines = denseRounds(100, 3, 5)
      .trim()
      .split('\n')
      .map((l) => {
        const r = JSON.parse(l);
        const [a, b, c] = r.context as number[];
        return JSON.stringify({ ...r, context: { segment: a! > 0 ? 'x' : 'y', visits: b, spend: c } });
      });
    const path = await alone('named', `${lines.join('\n')}\n`);
    const inferred = captureStreams();
    expect(await runSimulate(['--online', path, '--json'], inferred.streams)).toBe(0);
    expect(inferred.err).not.toContain('inferred contextDim');
    expect(inferred.err).toContain('inferred actionDim 6');
    const config = join(dir, 'named-settings.json');
    await writeFile(config, JSON.stringify({ contextDim: 16, actionDim: 6 }));
    const given = captureStreams();
    expect(await runSimulate(['--online', path, '--decision-point-config', config, '--json'], given.streams)).toBe(0);
    expect(withoutRate(inferred.out)).toEqual(withoutRate(given.out));
  });

  it.each([
    [300, 4, /contextDim 301.*limit contextDim ≤ 256/],
    [4, 40, /actionDim 41.*limit actionDim ≤ 32/],
  ])(
    'refuses dense data beyond the engine limits, naming the limit and the way out (%i × %i)',
    async (p, q, message) => {
      const path = await alone(`limit-${p}-${q}`, denseRounds(3, p, q));
      const c = captureStreams();
      expect(await runSimulate(['--online', path], c.streams)).toBe(2);
      expect(c.err).toMatch(message);
      expect(c.err).toContain('--decision-point-config');
    },
  );

  it("uses the rounds' rewards, not their events, when no reward mapping is configured, and says so once", async () => {
    // Every candidate is worth 0.25 by `rewards` and has 3 clicks by `events`: the two readings cannot be confused.
    const lines = Array.from({ length: 50 }, (_, t) =>
      JSON.stringify({
        t,
        context: [t % 2],
        actions: [
          { id: 'a', features: [1] },
          { id: 'b', features: [0] },
        ],
        rewards: { a: 0.25, b: 0.25 },
        events: { a: { click: 3 }, b: { click: 3 } },
      }),
    );
    const path = await alone('both', `${lines.join('\n')}\n`);
    const c = captureStreams();
    expect(await runSimulate(['--online', path, '--json'], c.streams)).toBe(0);
    expect(JSON.parse(c.out).meanReward).toBeCloseTo(0.25, 12);
    const notices = c.err.split('\n').filter((l) => l.includes('"events"'));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain('"rewards" is used and "events" are ignored');

    const config = join(dir, 'both-settings.json');
    await writeFile(config, JSON.stringify({ contextDim: 2, actionDim: 2, rewards: { click: 2 } }));
    const mapped = captureStreams();
    expect(await runSimulate(['--online', path, '--decision-point-config', config, '--json'], mapped.streams)).toBe(0);
    expect(JSON.parse(mapped.out).meanReward).toBeCloseTo(6, 12);
    expect(mapped.err).toContain('events are scored with the configured rewards (click 2)');
  });
});

describe('the reward rule in the library', () => {
  const round = (t: number): OnlineRound => ({
    t,
    context: [1],
    actions: [{ id: 'a', features: [1] }],
    rewards: { a: 0.5 },
    events: { a: { click: 1, purchase: 1 } },
  });
  const rewardsSeen = (rewards: Record<string, number>) => {
    const seen: number[] = [];
    const notices: string[] = [];
    const spy = (): Policy => ({
      name: 'spy',
      warmStart() {},
      choose: () => 0,
      impression() {},
      reward: (_x, _a, r) => {
        seen.push(r);
      },
      endRound() {},
    });
    const settings = decisionPointSettingsSchema.parse({ contextDim: 2, actionDim: 2, rewards });
    simulate([round(0), round(1)], { settings, policy: spy, onNotice: (m) => notices.push(m) });
    return { seen, notices };
  };

  it('learns rewards[chosen] with no mapping and the scored events with one, telling the rule once', () => {
    const none = rewardsSeen({});
    expect(none.seen).toEqual([0.5, 0.5]);
    expect(none.notices).toHaveLength(1);
    const mapped = rewardsSeen({ click: 1, purchase: 5 });
    expect(mapped.seen).toEqual([6, 6]);
    expect(mapped.notices).toHaveLength(1);
  });

  it("warm-starts from a history line's reward with no mapping and from its events with one", () => {
    const line: HistoryLine = {
      context: [1],
      actions: [{ id: 'a', features: [1] }],
      chosen: 'a',
      propensity: 1,
      reward: 0.5,
      events: { click: 2 },
    };
    const sumR = (rewards: Record<string, number>) =>
      warmStart([{ value: line, line: 1 }], { contextDim: 2, actionDim: 2, rewards }).actions[0]?.stats.sumR;
    expect(sumR({})).toBeCloseTo(0.5, 12);
    expect(sumR({ click: 3 })).toBeCloseTo(6, 12);
  });
});
