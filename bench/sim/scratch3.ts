import { buildPosterior, DEFAULT_PRIORS } from '../../shared/core/bandit/posterior.ts';
import { addObservation, emptyStats } from '../../shared/core/bandit/stats.ts';
import { createRng } from '../../shared/core/random.ts';
for (const [d, m, K] of [[12, 8, 20], [12, 8, 50], [10, 7, 20], [10, 7, 50], [10,6,20]] as const) {
  const rng = createRng(1);
  const acts = Array.from({ length: K }, (_, a) => {
    const s = emptyStats(d);
    const x = new Float64Array(d);
    for (let t = 0; t < 100; t++) { for (let i = 0; i < d; i++) x[i] = rng.normal(); addObservation(s, x, rng.next()); }
    const f = new Float64Array(m); for (let j = 0; j < m; j++) f[j] = rng.normal();
    return { id: `a${a}`, features: f, stats: s };
  });
  for (let i = 0; i < 50; i++) buildPosterior({ d, m }, DEFAULT_PRIORS, acts);
  const t0 = performance.now();
  const N = 300;
  for (let i = 0; i < N; i++) buildPosterior({ d, m }, DEFAULT_PRIORS, acts);
  console.log(d, m, K, ((performance.now() - t0) / N).toFixed(3), 'ms/build');
}
