import { decisionPointSettingsSchema } from '../../shared/core/schemas.ts';
import { simulate } from '../../sim/simulate.ts';
import { generateWorld } from '../../sim/world.ts';
const w = generateWorld({ seed: 1, rounds: 30000, churnEvery: 0 });
const settings = decisionPointSettingsSchema.parse(w.config);
for (const refresh of [50, 1000000]) {
  const r = simulate(w.online, { settings, policy: 'hybrid', seed: 1, refresh }).result();
  console.log(refresh, r.roundsPerSecond.toFixed(0));
}
