/**
 * Learning curves on the synthetic world: every policy, plus the oracle (best expected action each round) and
 * uniform, on the same online rounds (default 50,000, skewed history, churn every 5,000 rounds), mean expected
 * reward per window. Writes `docs/learning-curves.svg` and returns the last-window (last 20% of rounds) figures.
 *
 *   npx tsx bench/sim/learning-curves.bench.ts [--rounds 50000] [--seed 1] [--windows 50] [--out docs/learning-curves.svg]
 *
 * The world's settings (priors, exploration) were chosen on seeds 2–5; seed 1, the default here, was not used.
 * `hybrid (engine defaults)` is the same policy with the engine's default priors and exploration, for comparison.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseCliArgs, parseNumberFlag } from '../../cli/lib/args.ts';
import { POLICY_NAMES, type PolicyName } from '../../sim/policies.ts';
import { createProgress, type ProgressStream } from '../../sim/progress.ts';
import { parseSettings } from '../../sim/settings.ts';
import { type Curve, type SimulationSettings, simulate } from '../../sim/simulate.ts';
import { lineChart } from '../../sim/svg.ts';
import { warmStart } from '../../sim/warm-start.ts';
import { generateWorld } from '../../sim/world.ts';

export interface LearningCurveOptions {
  rounds?: number;
  seed?: number;
  windows?: number;
  /** Where to write the SVG; null to skip (default `docs/learning-curves.svg` in the repository). */
  out?: string | null;
  /** Where progress goes (default stderr). */
  progress?: ProgressStream;
}

export interface CurveRun {
  readonly name: string;
  /** Mean expected reward over the last 20% of rounds. */
  readonly lastWindow: number;
  readonly ratioToOracle: number;
  readonly meanExpectedReward: number;
  readonly roundsPerSecond: number;
  readonly curve: number[];
}

export interface LearningCurveReport {
  readonly seed: number;
  readonly rounds: number;
  readonly windows: number;
  readonly runs: CurveRun[];
  readonly oracle: { readonly lastWindow: number; readonly curve: number[] };
  readonly uniform: { readonly lastWindow: number; readonly ratioToOracle: number; readonly curve: number[] };
  /** Window centres (round index) of the curves. */
  readonly x: number[];
  readonly svgPath: string | undefined;
}

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

const COLORS: Record<string, string> = {
  hybrid: '#1f77b4',
  'hybrid (engine defaults)': '#17becf',
  'lints-disjoint': '#ff7f0e',
  egreedy: '#2ca02c',
  uniform: '#7f7f7f',
  oracle: '#000000',
};

export async function runLearningCurves(opts: LearningCurveOptions = {}): Promise<LearningCurveReport> {
  const rounds = opts.rounds ?? 50_000;
  const seed = opts.seed ?? 1;
  const windows = opts.windows ?? 50;
  const world = generateWorld({ seed, rounds, churnEvery: 5_000 });
  const tuned = parseSettings(world.config, 'world settings').settings;
  const engineDefaults = parseSettings(
    { contextDim: tuned.contextDim, actionDim: tuned.actionDim, rewards: tuned.rewards },
    'engine defaults',
  ).settings;
  const history = world.history.map((value, i) => ({ value, line: i + 1 }));
  const plans: { name: string; policy: PolicyName; settings: SimulationSettings }[] = [
    ...POLICY_NAMES.map((policy) => ({ name: policy, policy, settings: tuned })),
    { name: 'hybrid (engine defaults)', policy: 'hybrid', settings: engineDefaults },
  ];
  const runs: CurveRun[] = [];
  let reference: Curve | undefined;
  let oracleLast = Number.NaN;
  let uniformLast = Number.NaN;
  for (const plan of plans) {
    const progress = createProgress({
      label: `learning-curves ${plan.name}`,
      unit: 'rounds',
      total: rounds,
      ...(opts.progress !== undefined && { stream: opts.progress }),
    });
    const ws = warmStart(history, plan.settings);
    const sim = simulate(world.online, {
      settings: plan.settings,
      policy: plan.policy,
      seed,
      warmStart: ws,
      onProgress: (n) => progress.update(n),
    });
    progress.finish();
    const r = sim.result();
    const curve = sim.curve(windows);
    if (curve === undefined || r.oracle === undefined || r.uniform === undefined)
      throw new Error('world has no expected');
    reference ??= curve;
    oracleLast = r.oracle.lastWindowMeanExpectedReward;
    uniformLast = r.uniform.lastWindowMeanExpectedReward;
    runs.push({
      name: plan.name,
      lastWindow: r.lastWindowMeanExpectedReward as number,
      ratioToOracle: (r.lastWindowMeanExpectedReward as number) / oracleLast,
      meanExpectedReward: r.meanExpectedReward as number,
      roundsPerSecond: r.roundsPerSecond,
      curve: curve.policy,
    });
  }
  const ref = reference as Curve;
  const x = ref.bounds.slice(0, -1).map((b, i) => (b + (ref.bounds[i + 1] as number)) / 2);
  let svgPath: string | undefined;
  if (opts.out !== null) {
    svgPath = resolve(REPO_ROOT, opts.out ?? 'docs/learning-curves.svg');
    const svg = lineChart({
      title: `Mean expected reward per window (world seed ${seed}, ${rounds.toLocaleString('en-US')} rounds, churn every 5,000)`,
      xLabel: 'round',
      yLabel: 'mean expected reward',
      x,
      series: [
        { name: 'oracle', values: ref.oracle, color: COLORS.oracle as string, dashed: true },
        ...runs.map((r) => ({
          name: r.name,
          values: r.curve,
          color: COLORS[r.name] ?? '#d62728',
          dashed: r.name === 'uniform',
        })),
        { name: 'uniform (exact)', values: ref.uniform, color: '#bbbbbb', dashed: true },
      ],
    });
    await mkdir(dirname(svgPath), { recursive: true });
    await writeFile(svgPath, svg);
  }
  return {
    seed,
    rounds,
    windows,
    runs,
    oracle: { lastWindow: oracleLast, curve: ref.oracle },
    uniform: { lastWindow: uniformLast, ratioToOracle: uniformLast / oracleLast, curve: ref.uniform },
    x,
    svgPath,
  };
}

/** The printed summary: last-window figures and ratios to the oracle. */
export function summary(r: LearningCurveReport): string {
  const lines = [
    `learning curves: world seed ${r.seed}, ${r.rounds.toLocaleString('en-US')} online rounds, last window = last 20%`,
    `${'policy'.padEnd(28)}${'last window'.padEnd(14)}${'/ oracle'.padEnd(10)}rounds/s`,
  ];
  for (const run of r.runs) {
    lines.push(
      `${run.name.padEnd(28)}${run.lastWindow.toFixed(4).padEnd(14)}${`${(100 * run.ratioToOracle).toFixed(1)}%`.padEnd(10)}` +
        Math.round(run.roundsPerSecond).toLocaleString('en-US'),
    );
  }
  lines.push(`${'oracle'.padEnd(28)}${r.oracle.lastWindow.toFixed(4).padEnd(14)}100%`);
  lines.push(
    `${'uniform (exact)'.padEnd(28)}${r.uniform.lastWindow.toFixed(4).padEnd(14)}${(100 * r.uniform.ratioToOracle).toFixed(1)}%`,
  );
  if (r.svgPath !== undefined) lines.push(`chart: ${r.svgPath}`);
  return `${lines.join('\n')}\n`;
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  const v = parseCliArgs(process.argv.slice(2), {
    rounds: { type: 'string' },
    seed: { type: 'string' },
    windows: { type: 'string' },
    out: { type: 'string' },
  });
  const report = await runLearningCurves({
    ...(v.rounds !== undefined && { rounds: parseNumberFlag('rounds', v.rounds, { integer: true, above: 0 }) }),
    ...(v.seed !== undefined && { seed: parseNumberFlag('seed', v.seed, { integer: true, above: -1 }) }),
    ...(v.windows !== undefined && { windows: parseNumberFlag('windows', v.windows, { integer: true, above: 0 }) }),
    ...(v.out !== undefined && { out: resolve(v.out) }),
  });
  process.stdout.write(summary(report));
}
