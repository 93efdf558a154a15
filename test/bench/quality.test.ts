/** The quality benchmark's parts: the data sets it reads, the grid it searches, and how it reports a missing data set. */
import { describe, expect, it } from 'vitest';
import { DATASET_NAMES, loadDataset } from '../../bench/sim/datasets.ts';
import {
  EXPLORATION_GRID,
  explorationConfigs,
  formatQualityBench,
  PRIOR_GRID,
  pairedDifference,
  priorConfigs,
  runQualityBench,
} from '../../bench/sim/quality.bench.ts';
import { parseSettings } from '../../sim/settings.ts';

describe('bench datasets', () => {
  // Sizes as the packages ship them, less the examples with a missing value: Fisher's iris (150), Palmer penguins
  // (2 of 344 lack measurements), Auto MPG (406 cars: 8 lack mpg, 6 horsepower), Seattle weather 2012–2015 (1,461 days).
  const expected = {
    iris: { examples: 150, features: 4, classes: 3 },
    penguins: { examples: 342, features: 4, classes: 3 },
    cars: { examples: 392, features: 7, classes: 3 },
    'seattle-weather': { examples: 1461, features: 6, classes: 5 },
  } as const;

  it.each(DATASET_NAMES)('%s loads complete numeric examples with a label per example', async (name) => {
    const data = await loadDataset(name);
    const want = expected[name];
    expect(data.examples).toHaveLength(want.examples);
    expect(data.classes).toHaveLength(want.classes);
    for (const e of data.examples) {
      expect(e.features).toHaveLength(want.features);
      expect(e.features.every(Number.isFinite)).toBe(true);
      expect(e.label).toBeGreaterThanOrEqual(0);
      expect(e.label).toBeLessThan(want.classes);
    }
    // Every class occurs.
    expect(new Set(data.examples.map((e) => e.label)).size).toBe(want.classes);
  });

  it('reads iris with its 50 examples per species', async () => {
    const data = await loadDataset('iris');
    expect(data.classes.map((_, c) => data.examples.filter((e) => e.label === c).length)).toEqual([50, 50, 50]);
  });
});

describe('quality grid', () => {
  it('searches the default priors and every grid point, each valid settings', () => {
    const configs = priorConfigs();
    expect(configs).toHaveLength(1 + 27);
    expect(configs[0]?.raw).toEqual({});
    for (const c of configs) parseSettings({ contextDim: 5, actionDim: 1, ...c.raw }, c.label);
    const corner = configs.find((c) => c.label === 'λs 1, λa 1000, σ0² 0.1');
    expect(corner?.edges).toEqual(['λs min', 'λa max']);
  });

  it('searches exploration around the best priors, keeping them', () => {
    const best = priorConfigs()[5]!;
    const configs = explorationConfigs(best);
    expect(configs).toHaveLength(EXPLORATION_GRID.scale.length * EXPLORATION_GRID.epsilon.length);
    for (const c of configs) {
      expect(c.raw.priors).toEqual(best.raw.priors);
      const s = parseSettings({ contextDim: 5, actionDim: 1, ...c.raw }, c.label).settings;
      expect(EXPLORATION_GRID.scale).toContain(s.exploration.scale);
      expect(PRIOR_GRID.lambdaShared).toContain(s.priors.lambdaShared);
    }
  });
});

describe('runQualityBench', () => {
  it('reports the OBD replay as skipped when its data is absent', async () => {
    const report = await runQualityBench({ only: ['OBD replay'], obdDir: '/nonexistent/obd-men' });
    expect(report.results).toHaveLength(1);
    expect(report.results[0]?.skipped).toMatch(/^skipped: data not found/);
    expect(formatQualityBench(report)).toContain('skipped: data not found at /nonexistent/obd-men');
  });

  it('never picks a configuration worse than the defaults on the tuning seeds, since the defaults are a candidate', async () => {
    const report = await runQualityBench({ only: ['bake-off iris'] });
    const r = report.results[0]!;
    expect(r.name).toBe('bake-off iris');
    expect(r.tunedOnTuningSeeds).toBeGreaterThanOrEqual(r.defaultsOnTuningSeeds);
    expect(r.tuneSeeds.some((s) => r.reportSeeds.includes(s))).toBe(false);
    expect(r.uniform?.all).toBeCloseTo(1 / 3, 12);
    expect(formatQualityBench(report)).toMatch(/^\| bake-off iris \|/m);
  });
});

describe('pairedDifference', () => {
  it('is the mean of the per-seed differences and its standard error, relative to the second run', () => {
    // d = (−0.2, 0, −0.1): mean −0.1, sample sd 0.1, se 0.1/√3; tuned's mean is 1.
    const p = pairedDifference([0.8, 1, 0.9], [1, 1, 1]);
    expect(p.mean).toBeCloseTo(-0.1, 12);
    expect(p.se).toBeCloseTo(0.1 / Math.sqrt(3), 12);
    // Relative, so the reward's unit does not move it; and a constant gap has no spread.
    const scaled = pairedDifference([40, 50, 45], [50, 50, 50]);
    expect(scaled.mean).toBeCloseTo(p.mean, 12);
    expect(scaled.se).toBeCloseTo(p.se, 12);
    expect(pairedDifference([0.3, 0.5], [0.4, 0.6]).se).toBeCloseTo(0, 12);
  });
});
