import { generateWorld } from '../../sim/world.ts';
import { choleskyInPlace, choleskySolveInPlace } from '../../shared/core/bandit/linalg.ts';
const w = generateWorld({ seed: 1, rounds: 20000, churnEvery: 0, historyRounds: 0 });
const acts = w.online[0]!.actions.map((a) => ({ id: a.id, c: [1, ...(a.features as number[])] }));
const d = (w.online[0]!.context as number[]).length + 1, m = acts[0]!.c.length, k = d * m;
const half = w.online.length / 2;
const A = new Float64Array(k * k), b = new Float64Array(k); const z = new Float64Array(k);
for (let t = 0; t < half; t++) { const r = w.online[t]!; const x = [1, ...(r.context as number[])];
  for (const a of acts) { for (let i = 0; i < d; i++) for (let j = 0; j < m; j++) z[i * m + j] = x[i]! * a.c[j]!; const y = r.expected![a.id]!;
    for (let p = 0; p < k; p++) { if (z[p] === 0) continue; b[p]! += z[p]! * y; for (let q = 0; q < k; q++) A[p * k + q]! += z[p]! * z[q]!; } } }
for (let p = 0; p < k; p++) A[p * k + p]! += 1e-3;
choleskyInPlace(A, k); choleskySolveInPlace(A, k, b);
let got = 0, orc = 0;
for (let t = half; t < w.online.length; t++) { const r = w.online[t]!; const x = [1, ...(r.context as number[])]; let bs = -Infinity, pick = '', ob = -1;
  for (const a of acts) { let s = 0; for (let i = 0; i < d; i++) for (let j = 0; j < m; j++) s += b[i * m + j]! * x[i]! * a.c[j]!; if (s > bs) { bs = s; pick = a.id; } ob = Math.max(ob, r.expected![a.id]!); }
  got += r.expected![pick]!; orc += ob; }
console.log('shared bilinear ceiling', (got / orc).toFixed(3));
