/**
 * One full offline evaluation pass over a large in-memory log: cross-fitted reward model, the per-round pass
 * (target probabilities + predictions for every candidate), IPS, SNIPS, DR, DRos (with its λ search), DM and HCOPE.
 *
 *   npx tsx bench/evaluation/offline-pass.bench.ts [--rounds N]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseCliArgs, parseNumberFlag } from '../../cli/lib/args.ts';
import { crossFitRewardModel, evaluatePolicy, simulateLog } from '../../shared/core/evaluation/index.ts';

export interface OffPolicyBenchResult {
  readonly rounds: number;
  readonly dim: number;
  readonly actions: number;
  /** Seconds to generate the log (not part of the pass). */
  readonly generateSeconds: number;
  /** Seconds to cross-fit the reward model (2 folds). */
  readonly fitSeconds: number;
  /** Seconds for the per-round pass, all estimators and HCOPE, given the fitted model. */
  readonly estimateSeconds: number;
  /** Seconds the simulated target policy alone takes to score every round (included in estimateSeconds). */
  readonly policySeconds: number;
  /** fit + estimate: one full evaluation. */
  readonly totalSeconds: number;
  readonly roundsPerSecond: number;
  readonly heapUsedMiB: number;
  readonly ess: number;
  readonly drosLambda: number | null;
}

const DIM = 16;
const ACTIONS = 20;

export async function runOffPolicyBench(opts: { rounds?: number } = {}): Promise<OffPolicyBenchResult> {
  const rounds = opts.rounds ?? 1_000_000;
  let t = performance.now();
  // Contexts come from a pool (shared Float64Arrays), so a million rounds fit in memory without a million vectors.
  const sim = simulateLog({ rounds, dim: DIM, actions: ACTIONS, contextPool: 20_000, propensityFloor: 0.01, seed: 7 });
  const generateSeconds = (performance.now() - t) / 1000;
  const range = { min: 0, max: 1 };
  t = performance.now();
  const model = crossFitRewardModel(sim.data.rounds, { range, seed: 1 });
  const fitSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const report = evaluatePolicy(sim.data, sim.target, { rewardModel: model, seed: 1 });
  const estimateSeconds = (performance.now() - t) / 1000;
  const totalSeconds = fitSeconds + estimateSeconds;
  // The target's own scoring cost, measured apart so the OPE overhead can be read off as estimate − policy.
  const scratch = new Float64Array(ACTIONS);
  t = performance.now();
  for (const round of sim.data.rounds) sim.target.distribution(round, scratch);
  const policySeconds = (performance.now() - t) / 1000;
  return {
    rounds,
    dim: DIM,
    actions: ACTIONS,
    generateSeconds,
    fitSeconds,
    estimateSeconds,
    policySeconds,
    totalSeconds,
    roundsPerSecond: rounds / totalSeconds,
    heapUsedMiB: process.memoryUsage().heapUsed / 2 ** 20,
    ess: report.ess ?? 0,
    drosLambda: report.details.drosLambda,
  };
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  const args = parseCliArgs(process.argv.slice(2), { rounds: { type: 'string' } });
  const rounds =
    args.rounds === undefined ? undefined : parseNumberFlag('rounds', args.rounds, { integer: true, above: 0 });
  const r = await runOffPolicyBench(rounds === undefined ? {} : { rounds });
  console.log(
    `offline OPE pass: ${r.rounds.toLocaleString('en-US')} rounds, d=${r.dim}, ${r.actions} actions on Node ${process.version}\n` +
      `  generate ${r.generateSeconds.toFixed(2)} s (not counted)\n` +
      `  fit      ${r.fitSeconds.toFixed(2)} s  (2-fold cross-fitted per-action ridge)\n` +
      `  estimate ${r.estimateSeconds.toFixed(2)} s  (pass + IPS, SNIPS, DR, DRos λ-search, DM, HCOPE)\n` +
      `           of which ${r.policySeconds.toFixed(2)} s is the target policy scoring 20 actions per round\n` +
      `  total    ${r.totalSeconds.toFixed(2)} s  = ${Math.round(r.roundsPerSecond).toLocaleString('en-US')} rounds/s\n` +
      `  heap ${r.heapUsedMiB.toFixed(0)} MiB, ESS ${r.ess.toFixed(0)}, DRos λ ${r.drosLambda ?? '∞ (plain DR)'}`,
  );
}
