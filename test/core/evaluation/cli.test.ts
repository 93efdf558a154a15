import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runEvaluate } from '../../../cli/evaluate.ts';
import { simulateLog } from '../../../shared/core/evaluation/index.ts';
import { createRng } from '../../../shared/core/random.ts';
import { exactValue, logSlates, slateWorld } from '../../support/slate-world.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'evaluate-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// A JSONL history written from a simulated log, so the CLI sees the simulator's format end to end.
const history = join(work, 'history.jsonl');
const sim = simulateLog({ rounds: 400, seed: 5 });
writeFileSync(
  history,
  sim.data.rounds
    .map((r) =>
      JSON.stringify({
        context: Array.from(r.context as Float64Array),
        actions: r.candidates.map((c) => ({ id: c.id })),
        chosen: r.candidates[r.chosenIndex]!.id,
        propensity: r.propensity,
        events: { click: r.reward },
        reward: r.reward,
      }),
    )
    .join('\n'),
);

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (into: string[]) => ({
    write(s: string): boolean {
      into.push(s);
      return true;
    },
  });
  const code = await runEvaluate(argv, { stdout: sink(out), stderr: sink(err) });
  return { code, out: out.join(''), err: err.join('') };
}

// A uniformly logged history over 4 actions in 3 positions whose rewards depend on the position alone: position 1
// always clicks, position 2 never, position 3 on every other round. What the uniform policy earns in each position is
// therefore known exactly: 1, 0 and 0.5.
const positioned = join(work, 'positioned.jsonl');
writeFileSync(
  positioned,
  Array.from({ length: 600 }, (_, i) => {
    const position = 1 + (i % 3);
    const reward = position === 1 ? 1 : position === 2 ? 0 : Math.floor(i / 3) % 2;
    return JSON.stringify({
      context: [1, (i % 7) / 7],
      actions: ['a', 'b', 'c', 'd'].map((id) => ({ id })),
      chosen: ['a', 'b', 'c', 'd'][i % 4],
      propensity: 0.25,
      reward,
      position,
    });
  }).join('\n'),
);

// A slate log of the position-biased world (test/support/slate-world.ts), written as the JSONL a client would: per
// line the candidates and, per slot, the action, its conditional propensity and its reward.
const world = slateWorld();
const slated = join(work, 'slates.jsonl');
writeFileSync(
  slated,
  logSlates(world, 6000, createRng(11))
    .map((s) =>
      JSON.stringify({
        context: Array.from(s.context as Float64Array),
        actions: s.candidates.map((c) => ({ id: c.id })),
        slots: s.chosen.map((c, j) => ({
          chosen: s.candidates[c]!.id,
          propensity: s.propensities[j],
          reward: s.rewards[j],
        })),
      }),
    )
    .join('\n'),
);

describe('evaluate CLI', () => {
  it("a slate log is evaluated on its whole-page reward: the RIPS interval covers the uniform policy's exact value", async () => {
    const truth = exactValue(world, (_x, left) => left.map(() => 1 / left.length));
    const { code, out, err } = await run('--log', slated, '--target', 'uniform', '--json', '--by-position');
    expect(code).toBe(0);
    expect(err).toBe('');
    const report = JSON.parse(out);
    expect(report.slates).toMatchObject({ target: 'uniform', n: 6000, slots: 3 });
    const rips = report.slates.estimates.rips;
    expect(rips.lower).toBeLessThanOrEqual(truth);
    expect(rips.upper).toBeGreaterThanOrEqual(truth);
    // Each slot's share: the uniform policy's slot-j value is κ_j × the mean relevance, and the shares sum to RIPS.
    const shares = report.slates.perSlot.map((p: { value: number }) => p.value);
    expect(shares.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(rips.value, 9);
    expect(shares[0]).toBeGreaterThan(shares[1]);
    expect(shares[1]).toBeGreaterThan(shares[2]);
    // One round per slot, so --by-position sees the three slots.
    expect(report.positions.map((p: { position: number; n: number }) => [p.position, p.n])).toEqual([
      [1, 6000],
      [2, 6000],
      [3, 6000],
    ]);
    const table = await run('--log', slated, '--target', 'uniform');
    expect(table.out).toMatch(/Slates \(6,000 logged, up to 3 slots; whole-page reward = Σ slot rewards\):\n\nRIPS\*/);
  });

  it('a slate line that also names a single choice, repeats an action or has a zero propensity exits 2, naming the line', async () => {
    const line = { context: [1], actions: [{ id: 'a' }, { id: 'b' }] };
    const cases: [object, RegExp][] = [
      [
        { ...line, chosen: 'a', reward: 1, slots: [{ chosen: 'a', propensity: 0.5, reward: 1 }] },
        /has no chosen, reward of its own/,
      ],
      [
        {
          ...line,
          slots: [
            { chosen: 'a', propensity: 0.5, reward: 1 },
            { chosen: 'a', propensity: 1, reward: 0 },
          ],
        },
        /an action appears in two slots/,
      ],
      [{ ...line, slots: [{ chosen: 'a', propensity: 0, reward: 1 }] }, /slots\.0\.propensity/],
      [{ ...line, slots: [{ chosen: 'z', propensity: 0.5, reward: 1 }] }, /slots\.0\.chosen "z" is not among actions/],
    ];
    for (const [i, [bad, message]] of cases.entries()) {
      const file = join(work, `bad-slate-${i}.jsonl`);
      writeFileSync(file, `${JSON.stringify(bad)}\n`);
      const { code, err } = await run('--log', file, '--target', 'uniform');
      expect(code).toBe(2);
      expect(err).toMatch(/line 1/);
      expect(err).toMatch(message);
    }
  });

  it('--by-position evaluates each logged position on its own rounds: the uniform policy earns 1, 0 and 0.5', async () => {
    const { code, out, err } = await run('--log', positioned, '--target', 'uniform', '--json', '--by-position');
    expect(code).toBe(0);
    expect(err).toBe('');
    const report = JSON.parse(out);
    expect(report.positions.map((p: { position: number; n: number }) => [p.position, p.n])).toEqual([
      [1, 200],
      [2, 200],
      [3, 200],
    ]);
    const truth = [1, 0, 0.5];
    report.positions.forEach(
      (p: { ess: number; snips: { value: number }; estimate: { lower: number; upper: number } }, i: number) => {
        // Logged uniformly: every weight is 1, so the ESS is the position's round count and SNIPS its mean reward.
        expect(p.ess).toBeCloseTo(200, 6);
        expect(p.snips.value).toBeCloseTo(truth[i]!, 9);
        expect(p.estimate.lower).toBeLessThanOrEqual(truth[i]! + 1e-9);
        expect(p.estimate.upper).toBeGreaterThanOrEqual(truth[i]! - 1e-9);
      },
    );
    const table = await run('--log', positioned, '--target', 'uniform', '--by-position');
    expect(table.out).toMatch(/By position \(each on its own rounds\):\n\nposition +rounds +ESS/);
  });

  it('--by-position on a log without positions is a usage error naming the flag', async () => {
    const { code, err } = await run('--log', history, '--target', 'uniform', '--by-position');
    expect(code).toBe(2);
    expect(err).toContain('--by-position needs a position on every round');
  });

  it('--json prints exactly one JSON object with the documented fields, recommended estimator first, stderr silent', async () => {
    const { code, out, err } = await run('--log', history, '--target', 'logging', '--json', '--seed', '3');
    expect(code).toBe(0);
    expect(err).toBe('');
    expect(out.trim().split('\n')).toHaveLength(1);
    const report = JSON.parse(out);
    expect(report).toMatchObject({
      n: 400,
      ess: expect.closeTo(400, 6),
      maxWeight: expect.closeTo(1, 9),
      supportMissing: 0,
    });
    expect(Object.keys(report.estimates)[0]).toBe(report.recommended);
    for (const k of ['ips', 'snips', 'dr', 'dros']) {
      expect(report.estimates[k]).toEqual({
        value: expect.any(Number),
        lower: expect.any(Number),
        upper: expect.any(Number),
      });
    }
    const meanReward = sim.data.rounds.reduce((s, r) => s + r.reward, 0) / 400;
    expect(report.estimates.ips.value).toBeCloseTo(meanReward, 12);
    expect(report.lowerBound).toBeLessThanOrEqual(meanReward);
    expect(typeof report.hoeffdingLowerBound).toBe('number');
    // No declared range in JSONL: the CLI says the observed [0, 1] was used.
    expect(report.warnings).toEqual([expect.stringMatching(/^reward range \[0, 1\] taken from the observed rewards/)]);
  });

  it('prints a readable table by default, OBD inferred from .csv with its item_context.csv beside it', async () => {
    const dir = join(work, 'obd');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'item_context.csv'), ',item_id,item_feature_0\n0,0,0.1\n1,1,0.2\n');
    const rows = Array.from(
      { length: 30 },
      (_, i) => `${i},t,${i % 2},${(i % 3) + 1},${i % 5 === 0 ? 1 : 0},0.5,u,0.0`,
    );
    writeFileSync(
      join(dir, 'men.csv'),
      [',timestamp,item_id,position,click,propensity_score,user_feature_0,user-item_affinity_0', ...rows].join('\n'),
    );
    const { code, out, err } = await run(
      '--log',
      join(dir, 'men.csv'),
      '--target',
      'uniform',
      '--reward-min',
      '0',
      '--reward-max',
      '1',
    );
    expect(code).toBe(0);
    expect(err).toBe('');
    expect(out).toMatch(/^Off-policy evaluation of target "uniform" on men\.csv \(obd\)/);
    expect(out).toMatch(/\nDR \(cross-fitted\) \*\s+[\d.]+\s+\[/);
    expect(out).toContain('lower bound at 95% (HCOPE, empirical Bernstein)');
  });

  it.each([
    [['--target', 'uniform'], /--log FILE is required/],
    [['--log', 'x.jsonl'], /--target is required/],
    [['--log', 'x.jsonl', '--target', 'uniform', '--delta', '0'], /--delta expects a number in \(0, 1\), got "0"/],
    [['--log', 'x.jsonl', '--target', 'uniform', '--seed', '1.5'], /--seed expects an integer/],
    [['--log', 'x.jsonl', '--target', 'uniform', '--format', 'xml'], /--format expects jsonl or obd/],
    [['--log', 'x.jsonl', '--target', 'uniform', '--verbose'], /Unknown option '--verbose'/],
    [['--log', 'x.jsonl', '--target', 'greedy'], /unknown target "greedy"/],
    [['--log', join(work, 'absent.jsonl'), '--target', 'uniform'], /cannot read log .*absent\.jsonl/],
  ])('exits 2 with a clear message on bad arguments: %j', async (argv, message) => {
    const { code, out, err } = await run(...argv);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(message);
  });

  it('model targets need the decision point whose model they name (exit 2 without it)', async () => {
    const { code, err } = await run('--log', history, '--target', 'model:v7');
    expect(code).toBe(2);
    expect(err).toMatch(/^evaluate: a model target needs --decision-point\n/);
  });

  it('exits 2 on malformed input, naming file and line', async () => {
    const bad = join(work, 'bad.jsonl');
    writeFileSync(
      bad,
      `${JSON.stringify({ context: [1], actions: [{ id: 'a' }], chosen: 'a', reward: 1 })}\n{"context":[1],"actions":[{"id":"a"}],"chosen":"zz","reward":0}\n`,
    );
    const { code, err } = await run('--log', bad, '--target', 'uniform');
    expect(code).toBe(2);
    expect(err).toBe('evaluate: bad.jsonl: line 2: chosen "zz" is not among actions\n');
  });

  it('sets the process exit code when run as a program', () => {
    const res = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'cli/evaluate.ts', '--log', history, '--target', 'model:v1'],
      {
        cwd: repoRoot,
        encoding: 'utf8',
      },
    );
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('a model target needs --decision-point');
  });
});
