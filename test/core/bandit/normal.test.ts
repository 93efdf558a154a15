import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  erf,
  erfc,
  erfcxNonNegative,
  lastHazard,
  logCdfTable,
  logNormalCdf,
  normalCdf,
  normalHazard,
} from '../../../shared/core/bandit/normal.ts';

// Reference values from mpmath at 40 significant digits.
const ERFC: [number, number][] = [
  [0, 1],
  [1e-10, 0.999999999887162],
  [0.1, 0.8875370839817152],
  [0.3, 0.6713732405408726],
  [0.46875, 0.507386526782062],
  [0.5, 0.4795001221869535],
  [0.75, 0.28884436634648486],
  [1, 0.15729920705028513],
  [1.5, 0.033894853524689274],
  [2, 0.004677734981047266],
  [3, 0.00002209049699858544],
  [3.99, 1.6739211364520844e-8],
  [4, 1.541725790028002e-8],
  [4.5, 1.9661604415428876e-10],
  [6, 2.1519736712498913e-17],
  [10, 2.088487583762545e-45],
  [20, 5.395865611607901e-176],
  [26, 5.663192408856143e-296],
  [-0.2, 1.2227025892104784],
  [-0.5, 1.5204998778130465],
  [-1, 1.8427007929497148],
  [-3, 1.9999779095030015],
  [-6, 2],
];

const LOG_CDF: [number, number][] = [
  [-40, -804.6084420137538],
  [-20, -203.91715537109727],
  [-10, -53.23128515051247],
  [-5, -15.064998393988725],
  [-1, -1.8410216450092636],
  [-0.5, -1.1759117615936185],
  [0, -Math.LN2],
  [0.5, -0.3689464152886564],
  [1, -0.17275377902344988],
  [3, -0.0013508099647481938],
  [6, -9.865876455243758e-10],
  [10, -7.619853024160525e-24],
];

const HAZARD: [number, number][] = [
  [-40, 40.02496884720726],
  [-10, 10.098093233962512],
  [-2, 2.373215532822841],
  [0, 0.7978845608028654],
  [2, 0.055247862678989956],
  [8, 5.052271083536895e-15],
];

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('erfc (Cody rational approximations)', () => {
  it('is accurate to a few ulps against high-precision values, deep tail included', () => {
    for (const [x, want] of ERFC) expect(rel(erfc(x), want), `erfc(${x})`).toBeLessThan(3e-15);
  });

  it('satisfies erfc(x) + erfc(−x) = 2 and erf = 1 − erfc', () => {
    fc.assert(
      fc.property(fc.double({ min: -6, max: 6, noNaN: true }), (x) => {
        expect(Math.abs(erfc(x) + erfc(-x) - 2)).toBeLessThan(4e-16 * 4);
        expect(Math.abs(erf(x) - (1 - erfc(x)))).toBeLessThan(4e-16 * 4);
      }),
    );
  });

  it('keeps exp(x²)·erfc(x) finite where erfc underflows', () => {
    expect(erfc(40)).toBe(0);
    expect(rel(erfcxNonNegative(40), 0.014100335983377814)).toBeLessThan(1e-14);
    expect(rel(erfcxNonNegative(1e9), 1 / (1e9 * Math.sqrt(Math.PI)))).toBeLessThan(1e-15);
  });
});

describe('log Φ and φ/Φ', () => {
  it('log Φ is accurate in both tails (where Φ underflows, or rounds to 1)', () => {
    for (const [z, want] of LOG_CDF) expect(rel(logNormalCdf(z), want), `logΦ(${z})`).toBeLessThan(1e-14);
    expect(normalCdf(-40)).toBe(0); // Φ itself underflows there, log Φ above does not
  });

  it('φ/Φ is accurate everywhere', () => {
    for (const [z, want] of HAZARD) expect(rel(normalHazard(z), want), `h(${z})`).toBeLessThan(1e-14);
  });

  it('the interpolation table matches the exact functions on [−8, 8.5]', () => {
    let worstLog = 0;
    let worstHazard = 0;
    for (let i = 0; i <= 200_000; i++) {
      const z = -8 + (16.5 * i) / 200_000 - 1e-9;
      const f = logCdfTable(z);
      const h = lastHazard();
      worstLog = Math.max(worstLog, Math.abs(f - logNormalCdf(z)));
      worstHazard = Math.max(worstHazard, Math.abs(h - normalHazard(z)));
    }
    expect(worstLog).toBeLessThan(3e-14);
    expect(worstHazard).toBeLessThan(3e-12);
  });
});
