/**
 * Where the defaults still fall short of tuned (issue 13): the shared prior's strength λs on the generated world (20
 * actions, the quality benchmark's "world base", and 100 actions). The learned λs (empirical Bayes: the maximum of the
 * evidence, core/bandit/hyperparameters.ts) against fixed ones, and the near-greedy scale against a larger one, on
 * many seeds, because single runs on this world differ by more than the effects (one seed's defaults can lock onto a
 * poor action for the whole run).
 *
 * Every configuration is the `hybrid` policy of the fast simulator with the data's settings and the schema's defaults
 * (as in the quality benchmark), changing one setting: λs fixed at 10, 30 or 100 (λa and the noise prior still
 * learned), λa fixed at 1000, both λs = 30 and λa = 1000, or the Thompson scale 0.05. Figures: mean expected reward per round over all rounds, mean over seeds, and
 * each configuration's paired difference from the defaults (same world, same draws) with its standard error.
 *
 *   npx tsx bench/sim/prior-strength.bench.ts [--seeds 20] [--rounds 20000] [--actions 100]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseCliArgs, parseNumberFlag } from '../../cli/lib/args.ts';
import { parseSettings } from '../../sim/settings.ts';
import { simulate } from '../../sim/simulate.ts';
import { generateWorld, worldSettings } from '../../sim/world.ts';
import { meanSd } from './objectives.bench.ts';

export interface PriorStrengthOptions {
  seeds?: number;
  rounds?: number;
  actions?: number;
  onRun?: (config: string, seed: number) => void;
}

/** The configurations: a label and the settings beside the data's (the defaults have none). */
export const PRIOR_STRENGTH_CONFIGS: readonly { label: string; raw: Record<string, unknown> }[] = [
  { label: 'defaults (λs learned)', raw: {} },
  { label: 'λs = 10', raw: { priors: { lambdaShared: 10 } } },
  { label: 'λs = 30', raw: { priors: { lambdaShared: 30 } } },
  { label: 'λs = 100', raw: { priors: { lambdaShared: 100 } } },
  { label: 'λa = 1000', raw: { priors: { lambdaAction: 1000 } } },
  {
    label: 'λs = 30, λa = 1000 (the grid search’s usual winner)',
    raw: { priors: { lambdaShared: 30, lambdaAction: 1000 } },
  },
  { label: 'scale 0.05', raw: { exploration: { scale: 0.05 } } },
];

export interface PriorStrengthResult {
  seeds: number;
  rounds: number;
  actions: number;
  /** Per configuration, per seed (1 … seeds): mean expected reward over all rounds, and over the last 20%. */
  runs: { label: string; all: number[]; last: number[] }[];
  /** Per seed: the oracle's mean expected reward over all rounds. */
  oracle: number[];
}

export function runPriorStrengthBench(opts: PriorStrengthOptions = {}): PriorStrengthResult {
  const seeds = opts.seeds ?? 20;
  const rounds = opts.rounds ?? 20_000;
  const actions = opts.actions ?? 100;
  const world = { actions, churnEvery: 0, historyRounds: 0 };
  const probe = worldSettings({});
  const data = { contextDim: probe.contextDim, actionDim: probe.actionDim, rewards: probe.rewards };
  const runs = PRIOR_STRENGTH_CONFIGS.map((c) => ({ label: c.label, all: [] as number[], last: [] as number[] }));
  const oracle: number[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const w = generateWorld({ seed, rounds, ...world });
    PRIOR_STRENGTH_CONFIGS.forEach((c, i) => {
      const settings = parseSettings({ ...data, ...c.raw }, `prior-strength ${c.label}`).settings;
      const r = simulate(w.online, { settings, policy: 'hybrid', seed }).result();
      runs[i]!.all.push(r.meanExpectedReward ?? Number.NaN);
      runs[i]!.last.push(r.lastWindowMeanExpectedReward ?? Number.NaN);
      if (i === 0) oracle.push(r.oracle?.meanExpectedReward ?? Number.NaN);
      opts.onRun?.(c.label, seed);
    });
  }
  return { seeds, rounds, actions, runs, oracle };
}

const f = (v: number, digits = 4) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

export function formatPriorStrengthBench(r: PriorStrengthResult): string {
  const base = r.runs[0]!;
  const oracle = meanSd(r.oracle).mean;
  const rows = r.runs.map((run) => {
    const diff = run.all.map((v, s) => v - base.all[s]!);
    const d = meanSd(diff);
    const se = d.sd / Math.sqrt(diff.length);
    const wins = diff.filter((x) => x > 0).length;
    const all = meanSd(run.all);
    return `| ${run.label} | ${f(all.mean)} ± ${f(all.sd, 3)} | ${f(meanSd(run.last).mean)} | ${f((100 * all.mean) / oracle, 1)}% | ${run === base ? '–' : `${d.mean >= 0 ? '+' : ''}${f(d.mean)} ± ${f(se)}`} | ${run === base ? '–' : `${wins} / ${diff.length}`} |`;
  });
  return [
    `Generated world with ${r.actions} actions (the quality benchmark's "world ${r.actions === 20 ? 'base' : `${r.actions} actions`}"), ${r.rounds.toLocaleString('en-US')} rounds, seeds 1–${r.seeds}; \`hybrid\` policy of the fast simulator (\`bench/sim/prior-strength.bench.ts\`). Mean expected reward per round, mean ± sd over seeds; the paired difference from the defaults is mean ± standard error over seeds.`,
    '',
    '| configuration | all rounds | last 20% | of oracle (all rounds) | − defaults (paired) | seeds above the defaults |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  const v = parseCliArgs(process.argv.slice(2), {
    seeds: { type: 'string' },
    rounds: { type: 'string' },
    actions: { type: 'string' },
  });
  const result = runPriorStrengthBench({
    ...(v.seeds !== undefined && { seeds: parseNumberFlag('seeds', v.seeds, { integer: true, above: 0 }) }),
    ...(v.rounds !== undefined && { rounds: parseNumberFlag('rounds', v.rounds, { integer: true, above: 0 }) }),
    ...(v.actions !== undefined && { actions: parseNumberFlag('actions', v.actions, { integer: true, above: 1 }) }),
    onRun: (config, seed) => process.stderr.write(`prior-strength: ${config}, seed ${seed}\n`),
  });
  console.log(formatPriorStrengthBench(result));
}
