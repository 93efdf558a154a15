import { decisionPointSettingsSchema } from '../../shared/core/schemas.ts';
import { simulate } from '../../sim/simulate.ts';
import { warmStart } from '../../sim/warm-start.ts';
import { generateWorld } from '../../sim/world.ts';
const rounds = Number(process.argv[3] ?? 50000);
const w = generateWorld({ seed: 1, rounds, churnEvery: Number(process.argv[2] ?? 0) });
const base = decisionPointSettingsSchema.parse(w.config);
const ws = warmStart(w.history.map((value, i) => ({ value, line: i + 1 })), base);
const combos = JSON.parse(process.argv[4] ?? '[[1,1,1],[1,10,1],[1,30,1],[1,100,1],[1,100,0.5],[0.1,100,1]]');
for (const [ls, la, scale] of combos) {
  const settings = { ...base, exploration: { epsilon: 0.02, scale }, priors: { ...base.priors, lambdaShared: ls, lambdaAction: la } };
  const t0 = performance.now();
  const sim = simulate(w.online, { settings, policy: 'hybrid', seed: 1, warmStart: ws });
  const r = sim.result();
  const c = sim.curve(10)!;
  console.log(ls, la, scale, (r.lastWindowMeanExpectedReward! / r.oracle!.lastWindowMeanExpectedReward).toFixed(3), c.policy.map((v, i) => (v / c.oracle[i]!).toFixed(2)).join(' '), (performance.now()-t0).toFixed(0));
}
