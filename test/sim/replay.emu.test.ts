import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReplayObd } from '../../cli/replay-obd.ts';
import { decisionPointSettingsSchema } from '../../shared/core/schemas.ts';
import { replayObd } from '../../sim/obd.ts';
import type { Policy } from '../../sim/policies.ts';
import { type ReplayRow, replay, wilson } from '../../sim/replay.ts';

describe('wilson', () => {
  it('matches published values', () => {
    // Reference values: Wilson (1927) score interval at z = 1.96, e.g. 0/10 → [0, 0.2775], 5/10 → [0.2366, 0.7634].
    const a = wilson(0, 10);
    expect(a.lower).toBe(0);
    expect(a.upper).toBeCloseTo(0.2775, 4);
    const b = wilson(5, 10);
    expect(b.lower).toBeCloseTo(0.2366, 4);
    expect(b.upper).toBeCloseTo(0.7634, 4);
    const c = wilson(46, 10_000);
    expect(c.lower).toBeCloseTo(0.0034507, 6);
    expect(c.upper).toBeCloseTo(0.0061298, 6);
  });

  it('always contains the observed rate and stays inside [0, 1]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, f) => {
        const k = Math.floor(f * n);
        const p = wilson(k, n);
        return p.lower >= 0 && p.upper <= 1 && p.lower <= p.rate + 1e-12 && p.rate <= p.upper + 1e-12;
      }),
      { numRuns: 10_000 },
    );
  });
});

/** Always picks candidate position `pick`; records what it learned. */
function fixedPolicy(pick: number) {
  const learned: { action: number; reward: number }[] = [];
  let rounds = 0;
  const policy: Policy = {
    name: 'fixed',
    warmStart() {},
    choose: () => pick,
    impression() {},
    reward: (_x, action, r) => {
      learned.push({ action, reward: r });
    },
    endRound: () => {
      rounds++;
    },
  };
  return { policy, learned, rounds: () => rounds };
}

describe('replay (Li et al. 2011)', () => {
  const x = new Float64Array([1]);
  const candidates = Int32Array.from([10, 11, 12]);
  // Logged (position, click): position 0 is logged 4 times with clicks 1, 0, 1, 1.
  const log: [number, number][] = [
    [0, 1],
    [1, 1],
    [0, 0],
    [2, 0],
    [2, 1],
    [0, 1],
    [1, 0],
    [0, 1],
  ];
  const rows: ReplayRow[] = log.map(([logged, reward]) => ({ x, candidates, logged, reward }));

  it('counts only the rows where the policy picks the logged action', () => {
    const { policy, learned, rounds } = fixedPolicy(0);
    const r = replay(rows, policy);
    expect(r.rows).toBe(8);
    expect(r.matched).toBe(4);
    expect(r.rate.successes).toBe(3);
    expect(r.rate.rate).toBe(0.75);
    expect(r.rate).toEqual(wilson(3, 4));
    // It learns from matched rows only, with the logged reward, and its clock only advances on them.
    expect(learned).toEqual([
      { action: 10, reward: 1 },
      { action: 10, reward: 0 },
      { action: 10, reward: 1 },
      { action: 10, reward: 1 },
    ]);
    expect(rounds()).toBe(4);
  });

  it('gives another fixed policy its own answer', () => {
    const r = replay(rows, fixedPolicy(2).policy);
    expect([r.matched, r.rate.successes]).toEqual([2, 1]);
  });

  it('refuses non-binary rewards', () => {
    expect(() => replay([{ x, candidates, logged: 0, reward: 2 }], fixedPolicy(0).policy)).toThrow('0 or 1');
  });
});

describe('OBD replay', () => {
  let dir: string;
  const header =
    ',timestamp,item_id,position,click,propensity_score,user_feature_0,user-item_affinity_0,user-item_affinity_1';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sim-obd-'));
    for (const sub of ['random', 'bts']) {
      await mkdir(join(dir, sub));
      await writeFile(
        join(dir, sub, 'item_context.csv'),
        ',item_id,item_feature_0,item_feature_1\n0,0,-0.5,aa\n1,1,0.7,bb\n',
      );
    }
    // Out of time order on purpose: the replay must sort by timestamp.
    const random = [
      header,
      '0,2019-11-24 00:00:03+00:00,1,1,1,0.5,u1,0.0,1.0',
      '1,2019-11-24 00:00:01+00:00,0,2,0,0.5,u2,0.0,0.0',
      '2,2019-11-24 00:00:02+00:00,1,3,0,0.5,u1,1.0,0.0',
    ];
    await writeFile(join(dir, 'random', 'men.csv'), `${random.join('\n')}\n`);
    const bts = [
      header,
      '0,2019-11-24 00:00:01+00:00,1,1,1,0.9,u1,0.0,1.0',
      '1,2019-11-24 00:00:02+00:00,0,1,0,0.1,u2,0,0',
    ];
    await writeFile(join(dir, 'bts', 'men.csv'), `${bts.join('\n')}\n`);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('replays the random log and reports the logged rates with their intervals', async () => {
    const settings = decisionPointSettingsSchema.parse({ contextDim: 8, actionDim: 4 });
    const report = await replayObd(dir, { settings, seed: 3 });
    expect(report.items).toBe(2);
    expect(report.engine.rows).toBe(3);
    expect(report.loggedRandom).toEqual(wilson(1, 3));
    expect(report.loggedBts).toEqual(wilson(1, 2));
  });

  it('matches every row when the catalog has one item, and then reports the logged rate as its own', async () => {
    const one = await mkdtemp(join(tmpdir(), 'sim-obd-one-'));
    try {
      for (const sub of ['random', 'bts']) {
        await mkdir(join(one, sub));
        await writeFile(join(one, sub, 'item_context.csv'), ',item_id,item_feature_0,item_feature_1\n0,0,-0.5,aa\n');
      }
      const rows = [
        header,
        '0,2019-11-24 00:00:01+00:00,0,1,1,1.0,u1,0.0,1.0',
        '1,2019-11-24 00:00:02+00:00,0,2,0,1.0,u2,0.0,0.0',
        '2,2019-11-24 00:00:03+00:00,0,3,1,1.0,u1,1.0,0.0',
      ];
      await writeFile(join(one, 'random', 'men.csv'), `${rows.join('\n')}\n`);
      await writeFile(join(one, 'bts', 'men.csv'), `${rows.join('\n')}\n`);
      const report = await replayObd(one, {
        settings: decisionPointSettingsSchema.parse({ contextDim: 8, actionDim: 4 }),
        seed: 3,
      });
      // One candidate: the engine can only pick the logged item, so every row counts with its logged click.
      expect(report.engine.matched).toBe(3);
      expect(report.engine.rate).toEqual(wilson(2, 3));
    } finally {
      await rm(one, { recursive: true, force: true });
    }
  });

  it('the CLI reads OBD_DIR, prints JSON, and names a malformed row', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const streams = {
      stdout: { write: (s: string) => out.push(s) > 0 },
      stderr: { write: (s: string) => err.push(s) > 0 },
    };
    expect(await runReplayObd(['--json'], streams, { OBD_DIR: dir })).toBe(0);
    const json = JSON.parse(out.join(''));
    expect(json.dir).toBe(dir);
    expect(json.engine.rows).toBe(3);

    const bad = await mkdtemp(join(tmpdir(), 'sim-obd-bad-'));
    await mkdir(join(bad, 'random'));
    await writeFile(join(bad, 'random', 'item_context.csv'), ',item_id,item_feature_0\n0,0,1\n1,1,2\n');
    await writeFile(join(bad, 'random', 'men.csv'), `${header}\n0,t,1,1,2,0.5,u1,0,0\n`);
    expect(await runReplayObd(['--dir', bad], streams, {})).toBe(2);
    expect(err.join('')).toContain('random/men.csv line 2: column click: expected 0 or 1, got 2');
    await rm(bad, { recursive: true, force: true });
  });
});
