import { decisionPointSettingsSchema } from '../../shared/core/schemas.ts';
import { simulate } from '../../sim/simulate.ts';
import { warmStart } from '../../sim/warm-start.ts';
import { generateWorld } from '../../sim/world.ts';
const rounds = 50000;
const w = generateWorld({ seed: 1, rounds, churnEvery: Number(process.argv[2] ?? 0) });
const base = decisionPointSettingsSchema.parse(w.config);
const ws = warmStart(w.history.map((value, i) => ({ value, line: i + 1 })), base);
for (const [scale, eps, hist] of [[1, 0.02, 0], [1, 0.02, 1], [0.25, 0.02, 1], [0, 0.02, 1], [0, 0.1, 1]] as const) {
  const settings = { ...base, exploration: { epsilon: eps, scale } };
  const sim = simulate(w.online, { settings, policy: 'hybrid', seed: 1, ...(hist ? { warmStart: ws } : {}) });
  const r = sim.result();
  console.log(scale, eps, hist, (r.lastWindowMeanExpectedReward! / r.oracle!.lastWindowMeanExpectedReward).toFixed(3), sim.curve(10)!.policy.map((v, i) => (v / sim.curve(10)!.oracle[i]!).toFixed(2)).join(' '));
}
