import { decisionPointSettingsSchema } from '../../shared/core/schemas.ts';
import { simulate } from '../../sim/simulate.ts';
import { warmStart } from '../../sim/warm-start.ts';
import { generateWorld } from '../../sim/world.ts';
import { POLICY_NAMES } from '../../sim/policies.ts';
const rounds = Number(process.argv[2] ?? 50000);
const seed = Number(process.argv[3] ?? 1);
let t0 = performance.now();
const w = generateWorld({ seed, rounds });
console.log('gen', (performance.now() - t0).toFixed(0), 'ms');
const settings = decisionPointSettingsSchema.parse(w.config);
const ws = warmStart(w.history.map((value, i) => ({ value, line: i + 1 })), settings);
for (const policy of POLICY_NAMES) {
  const sim = simulate(w.online, { settings, policy, seed, warmStart: ws });
  const r = sim.result();
  console.log(policy, JSON.stringify(r));
  console.log(' curve', sim.curve(10)?.policy.map((v) => v.toFixed(4)).join(' '));
}
