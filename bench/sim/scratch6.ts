import { decisionPointSettingsSchema } from '../../shared/core/schemas.ts';
import { simulate } from '../../sim/simulate.ts';
import { warmStart } from '../../sim/warm-start.ts';
import { generateWorld } from '../../sim/world.ts';
const rounds = 50000;
for (const [delayShare, refresh, hist] of [[0.3, 50, 1], [0, 50, 1], [0, 5, 1], [0.3, 50, 0]] as const) {
  const w = generateWorld({ seed: 1, rounds, churnEvery: 5000, delayShare });
  const base = decisionPointSettingsSchema.parse(w.config);
  const settings = { ...base, priors: { ...base.priors, lambdaShared: 10, lambdaAction: 100 } };
  const ws = warmStart(w.history.map((value, i) => ({ value, line: i + 1 })), settings);
  for (const policy of ['hybrid', 'lints-disjoint'] as const) {
  const sim = simulate(w.online, { settings, policy, seed: 1, refresh, ...(hist ? { warmStart: ws } : {}) });
  const r = sim.result(); const c = sim.curve(10)!;
  console.log(policy, delayShare, refresh, hist, (r.lastWindowMeanExpectedReward! / r.oracle!.lastWindowMeanExpectedReward).toFixed(3), c.policy.map((v, i) => (v / c.oracle[i]!).toFixed(2)).join(' '));
  }
}
