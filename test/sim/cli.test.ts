import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGenWorld } from '../../cli/gen-world.ts';
import { runSimulate } from '../../cli/simulate.ts';
import { createProgress } from '../../sim/progress.ts';
import { captureStreams } from '../support/cli.ts';

describe('gen-world and simulate CLIs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const world = ['--seed', '4', '--rounds', '1500', '--history-rounds', '400', '--churn-every', '500'];

  it('gen-world writes the same bytes for the same options', async () => {
    const a = captureStreams();
    expect(await runGenWorld([...world, '--out', join(dir, 'w1')], a.streams)).toBe(0);
    expect(a.out).toContain('online.jsonl (1,500 rounds)');
    expect(await runGenWorld([...world, '--out', join(dir, 'w2')], captureStreams().streams)).toBe(0);
    for (const f of ['config.json', 'history.jsonl', 'online.jsonl']) {
      expect(await readFile(join(dir, 'w2', f), 'utf8')).toBe(await readFile(join(dir, 'w1', f), 'utf8'));
    }
    const bad = captureStreams();
    expect(await runGenWorld(['--rounds', '10', '--out', dir], bad.streams)).toBe(2);
    expect(bad.err).toContain('--seed and --out are required');
  });

  it('simulate --json reports the figures, and the same seed gives the same figures', async () => {
    const args = [
      '--online',
      join(dir, 'w1', 'online.jsonl'),
      '--history',
      join(dir, 'w1', 'history.jsonl'),
      '--seed',
      '3',
      '--json',
    ];
    const a = captureStreams();
    expect(await runSimulate(args, a.streams)).toBe(0);
    expect(a.err).toContain('using decision point settings from');
    const ra = JSON.parse(a.out);
    expect(Object.keys(ra)).toEqual(
      expect.arrayContaining([
        'rounds',
        'meanReward',
        'meanExpectedReward',
        'lastWindowMeanExpectedReward',
        'roundsPerSecond',
        'oracle',
        'uniform',
      ]),
    );
    expect(ra.rounds).toBe(1500);
    expect(ra.oracle.lastWindowMeanExpectedReward).toBeGreaterThan(ra.uniform.lastWindowMeanExpectedReward);
    const b = captureStreams();
    await runSimulate(args, b.streams);
    const rb = JSON.parse(b.out);
    expect({ ...rb, roundsPerSecond: 0 }).toEqual({ ...ra, roundsPerSecond: 0 });
  });

  it('simulate prints a table, honours --policy and --max-rounds', async () => {
    const c = captureStreams();
    const code = await runSimulate(
      ['--online', join(dir, 'w1', 'online.jsonl'), '--policy', 'egreedy', '--max-rounds', '100'],
      c.streams,
    );
    expect(code).toBe(0);
    expect(c.out).toContain('policy egreedy: 100 rounds');
    expect(c.out).toContain('of oracle');
  });

  it('simulate names the malformed line and exits with 2', async () => {
    const lines = (await readFile(join(dir, 'w1', 'online.jsonl'), 'utf8')).split('\n');
    const broken = JSON.parse(lines[1] as string);
    broken.rewards = 'none';
    await writeFile(join(dir, 'broken.jsonl'), `${lines[0]}\n${JSON.stringify(broken)}\n`);
    const c = captureStreams();
    const code = await runSimulate(
      ['--online', join(dir, 'broken.jsonl'), '--decision-point-config', join(dir, 'w1', 'config.json')],
      c.streams,
    );
    expect(code).toBe(2);
    expect(c.err).toContain('broken.jsonl line 2: rewards must be an object');
  });

  it.each([
    [['--online', 'x.jsonl', '--policy', 'greedy'], '--policy expects one of'],
    [['--policy', 'uniform'], '--online FILE is required'],
    [['--online', 'x.jsonl', '--through-stack', 'http://localhost:1'], '--through-stack needs an API key'],
    [['--online', 'x.jsonl', '--refresh', '0'], '--refresh expects an integer'],
  ])('simulate rejects bad arguments: %j', async (argv, message) => {
    // No key anywhere: not in the environment, none stored in the data folder `npm start` would use.
    const saved = { key: process.env.NBA_API_KEY, dir: process.env.NBA_DATA_DIR };
    delete process.env.NBA_API_KEY;
    process.env.NBA_DATA_DIR = dir;
    try {
      const c = captureStreams();
      expect(await runSimulate(argv, c.streams)).toBe(2);
      expect(c.err).toContain(message);
    } finally {
      if (saved.key === undefined) delete process.env.NBA_API_KEY;
      else process.env.NBA_API_KEY = saved.key;
      if (saved.dir === undefined) delete process.env.NBA_DATA_DIR;
      else process.env.NBA_DATA_DIR = saved.dir;
    }
  });
});

describe('progress', () => {
  it('prints plain lines at most every interval when not on a terminal', () => {
    let now = 0;
    const lines: string[] = [];
    const p = createProgress({
      label: 'simulate',
      unit: 'rounds',
      total: 1000,
      stream: { write: (s) => lines.push(s) > 0 },
      now: () => now,
    });
    for (let i = 1; i <= 1000; i++) {
      now += 25; // 25 ms per round, 25 s in total: a line at 5, 10, 15, 20 and 25 s
      p.update(i);
    }
    p.finish();
    expect(lines.length).toBe(5);
    expect(lines[0]).toBe('simulate 20%  200/1,000 rounds  40 rounds/s  ETA 20s\n');
  });

  it('draws a bar with rate and ETA on a terminal', () => {
    let now = 0;
    const writes: string[] = [];
    const p = createProgress({
      label: 'gen-world',
      unit: 'lines',
      stream: { isTTY: true, write: (s) => writes.push(s) > 0 },
      now: () => now,
    });
    now = 2000;
    p.update(500, 0.25);
    p.finish();
    expect(writes[0]).toContain('gen-world [######------------------]  25%  500 lines  250 lines/s  ETA 6s');
    expect(writes.at(-1)).toBe('\r\x1b[K');
  });
});
