/**
 * Learning quality of the engine's default settings against the best configuration a grid search finds (issue 13,
 * "How we will know"): on synthetic worlds that differ in one respect each, on public classification data sets made
 * bandits by the bake-off method, and on the Open Bandit Dataset replay.
 *
 * Every problem is played by the fast simulator's `hybrid` policy (the engine's own core) with
 * - **defaults**: whatever `parseSettings` gives for the settings that describe the data and nothing else
 *   (dimensions, reward amounts), so the benchmark follows the schema's defaults as they change;
 * - **tuned**: the best of a grid search, in two stages (a full 162-point grid would cost five times as much):
 *   priors λs × λa × σ0² ({@link PRIOR_GRID}, 27 points, exploration at its default), then exploration scale × ε
 *   ({@link EXPLORATION_GRID}, 6 points) with the best priors. The defaults are candidates beside both grids, so
 *   in-sample the winner is never worse than them, whatever the defaults become. The search
 *   picks by mean reward over all rounds on the **tuning seeds**; every figure reported is from other seeds (the
 *   **report seeds**: another world, another shuffle, other policy draws), so the tuned figure carries no selection
 *   bias and may fall below the defaults by chance. The tuning-seed figure of the winner is printed beside it.
 * - baselines: `lints-disjoint` (one Bayesian ridge per action; with the default and with the tuned priors and
 *   exploration), `egreedy` (ε = 0.1, context-free), and uniform and the oracle (exact expected rewards where the
 *   problem knows them).
 *
 * Figures are mean expected reward per round (worlds: the chosen action's expected reward; bake-off: accuracy) over
 * all rounds and over the last 20%; OBD: click-through rate of the matched rows of the replay, pooled over seeds.
 * "Within 2%" compares the two means over the report seeds; beside it, the difference paired by seed with its
 * standard error says whether the report seeds can tell (a verdict two standard errors either side of 2%).
 *
 *   npx tsx bench/sim/quality.bench.ts [--full] [--only NAME,NAME] [--rounds N] [--report-seeds N] [--obd-dir DIR]
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseCliArgs, parseNumberFlag } from '../../cli/lib/args.ts';
import { defaultObdDir, OBD_SETTINGS } from '../../cli/replay-obd.ts';
import { bakeoffRounds, standardize } from '../../sim/bakeoff.ts';
import { replayObd } from '../../sim/obd.ts';
import type { PolicyName } from '../../sim/policies.ts';
import { type Proportion, wilson } from '../../sim/replay.ts';
import { parseSettings } from '../../sim/settings.ts';
import { type SimulationSettings, simulate } from '../../sim/simulate.ts';
import { warmStart } from '../../sim/warm-start.ts';
import { generateWorld, type WorldOptions, worldSettings } from '../../sim/world.ts';
import { machine } from '../lib/stats.ts';
import { DATASET_NAMES, type DatasetName, loadDataset } from './datasets.ts';
import { cpuSecondsSince, meanSd } from './objectives.bench.ts';

/**
 * Priors searched in the first stage, log-spaced over the range where the winners fell in trial runs (a narrower
 * grid put most winners on its edge). The defaults are searched beside the grid, so in-sample the winner is never
 * worse than them.
 */
export const PRIOR_GRID = {
  lambdaShared: [1, 30, 1000],
  lambdaAction: [1, 30, 1000],
  noisePriorVariance: [0.01, 0.1, 1],
} as const;
/** Exploration searched in the second stage, with the best priors (and the default exploration beside it). */
export const EXPLORATION_GRID = { scale: [0.05, 0.2, 1], epsilon: [0.01, 0.05] } as const;
/** Defaults within this share of the tuned reward count as "as good as tuned" (the issue's goal). */
export const TOLERANCE = 0.02;

export interface QualityOptions {
  /** Bigger sizes: 20,000 world rounds, twice the passes, more seeds (see {@link SEEDS}). */
  full?: boolean;
  /**
   * Report seeds per world, in place of {@link SEEDS}' count (to narrow one problem's verdict). The report phase
   * plays seed by seed and a problem keeps only as many worlds as it has tuning seeds, so memory does not grow with
   * this count (before, every seed's world stayed in memory, and with `full` and 10 seeds the 100-action world
   * outgrew Node's default 4 GB heap).
   */
  reportSeeds?: number;
  /** Online rounds per world (default 4,000; 20,000 with `full`). */
  rounds?: number;
  /** Problem names to run (default all). */
  only?: readonly string[];
  /** OBD sample folder (default as `npm run replay-obd`); null skips it. */
  obdDir?: string | null;
  /** Told when each problem starts and ends. */
  onProgress?: (message: string) => void;
}

/** Mean reward over all rounds and over the last 20% (NaN where the problem cannot tell). */
export interface Figure {
  readonly all: number;
  readonly last: number;
}

interface Played {
  readonly policy: Figure;
  readonly oracle?: Figure;
  readonly uniform?: Figure;
  /** Replay counts (clicks, matched rows), which pool across seeds into one rate. */
  readonly counts?: { readonly policy: Count; readonly uniform: Count };
}

interface Count {
  readonly successes: number;
  readonly trials: number;
}

interface Config {
  readonly label: string;
  readonly raw: Record<string, unknown>;
  /** Grid axes whose smallest or largest value this configuration takes (the best may lie beyond). */
  readonly edges: readonly string[];
}

interface Problem {
  readonly name: string;
  readonly group: 'world' | 'bake-off' | 'OBD';
  readonly description: string;
  /** The settings that describe the data (dimensions, reward amounts): the defaults get these and nothing else. */
  readonly data: Record<string, unknown>;
  /** Plays `policy` with `settings` on the problem's data of `seed` (data and policy draws both follow it). */
  play(settings: SimulationSettings, policy: PolicyName, seed: number): Promise<Played>;
  /** Frees cached data once the problem is done. */
  release?(): void;
}

export interface ProblemResult {
  readonly name: string;
  readonly group: Problem['group'];
  readonly description: string;
  readonly tuneSeeds: number[];
  readonly reportSeeds: number[];
  readonly defaults: Figure;
  readonly tuned: Figure;
  readonly tunedConfig: string;
  /** Grid axes at whose end the winner sits. */
  readonly tunedEdges: readonly string[];
  /** The winner's figure on the tuning seeds (in-sample: biased upwards by the selection). */
  readonly tunedOnTuningSeeds: number;
  /** The defaults' figure on the tuning seeds, for the same comparison in-sample. */
  readonly defaultsOnTuningSeeds: number;
  /** Replay problems: pooled clicks over matched rows of the defaults and the tuned configuration, 95% Wilson. */
  readonly replay?: { readonly defaults: Proportion; readonly tuned: Proportion };
  readonly disjointDefaults: Figure;
  readonly disjointTuned: Figure;
  readonly egreedy: Figure;
  readonly uniform: Figure | undefined;
  readonly oracle: Figure | undefined;
  readonly configsTried: number;
  readonly seconds: number;
  /** CPU time (user + system), comparable on a shared machine where wall time is not. */
  readonly cpuSeconds: number;
  /** Defaults ÷ tuned (all rounds) on each report seed: how much the ratio moves with the seed. */
  readonly ratioPerSeed: number[];
  /**
   * (Defaults − tuned) ÷ tuned over all rounds, paired by report seed: the mean difference and its standard error over
   * seeds, each relative to tuned's mean. Both play the same world and data order on a seed, so the pairing removes
   * the world's own variation; what is left is how far the two runs' draws part. Absent for a replay (its seeds
   * replay one log) and with fewer than two seeds.
   */
  readonly paired?: { readonly mean: number; readonly se: number };
  /** Set when the problem could not run (e.g. data not found). */
  readonly skipped?: string;
}

export interface QualityReport {
  readonly full: boolean;
  readonly machine: string;
  readonly worldRounds: number;
  /** `--report-seeds` when given (the command printed with the figures says so). */
  readonly reportSeeds?: number;
  readonly defaultsUsed: string;
  readonly results: ProblemResult[];
}

const NAN: Figure = { all: Number.NaN, last: Number.NaN };

function fromSimulation(sim: ReturnType<typeof simulate>): Played {
  const r = sim.result();
  const fig = (f: { meanExpectedReward: number; lastWindowMeanExpectedReward: number } | undefined) =>
    f === undefined ? undefined : { all: f.meanExpectedReward, last: f.lastWindowMeanExpectedReward };
  return {
    policy: { all: r.meanExpectedReward ?? Number.NaN, last: r.lastWindowMeanExpectedReward ?? Number.NaN },
    ...(r.oracle && { oracle: fig(r.oracle) }),
    ...(r.uniform && { uniform: fig(r.uniform) }),
  };
}

/** World variants: each differs from `base` in one respect, the last in all of the hard ones at once. */
const WORLD_VARIANTS: { name: string; description: string; options: Omit<WorldOptions, 'seed' | 'rounds'> }[] = (() => {
  const base = { actions: 20, churnEvery: 0, historyRounds: 0 };
  return [
    {
      name: 'world base',
      description: '20 actions, rewards click 1 + purchase 5, no churn, no history',
      options: base,
    },
    { name: 'world reward ×50', description: 'base, every reward × 50', options: { ...base, rewardScale: 50 } },
    {
      name: 'world noisy',
      description: 'base, Gaussian noise sd 3 on every reward',
      options: { ...base, rewardNoise: 3 },
    },
    {
      name: 'world 30 dims',
      description: 'base, 20 distractor context features (contextDim 30)',
      options: { ...base, extraFeatures: 20 },
    },
    { name: 'world 5 actions', description: 'base with 5 actions', options: { ...base, actions: 5 } },
    { name: 'world 100 actions', description: 'base with 100 actions', options: { ...base, actions: 100 } },
    {
      name: 'world churn',
      description: 'base, 5 of 20 actions replaced every 500 rounds',
      options: { ...base, churnEvery: 500, churnCount: 5 },
    },
    {
      name: 'world skewed history',
      description: 'base, warm start from 10,000 lines of a skewed logging policy',
      options: { ...base, historyRounds: 10_000 },
    },
    {
      name: 'world all hard',
      description: 'skewed history, 100 actions, 3 replaced every 1,000 rounds, rewards × 50',
      options: { actions: 100, churnEvery: 1_000, churnCount: 3, historyRounds: 10_000, rewardScale: 50 },
    },
  ];
})();

/** Passes over each data set (default size): enough rounds to learn on, a few thousand at most. */
const PASSES: Record<DatasetName, number> = { iris: 10, penguins: 5, cars: 5, 'seattle-weather': 2 };

function worldProblem(variant: (typeof WORLD_VARIANTS)[number], rounds: number): Problem & { release(): void } {
  // The worlds kept: as many as there are tuning seeds (the search plays every configuration over them), the least
  // recently played dropped first. The report phase plays seed by seed, so any number of report seeds fits.
  const kept = Math.max(SEEDS.default.world.tune, SEEDS.full.world.tune);
  const cache = new Map<number, ReturnType<typeof generateWorld>>();
  const world = (seed: number) => {
    let w = cache.get(seed);
    if (w === undefined) {
      w = generateWorld({ seed, rounds, ...variant.options });
      if (cache.size >= kept) cache.delete(cache.keys().next().value as number);
    }
    cache.delete(seed);
    cache.set(seed, w);
    return w;
  };
  const probe = worldSettings(variant.options);
  return {
    name: variant.name,
    group: 'world',
    description: `${variant.description}; ${rounds.toLocaleString('en-US')} rounds`,
    data: { contextDim: probe.contextDim, actionDim: probe.actionDim, rewards: probe.rewards },
    async play(settings, policy, seed) {
      const w = world(seed);
      const ws =
        w.history.length > 0
          ? warmStart(
              w.history.map((value, i) => ({ value, line: i + 1 })),
              settings,
            )
          : undefined;
      return fromSimulation(simulate(w.online, { settings, policy, seed, ...(ws !== undefined && { warmStart: ws }) }));
    },
    release: () => cache.clear(),
  };
}

async function bakeoffProblem(name: DatasetName, passes: number): Promise<Problem> {
  const data = standardize(await loadDataset(name));
  const p = data.examples[0]?.features.length ?? 0;
  return {
    name: `bake-off ${name}`,
    group: 'bake-off',
    description: `${data.examples.length} examples × ${passes} passes, ${p} features (standardized), ${data.classes.length} classes`,
    data: { contextDim: p + 1, actionDim: 1 },
    async play(settings, policy, seed) {
      return fromSimulation(simulate(bakeoffRounds(data, { seed, passes }), { settings, policy, seed }));
    },
  };
}

function obdProblem(dir: string): Problem {
  return {
    name: 'OBD replay',
    group: 'OBD',
    description:
      'Open Bandit Dataset "Men" sample, uniform-random log (10,000 rows, 34 items), replay (Li et al. 2011)',
    data: { ...OBD_SETTINGS },
    async play(settings, policy, seed) {
      const r = await replayObd(dir, { settings, policy, seed });
      return {
        policy: { all: r.engine.rate.rate, last: Number.NaN },
        uniform: { all: r.loggedRandom.rate, last: Number.NaN },
        counts: { policy: r.engine.rate, uniform: r.loggedRandom },
      };
    },
  };
}

/** `name min` or `name max` when `v` is at that end of `axis`. */
function edge(name: string, axis: readonly number[], v: number): string[] {
  if (v === axis[0]) return [`${name} min`];
  if (v === axis[axis.length - 1]) return [`${name} max`];
  return [];
}

/** The stage-1 candidate that leaves every learning setting at the schema's default. */
const DEFAULT_PRIORS_LABEL = 'default priors';

/** Candidates of stage 1: the default priors, then every grid point (exploration left at its default). */
export function priorConfigs(): Config[] {
  const out: Config[] = [{ label: DEFAULT_PRIORS_LABEL, raw: {}, edges: [] }];
  const g = PRIOR_GRID;
  for (const lambdaShared of g.lambdaShared)
    for (const lambdaAction of g.lambdaAction)
      for (const noisePriorVariance of g.noisePriorVariance)
        out.push({
          label: `λs ${lambdaShared}, λa ${lambdaAction}, σ0² ${noisePriorVariance}`,
          raw: { priors: { lambdaShared, lambdaAction, noisePriorVariance } },
          edges: [
            ...edge('λs', g.lambdaShared, lambdaShared),
            ...edge('λa', g.lambdaAction, lambdaAction),
            ...edge('σ0²', g.noisePriorVariance, noisePriorVariance),
          ],
        });
  return out;
}

/** Candidates of stage 2 with the priors of `best` (whose default exploration stage 1 has already scored). */
export function explorationConfigs(best: Config): Config[] {
  const out: Config[] = [];
  const g = EXPLORATION_GRID;
  for (const scale of g.scale)
    for (const epsilon of g.epsilon)
      out.push({
        label: `${best.label}, scale ${scale}, ε ${epsilon}`,
        raw: { ...best.raw, exploration: { scale, epsilon } },
        edges: [...best.edges, ...edge('scale', g.scale, scale), ...edge('ε', g.epsilon, epsilon)],
      });
  return out;
}

/** Several runs of one policy summarised: mean figures over seeds, or for a replay one rate pooled over them. */
interface Summary {
  readonly policy: Figure;
  readonly oracle: Figure | undefined;
  readonly uniform: Figure | undefined;
  /** Replay problems: clicks over matched rows of every seed, with its Wilson interval. */
  readonly pooled: Proportion | undefined;
  /** The policy's mean reward over all rounds, per seed. */
  readonly perSeed: number[];
}

function summarise(runs: readonly Played[]): Summary {
  const perSeed = runs.map((r) => r.policy.all);
  if (runs.length > 0 && runs.every((r) => r.counts !== undefined)) {
    const pool = (pick: (c: NonNullable<Played['counts']>) => Count): Proportion => {
      const counts = runs.map((r) => pick(r.counts as NonNullable<Played['counts']>));
      return wilson(
        counts.reduce((s, c) => s + c.successes, 0),
        counts.reduce((s, c) => s + c.trials, 0),
      );
    };
    const policy = pool((c) => c.policy);
    return {
      policy: { all: policy.rate, last: Number.NaN },
      oracle: undefined,
      uniform: { all: pool((c) => c.uniform).rate, last: Number.NaN },
      pooled: policy,
      perSeed,
    };
  }
  const mean = (pick: (p: Played) => Figure | undefined): Figure | undefined => {
    const figs = runs.map(pick).filter((f): f is Figure => f !== undefined);
    if (figs.length === 0) return undefined;
    return {
      all: figs.reduce((s, f) => s + f.all, 0) / figs.length,
      last: figs.reduce((s, f) => s + f.last, 0) / figs.length,
    };
  };
  return {
    policy: mean((p) => p.policy) as Figure,
    oracle: mean((p) => p.oracle),
    uniform: mean((p) => p.uniform),
    pooled: undefined,
    perSeed,
  };
}

/** See {@link ProblemResult.paired}. */
export function pairedDifference(a: readonly number[], b: readonly number[]): { mean: number; se: number } {
  const d = meanSd(a.map((v, i) => v - (b[i] as number)));
  const scale = meanSd(b).mean;
  return { mean: d.mean / scale, se: d.sd / Math.sqrt(a.length) / scale };
}

interface Scored {
  readonly config: Config;
  /** Mean reward over all rounds on the tuning seeds. */
  readonly score: number;
}

/** One problem's benchmark: the grid search on the tuning seeds, then every reported policy on the report seeds. */
class ProblemRun {
  private readonly started = performance.now();
  private readonly cpu = process.cpuUsage();
  private configsTried = 0;
  /** Tuning-seed score by configuration label. */
  private readonly scores = new Map<string, number>();

  constructor(
    private readonly problem: Problem,
    private readonly tuneSeeds: number[],
    private readonly reportSeeds: number[],
  ) {}

  /** The data's own settings plus `raw`, with the schema's defaults for everything else. */
  private settingsOf(raw: Record<string, unknown>): SimulationSettings {
    return parseSettings({ ...this.problem.data, ...raw }, `${this.problem.name} settings`).settings;
  }

  private async over(settings: SimulationSettings, policy: PolicyName, seeds: readonly number[]): Promise<Summary> {
    return (await this.overEach([[settings, policy]], seeds))[0] as Summary;
  }

  /**
   * Each of `runs` over `seeds`, seed by seed (every run of one seed before the next seed), so a problem that builds
   * one world per seed holds one at a time however many seeds are reported (see worldProblem's cache).
   */
  private async overEach(
    runs: readonly (readonly [SimulationSettings, PolicyName])[],
    seeds: readonly number[],
  ): Promise<Summary[]> {
    const played: Played[][] = runs.map(() => []);
    for (const seed of seeds) {
      for (const [i, [settings, policy]] of runs.entries())
        played[i]!.push(await this.problem.play(settings, policy, seed));
    }
    return played.map(summarise);
  }

  /** The best of `configs` (or `start`, already scored) by mean reward on the tuning seeds. */
  private async search(configs: readonly Config[], start?: Scored): Promise<Scored> {
    let best = start;
    for (const config of configs) {
      this.configsTried++;
      const score = (await this.over(this.settingsOf(config.raw), 'hybrid', this.tuneSeeds)).policy.all;
      this.scores.set(config.label, score);
      if (best === undefined || score > best.score) best = { config, score };
    }
    return best as Scored;
  }

  /** Priors first, at the default exploration; then exploration, with the best priors. */
  private async tune(): Promise<Scored> {
    const priors = await this.search(priorConfigs());
    return this.search(explorationConfigs(priors.config), {
      config: { ...priors.config, label: `${priors.config.label}, default exploration` },
      score: priors.score,
    });
  }

  async run(): Promise<ProblemResult> {
    const { problem, reportSeeds } = this;
    const best = await this.tune();
    const defaultsSettings = this.settingsOf({});
    const tunedSettings = this.settingsOf(best.config.raw);
    const [defaults, tuned, disjointDefaults, disjointTuned, egreedy] = (await this.overEach(
      [
        [defaultsSettings, 'hybrid'],
        [tunedSettings, 'hybrid'],
        [defaultsSettings, 'lints-disjoint'],
        [tunedSettings, 'lints-disjoint'],
        [defaultsSettings, 'egreedy'],
      ],
      reportSeeds,
    )) as [Summary, Summary, Summary, Summary, Summary];
    problem.release?.();
    return {
      name: problem.name,
      group: problem.group,
      description: problem.description,
      tuneSeeds: this.tuneSeeds,
      reportSeeds,
      defaults: defaults.policy,
      tuned: tuned.policy,
      tunedConfig: best.config.label,
      tunedEdges: best.config.edges,
      tunedOnTuningSeeds: best.score,
      defaultsOnTuningSeeds: this.scores.get(DEFAULT_PRIORS_LABEL) as number,
      ...(defaults.pooled && tuned.pooled && { replay: { defaults: defaults.pooled, tuned: tuned.pooled } }),
      disjointDefaults: disjointDefaults.policy,
      disjointTuned: disjointTuned.policy,
      egreedy: egreedy.policy,
      uniform: defaults.uniform,
      oracle: defaults.oracle,
      ratioPerSeed: defaults.perSeed.map((v, i) => v / (tuned.perSeed[i] as number)),
      ...(defaults.pooled === undefined &&
        reportSeeds.length > 1 && { paired: pairedDifference(defaults.perSeed, tuned.perSeed) }),
      configsTried: this.configsTried,
      seconds: (performance.now() - this.started) / 1000,
      cpuSeconds: cpuSecondsSince(this.cpu),
    };
  }
}

function skipped(name: string, group: Problem['group'], description: string, why: string): ProblemResult {
  return {
    name,
    group,
    description,
    tuneSeeds: [],
    reportSeeds: [],
    defaults: NAN,
    tuned: NAN,
    tunedConfig: '',
    tunedEdges: [],
    tunedOnTuningSeeds: Number.NaN,
    defaultsOnTuningSeeds: Number.NaN,
    disjointDefaults: NAN,
    disjointTuned: NAN,
    egreedy: NAN,
    uniform: undefined,
    oracle: undefined,
    ratioPerSeed: [],
    configsTried: 0,
    seconds: 0,
    cpuSeconds: 0,
    skipped: why,
  };
}

/**
 * How many tuning and report seeds each kind of problem gets. A replay of the OBD log costs about a second (every
 * row is scored over 34 items at d·m = 256), and more seeds replay the same rows, so it gets few by default.
 */
export const SEEDS = {
  default: { world: { tune: 2, report: 2 }, bakeoff: { tune: 2, report: 3 }, obd: { tune: 1, report: 3 } },
  full: { world: { tune: 3, report: 3 }, bakeoff: { tune: 3, report: 5 }, obd: { tune: 5, report: 10 } },
} as const;

/** Tuning seeds 101, 102, …; report seeds 1, 2, … (never the same). */
const seeds = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);

export async function runQualityBench(opts: QualityOptions = {}): Promise<QualityReport> {
  const full = opts.full ?? false;
  const rounds = opts.rounds ?? (full ? 20_000 : 4_000);
  const n = SEEDS[full ? 'full' : 'default'];
  const wanted = (name: string) => opts.only === undefined || opts.only.some((o) => name.includes(o));
  const say = opts.onProgress ?? (() => {});
  const results: ProblemResult[] = [];
  const run = async (problem: Problem, tune: number[], report: number[]) => {
    say(`quality: ${problem.name} …`);
    const r = await new ProblemRun(problem, tune, report).run();
    say(
      `quality: ${problem.name}: ${r.seconds.toFixed(1)} s, defaults ÷ tuned ${(r.defaults.all / r.tuned.all).toFixed(3)}`,
    );
    results.push(r);
  };
  for (const variant of WORLD_VARIANTS) {
    if (wanted(variant.name))
      await run(worldProblem(variant, rounds), seeds(101, n.world.tune), seeds(1, opts.reportSeeds ?? n.world.report));
  }
  for (const name of DATASET_NAMES) {
    if (!wanted(`bake-off ${name}`)) continue;
    await run(
      await bakeoffProblem(name, PASSES[name] * (full ? 2 : 1)),
      seeds(101, n.bakeoff.tune),
      seeds(1, n.bakeoff.report),
    );
  }
  if (wanted('OBD replay') && opts.obdDir !== null) {
    const dir = opts.obdDir ?? defaultObdDir();
    if (!existsSync(join(dir, 'random', 'men.csv'))) {
      results.push(
        skipped('OBD replay', 'OBD', 'Open Bandit Dataset "Men" sample', `skipped: data not found at ${dir}`),
      );
    } else await run(obdProblem(dir), seeds(101, n.obd.tune), seeds(1, n.obd.report));
  }
  return {
    full,
    machine: machine(),
    worldRounds: rounds,
    ...(opts.reportSeeds !== undefined && { reportSeeds: opts.reportSeeds }),
    defaultsUsed: describeDefaults(),
    results,
  };
}

/** The schema's defaults as they were when the benchmark ran (they are meant to change). */
function describeDefaults(): string {
  const s = parseSettings({}, 'defaults').settings;
  // A setting the schema leaves out is one the engine learns from the data: say so rather than print nothing.
  return `priors ${JSON.stringify(s.priors)}, exploration ${JSON.stringify(s.exploration)} (a setting not listed is learned from the data)`;
}

const f3 = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v.toFixed(3) : '—');
const f4 = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v.toFixed(4) : '—');
const pct = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? `${(100 * v).toFixed(2)}%` : '—');

/** What the table shows, in words computed from it: the largest shortfall, the seed spread, where the winners sit. */
function findings(q: QualityReport): string {
  const measured = q.results.filter((r) => r.skipped === undefined && Number.isFinite(r.defaults.all / r.tuned.all));
  if (measured.length === 0) return '';
  const ratio = (r: ProblemResult) => r.defaults.all / r.tuned.all;
  const worst = measured.reduce((a, b) => (ratio(b) < ratio(a) ? b : a));
  // Replays are left out: their per-seed rates rest on a click or two each.
  const spreads = measured
    .filter((r) => r.replay === undefined && r.ratioPerSeed.length > 1)
    .map((r) => Math.max(...r.ratioPerSeed) - Math.min(...r.ratioPerSeed))
    .filter(Number.isFinite);
  const seeded = measured.filter((r) => r.replay === undefined && r.ratioPerSeed.length > 0);
  const everySeedShort = seeded.filter((r) => r.ratioPerSeed.every((x) => x < 1 - TOLERANCE)).length;
  const paired = measured.flatMap((r) => (r.paired === undefined ? [] : [{ name: r.name, ...r.paired }]));
  const clearlyShort = paired.filter((p) => p.mean + 2 * p.se < -TOLERANCE);
  const clearlyWithin = paired.filter((p) => p.mean - 2 * p.se >= -TOLERANCE);
  const leastExploring = measured.filter((r) => r.tunedEdges.includes('scale min')).length;
  const lowEpsilon = measured.filter((r) => r.tunedEdges.includes('ε min')).length;
  return [
    `The largest shortfall is ${worst.name} (defaults ${f3(ratio(worst))} of tuned).`,
    spreads.length > 0
      ? `Across report seeds the ratio moves by up to ${f3(Math.max(...spreads))} on one problem (median ${f3(median(spreads))}), so a verdict within ${100 * TOLERANCE}% needs more seeds (\`--full\`) or rounds where the spread is that wide.`
      : '',
    `On ${everySeedShort} of ${seeded.length} problems (the replay left out) every report seed on its own puts the defaults more than ${100 * TOLERANCE}% below tuned.`,
    paired.length > 0
      ? `Paired by seed, the defaults are more than ${100 * TOLERANCE}% below tuned by over two standard errors on ${clearlyShort.length} of ${paired.length} problems${clearlyShort.length > 0 ? ` (${clearlyShort.map((r) => r.name).join(', ')})` : ''}, and within ${100 * TOLERANCE}% by over two standard errors on ${clearlyWithin.length}; on the rest the report seeds cannot tell.`
      : '',
    `The winner's exploration scale is the grid's smallest (${EXPLORATION_GRID.scale[0]}) on ${leastExploring} of ${measured.length} problems, its ε the smallest (${EXPLORATION_GRID.epsilon[0]}) on ${lowEpsilon}.`,
  ]
    .filter((x) => x !== '')
    .join(' ');
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Smallest–largest of per-seed figures. */
function range(xs: readonly number[]): string {
  const finite = xs.filter(Number.isFinite);
  if (finite.length === 0) return '—';
  return `${f3(Math.min(...finite))}–${f3(Math.max(...finite))}`;
}

/** The paired difference as a signed percentage with its standard error. */
function pairedCell(p: ProblemResult['paired']): string {
  if (p === undefined) return '—';
  return `${p.mean >= 0 ? '+' : '−'}${Math.abs(100 * p.mean).toFixed(1)}% ± ${(100 * p.se).toFixed(1)}%`;
}

/** The value in the unit of the problem: CTR as a percentage for OBD, else as it is. */
function value(r: ProblemResult, v: number | undefined): string {
  return r.group === 'OBD' ? pct(v) : f4(v);
}

const overlaps = (a: Proportion, b: Proportion): boolean => a.lower <= b.upper && b.lower <= a.upper;

/** What a replay's pooled counts allow one to say: its intervals, and whether they separate the two settings. */
function replaySentence(name: string, r: NonNullable<ProblemResult['replay']>): string {
  const show = (p: Proportion) =>
    `${p.successes} clicks / ${p.trials.toLocaleString('en-US')} matched rows, [${pct(p.lower)}, ${pct(p.upper)}]`;
  const overlap = overlaps(r.defaults, r.tuned);
  return `${name}, 95% Wilson intervals pooled over the report seeds (the seeds replay the same log, so the rows are not independent and the true intervals are wider): defaults ${show(r.defaults)}; tuned ${show(r.tuned)}. ${overlap ? 'The intervals overlap: this replay cannot rank the two, let alone resolve 2%.' : 'The intervals do not overlap.'}`;
}

/** The BENCHMARKS.md section: the defaults against the tuned configuration, the baselines, the configurations found. */
export function formatQualityBench(q: QualityReport): string {
  const main: string[] = [];
  const baselines: string[] = [];
  const configs: string[] = [];
  let within = 0;
  let measured = 0;
  for (const r of q.results) {
    if (r.skipped !== undefined) {
      main.push(`| ${r.name} | ${r.description} | ${r.skipped} | | | | | | | |`);
      continue;
    }
    const ratio = r.defaults.all / r.tuned.all;
    const ratioLast = r.defaults.last / r.tuned.last;
    const ok = ratio >= 1 - TOLERANCE;
    // A replay whose intervals overlap says nothing either way: it is not counted for or against the defaults.
    const undecided = r.replay !== undefined && overlaps(r.replay.defaults, r.replay.tuned);
    if (!undecided) measured++;
    if (ok && !undecided) within++;
    main.push(
      `| ${r.name} | ${r.description} | ${value(r, r.defaults.all)} / ${value(r, r.defaults.last)} | ${value(r, r.tuned.all)} / ${value(r, r.tuned.last)} | ${f3(ratio)} | ${pairedCell(r.paired)} | ${range(r.ratioPerSeed)} | ${f3(ratioLast)} | ${undecided ? 'cannot tell' : ok ? 'yes' : '**no**'} | ${value(r, r.oracle?.all)} / ${value(r, r.oracle?.last)} |`,
    );
    baselines.push(
      `| ${r.name} | ${value(r, r.defaults.all)} | ${value(r, r.tuned.all)} | ${value(r, r.disjointDefaults.all)} | ${value(r, r.disjointTuned.all)} | ${value(r, r.egreedy.all)} | ${value(r, r.uniform?.all)} | ${value(r, r.oracle?.all)} |`,
    );
    configs.push(
      `| ${r.name} | ${r.tunedConfig}${r.tunedEdges.length > 0 ? ` (grid edge: ${r.tunedEdges.join(', ')})` : ''} | ${value(r, r.defaultsOnTuningSeeds)} | ${value(r, r.tunedOnTuningSeeds)} | ${r.tuneSeeds.join(', ')} | ${r.reportSeeds.join(', ')} | ${r.configsTried} | ${r.seconds.toFixed(0)} / ${r.cpuSeconds.toFixed(0)} |`,
    );
  }
  return [
    q.reportSeeds === undefined
      ? `Measured on ${q.machine} with \`npm run bench -- ${q.full ? '--full ' : ''}--only quality\` (the same as \`npx tsx bench/sim/quality.bench.ts${q.full ? ' --full' : ''}\`).`
      : `Measured on ${q.machine} with \`npx tsx bench/sim/quality.bench.ts${q.full ? ' --full' : ''} --report-seeds ${q.reportSeeds}\` and the problems named below.`,
    '',
    `Defaults (\`parseSettings\` with only the data's dimensions and reward amounts; at this run ${q.defaultsUsed}) against the best configuration of a two-stage grid search (priors λs ∈ {${PRIOR_GRID.lambdaShared.join(', ')}} × λa ∈ {${PRIOR_GRID.lambdaAction.join(', ')}} × σ0² ∈ {${PRIOR_GRID.noisePriorVariance.join(', ')}}, then exploration scale ∈ {${EXPLORATION_GRID.scale.join(', ')}} × ε ∈ {${EXPLORATION_GRID.epsilon.join(', ')}} with the best priors; the defaults are candidates in both stages), \`hybrid\` policy of the fast simulator (\`bench/sim/quality.bench.ts\`). The search picks on the tuning seeds; every figure below is from the report seeds (other worlds, shuffles and policy draws), so "tuned" has no selection bias and can fall below the defaults by chance. Worlds: mean expected reward per round (${q.worldRounds.toLocaleString('en-US')} rounds, 30% of rewards delayed up to 200 rounds); bake-off (Bietti, Agarwal and Langford 2018): accuracy, i.e. mean reward, each example a round; OBD: replay CTR of the matched rows, pooled over the report seeds. Figures are "all rounds / last 20%".`,
    '',
    `Defaults within ${100 * TOLERANCE}% of the tuned reward (all rounds) on **${within} of ${measured}** problems that can tell. ${findings(q)}`,
    '',
    '| problem | what differs | defaults | tuned | defaults ÷ tuned | defaults − tuned, paired by seed (± se) | ÷ per report seed | ÷ (last 20%) | within 2% | oracle |',
    '|---|---|---:|---:|---:|---:|---:|---:|:---:|---:|',
    ...main,
    ...q.results.flatMap((r) => (r.replay === undefined ? [] : ['', replaySentence(r.name, r.replay)])),
    '',
    "Baselines on the same report seeds (all rounds): `lints-disjoint` is one Bayesian ridge regression per action (with the default and with the tuned priors and exploration; it learns no priors, so with the defaults it uses the fixed ones `sim/policies.ts` gives it), `egreedy` is context-free ε-greedy (ε = 0.1); uniform and the oracle are exact expected rewards (OBD: the logged random policy's CTR; its oracle is unknown).",
    '',
    '| problem | hybrid defaults | hybrid tuned | lints-disjoint defaults | lints-disjoint tuned | egreedy | uniform | oracle |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...baselines,
    '',
    'The configurations found, and the in-sample comparison on the tuning seeds (biased towards "tuned" by the selection). Where the winner sits at an end of a grid axis the optimum may lie beyond it, so the gap to the best configuration is at least the one shown:',
    '',
    '| problem | tuned configuration | defaults (tuning seeds) | tuned (tuning seeds) | tuning seeds | report seeds | configurations tried | seconds (wall / CPU) |',
    '|---|---|---:|---:|---|---|---:|---:|',
    ...configs,
  ].join('\n');
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  const v = parseCliArgs(process.argv.slice(2), {
    full: { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string' },
    'report-seeds': { type: 'string' },
    'obd-dir': { type: 'string' },
  });
  const report = await runQualityBench({
    full: v.full,
    ...(v.only !== undefined && { only: v.only.split(',') }),
    ...(v.rounds !== undefined && { rounds: parseNumberFlag('rounds', v.rounds, { integer: true, above: 0 }) }),
    ...(v['report-seeds'] !== undefined && {
      reportSeeds: parseNumberFlag('report-seeds', v['report-seeds'], { integer: true, above: 0 }),
    }),
    ...(v['obd-dir'] !== undefined && { obdDir: resolve(v['obd-dir']) }),
    onProgress: (m) => process.stderr.write(`${m}\n`),
  });
  process.stdout.write(`${formatQualityBench(report)}\n`);
}
