import { generateWorld } from '../../sim/world.ts';
import { choleskyInPlace, choleskySolveInPlace } from '../../shared/core/bandit/linalg.ts';
const seed = Number(process.argv[2] ?? 1);
const w = generateWorld({ seed, rounds: 40000, churnEvery: 0, historyRounds: 0 });
const ids = w.online[0]!.actions.map((a) => a.id);
const n = w.online.length;
let oracle = 0, uni = 0;
const tot: Record<string, number> = {};
const bySeg = new Map<string, Record<string, number>>();
let pcSum = 0;
for (const r of w.online) {
  const e = r.expected!;
  let best = -1;
  for (const id of ids) { best = Math.max(best, e[id]!); uni += e[id]! / ids.length; tot[id] = (tot[id] ?? 0) + e[id]!; }
  oracle += best;
  const ctx = r.context as number[];
  const key = ctx.slice(0, 8).join('');
  const m = bySeg.get(key) ?? {}; for (const id of ids) m[id] = (m[id] ?? 0) + e[id]!; bySeg.set(key, m);
}
const staticBest = Math.max(...Object.values(tot));
let segBest = 0; for (const m of bySeg.values()) segBest += Math.max(...Object.values(m));
// linear per-action fit on half, greedy evaluated on the other half
const d = (w.online[0]!.context as number[]).length + 1;
const half = n / 2;
const coef: Record<string, Float64Array> = {};
for (const id of ids) {
  const A = new Float64Array(d * d), b = new Float64Array(d);
  for (let t = 0; t < half; t++) { const x = [1, ...(w.online[t]!.context as number[])]; const y = w.online[t]!.expected![id]!; for (let i = 0; i < d; i++) { b[i]! += x[i]! * y; for (let j = 0; j < d; j++) A[i * d + j]! += x[i]! * x[j]!; } }
  for (let i = 0; i < d; i++) A[i * d + i]! += 1e-6 * half;
  choleskyInPlace(A, d); choleskySolveInPlace(A, d, b); coef[id] = b;
}
let lin = 0, orc2 = 0;
for (let t = half; t < n; t++) { const x = [1, ...(w.online[t]!.context as number[])]; let bs = -Infinity, pick = ''; let ob = -1; for (const id of ids) { let s = 0; for (let i = 0; i < d; i++) s += coef[id]![i]! * x[i]!; if (s > bs) { bs = s; pick = id; } ob = Math.max(ob, w.online[t]!.expected![id]!); } lin += w.online[t]!.expected![pick]!; orc2 += ob; }
const f = (v: number) => (v / n).toFixed(4);
console.log('oracle', f(oracle), 'uniform', f(uni), (uni / oracle).toFixed(3), 'static', f(staticBest), (staticBest / oracle).toFixed(3), 'seg×stage best', f(segBest), (segBest / oracle).toFixed(3), 'linear ceiling', ((lin / orc2)).toFixed(3));
{
  let clicks = 0, purch = 0, n2 = 0;
  for (const r of w.online) for (const id of ids) { const ev = (r.events as any)[id]; n2++; if (ev) { clicks += ev.click ?? 0; purch += ev.purchase ?? 0; } }
  console.log('uniform CTR', (clicks / n2).toFixed(4), 'purchase/click', (purch / clicks).toFixed(3));
}
