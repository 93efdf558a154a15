/**
 * The shared part's view of x as the rule in posterior.ts states it (`sharedSketch`), written out independently: x
 * itself when d·m ≤ 256, else s = ⌊256/m⌋ slots, the bias kept in slot 0, entry u ≥ 1 added to slot
 * 1 + ((u − 1) mod (s − 1)) with sign −1 when bit 16 of u·0x9E3779B1 (mod 2³²) is set.
 */
export function sharedView(d: number, m: number, x: Float64Array): number[] {
  if (d * m <= 256) return Array.from(x);
  const s = Math.floor(256 / m);
  const out = new Array<number>(s).fill(0);
  out[0] = x[0] as number;
  for (let u = 1; u < d; u++) {
    const bit = Number(((BigInt(u) * 0x9e3779b1n) % 2n ** 32n) >> 16n) & 1;
    const at = 1 + ((u - 1) % (s - 1));
    out[at] = (out[at] as number) + (bit ? -1 : 1) * (x[u] as number);
  }
  return out;
}
