import { decisionPointSettingsSchema } from '../../shared/core/schemas.ts';
import { simulate } from '../../sim/simulate.ts';
import { generateWorld } from '../../sim/world.ts';
const rounds = 20000;
const w = generateWorld({ seed: 1, rounds, churnEvery: 5000, delayShare: 0 });
const online = w.online.map((r) => ({ ...r, rewards: r.expected!, events: undefined }));
const base = decisionPointSettingsSchema.parse(w.config);
for (const [ls, la, nv] of [[1, 1, 0.25], [10, 100, 0.25], [1, 1, 0.01]] as const) {
  const settings = { ...base, priors: { ...base.priors, lambdaShared: ls, lambdaAction: la, noisePriorVariance: nv } };
  for (const policy of ['hybrid', 'lints-disjoint'] as const) {
    const sim = simulate(online, { settings, policy, seed: 1 });
    const r = sim.result(); const c = sim.curve(10)!;
    console.log(policy, ls, la, (r.lastWindowMeanExpectedReward! / r.oracle!.lastWindowMeanExpectedReward).toFixed(3), c.policy.map((v, i) => (v / c.oracle[i]!).toFixed(2)).join(' '));
  }
}
