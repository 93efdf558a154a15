import { decisionPointSettingsSchema } from '../../shared/core/schemas.ts';
import { simulate } from '../../sim/simulate.ts';
import { warmStart } from '../../sim/warm-start.ts';
import { generateWorld } from '../../sim/world.ts';
const seed = Number(process.argv[2]); const rounds = Number(process.argv[3]);
const combos = JSON.parse(process.argv[4]!);
const w = generateWorld({ seed, rounds, churnEvery: 5000 });
const base = decisionPointSettingsSchema.parse(w.config);
const ws = warmStart(w.history.map((value, i) => ({ value, line: i + 1 })), base);
for (const [policy, ls, la, scale, eps] of combos) {
  const settings = { ...base, exploration: { epsilon: eps, scale }, priors: { ...base.priors, lambdaShared: ls, lambdaAction: la } };
  const sim = simulate(w.online, { settings, policy, seed, warmStart: ws });
  const r = sim.result(); const c = sim.curve(10)!;
  console.log(policy, ls, la, scale, eps, (r.lastWindowMeanExpectedReward! / r.oracle!.lastWindowMeanExpectedReward).toFixed(3), c.policy.map((v, i) => (v / c.oracle[i]!).toFixed(2)).join(' '));
}
