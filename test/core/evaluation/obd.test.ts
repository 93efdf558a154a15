import { createReadStream, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { evaluatePolicy, readObdLog, uniformPolicy } from '../../../shared/core/evaluation/index.ts';

/*
 * Real data: the Open Bandit Dataset "Men" sample (Saito, Aihara, Matsutani, Narita 2021, arXiv 2008.07146; CC BY 4.0),
 * read in place, never copied into the repository. We estimate the uniform-random policy's CTR from the Bernoulli-TS
 * log and compare with the CTR the random policy actually achieved in its own log (46 / 10,000 = 0.46%).
 */
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const dir = process.env.OBD_DIR ?? resolve(repoRoot, '../shared/data/obd-men');
const present = existsSync(join(dir, 'bts', 'men.csv')) && existsSync(join(dir, 'random', 'men.csv'));
if (!present) console.log(`OBD sample not found at ${dir} (set OBD_DIR to its folder): skipping the real-data tests`);

const load = (policy: 'bts' | 'random') =>
  readObdLog({
    log: createReadStream(join(dir, policy, 'men.csv')),
    itemContext: createReadStream(join(dir, policy, 'item_context.csv')),
    logName: `${policy}/men.csv`,
  });

const pct = (x: number | null | undefined): string => (x == null ? '-' : `${(100 * x).toFixed(3)}%`);

describe.skipIf(!present)('Open Bandit Dataset, Men campaign sample', () => {
  it('uniform policy from the BTS log: ESS ≈ 656, and the recommended (DR) and SNIPS intervals hold the random CTR', async () => {
    const [bts, random] = await Promise.all([load('bts'), load('random')]);
    const clicks = random.rounds.reduce((s, r) => s + r.reward, 0);
    const randomCtr = clicks / random.rounds.length;
    const report = evaluatePolicy(bts, uniformPolicy, { seed: 0 });
    const e = report.estimates;
    console.log(
      [
        `OBD men: uniform target estimated from bts (n = ${report.n}); random log CTR ${pct(randomCtr)} (${clicks} clicks)`,
        `  ESS ${report.ess?.toFixed(1)}, max weight ${report.maxWeight?.toFixed(2)}, mean weight ${report.meanWeight?.toFixed(4)}`,
        ...(['dr', 'snips', 'dros', 'ips'] as const).map(
          (k) => `  ${k.padEnd(6)} ${pct(e[k]?.value)}  95% [${pct(e[k]?.lower)}, ${pct(e[k]?.upper)}]`,
        ),
        `  dm     ${pct(e.dm.value)}  (no interval)`,
        `  HCOPE lower bound (δ = 0.05) ${pct(report.lowerBound)}, Hoeffding ${pct(report.hoeffdingLowerBound)}, ` +
          `clip ${report.details.hcope?.clip.toFixed(4)}`,
        `  recommended: ${report.recommended}; warnings: ${report.warnings.join(' | ')}`,
      ].join('\n'),
    );

    expect(randomCtr).toBe(0.0046);
    expect(report.n).toBe(10_000);
    expect(report.ess).toBeCloseTo(655.7, 1);
    expect(report.maxWeight).toBeCloseTo(178.25, 2);
    expect(report.warnings[0]).toBe('effective sample size 656 of 10000 (6.6%): estimates are noisy');

    expect(report.recommended).toBe('dr');
    for (const k of ['dr', 'snips'] as const) {
      expect(e[k]!.lower).toBeLessThanOrEqual(randomCtr);
      expect(e[k]!.upper).toBeGreaterThanOrEqual(randomCtr);
    }
    // A valid lower bound below the truth, yet informative (above 0).
    expect(report.lowerBound!).toBeLessThanOrEqual(randomCtr);
    expect(report.lowerBound!).toBeGreaterThan(0);
    expect(report.lowerBound!).toBeGreaterThanOrEqual(report.hoeffdingLowerBound!);
  });

  it('on the random log itself every weight is 1 and IPS is the observed CTR', async () => {
    const random = await load('random');
    const report = evaluatePolicy(random, uniformPolicy);
    expect(report.maxWeight).toBeCloseTo(1, 6);
    expect(report.ess).toBeCloseTo(10_000, 0);
    expect(report.estimates.ips!.value).toBeCloseTo(0.0046, 6);
  });
});
