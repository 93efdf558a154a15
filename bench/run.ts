// biome-ignore-all lint/suspicious/noExplicitAny: each benchmark module has its own result type; the runner only formats them
/**
 * `npm run bench [-- --full] [-- --only name,name]`: runs every benchmark in this process (or a child it starts),
 * prints the figures, and writes them to BENCHMARKS.md with the machine and the command. Default sizes finish in a
 * few minutes on a 2-core machine; `--full` uses the sizes the issues name (60 s load test, 100,000-event fault
 * harness). A benchmark that fails is reported as failed, not skipped silently.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { machine } from './lib/stats.ts';

const full = process.argv.includes('--full');
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg > 0 ? new Set((process.argv[onlyArg + 1] ?? '').split(',')) : undefined;

interface Section {
  name: string;
  title: string;
  /** Module path relative to this file; the section is skipped (and says so) when it does not exist yet. */
  module: string;
  run: (mod: any) => Promise<string>;
}

const f = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

const sections: Section[] = [
  {
    name: 'scoring',
    title: 'Core scoring latency (one core, in process)',
    module: './core/scoring.bench.ts',
    run: async (m) => m.formatScoringBench(await m.runScoringBench({})),
  },
  {
    name: 'slots',
    title: 'Several slots: scoring, drawing and the per-slot propensities (one core, in process)',
    module: './core/slots.bench.ts',
    run: async (m) => m.formatSlotsBench(m.runSlotsBench({})),
  },
  {
    name: 'slots-learning',
    title: 'Several slots: learning from every slot (the engine, 10 seeds)',
    module: './sim/slots-learning.bench.ts',
    run: async (m) => m.formatSlotsLearning(await m.runSlotsLearningBench({})),
  },
  {
    name: 'dims',
    title: 'Context dimension: what 16 to 256 context slots cost',
    module: './core/context-dim.bench.ts',
    run: async (m) => m.formatContextDimBench(await m.runContextDimBench({})),
  },
  {
    name: 'snapshots',
    title: 'Snapshots: size, build once, decode per container',
    module: './core/snapshot.bench.ts',
    run: async (m) => m.formatSnapshotBench(await m.runSnapshotBench({})),
  },
  {
    name: 'handler',
    title: 'One decision in the decisions Lambda: CPU, allocations, bundle and init',
    module: './engine/handler-cost.bench.ts',
    run: async (m) => m.formatHandlerCostBench(await m.runHandlerCostBench({ calls: 1500 })),
  },
  {
    name: 'jobs',
    title: 'Decisions in bulk: decision jobs against the core, and a job of a million users',
    module: './engine/decision-jobs.bench.ts',
    run: async (m) => m.formatDecisionJobsBench(await m.runDecisionJobsBench({ users: 1_000_000 })),
  },
  {
    name: 'bulk-cost',
    title: 'Decisions in bulk: cost per million decisions by path',
    module: './engine/decision-jobs.bench.ts',
    run: async (m) => m.formatPathCosts(),
  },
  {
    name: 'fanout',
    title: 'Fan-out: state-table reads against decision containers (local stack)',
    module: './engine/fanout.bench.ts',
    run: async (m) => m.formatFanoutBench(await m.runFanoutSweep({ seconds: full ? 30 : 15 })),
  },
  {
    name: 'updater',
    title: 'Updater throughput against dynalite',
    module: './engine/updater.bench.ts',
    run: async (m) => {
      const r = await m.runUpdaterBench({ events: full ? 50_000 : 20_000 });
      return [
        `${r.records} stream records (${r.decisions} decisions, ${r.feedbackEvents} feedback events) applied by the real updater core in batches of ${r.batchSize}, exactly-once bookkeeping included.`,
        '',
        '| records/s | seconds | statistics writes | baseline: plain PutItem/s (1 per record, 16 in flight) | ratio |',
        '|---:|---:|---:|---:|---:|',
        `| ${f(r.recordsPerSecond, 0)} | ${f(r.seconds)} | ${r.statsWrites} | ${f(r.baselinePutsPerSecond, 0)} | ${f(r.recordsPerSecond / r.baselinePutsPerSecond, 2)} |`,
        '',
        'Statistics writes scale with (actions × batches), not with events. dynalite is a single-threaded emulator: absolute',
        "figures are the emulator's, the ratio to the plain-write baseline is the comparable number.",
        '',
        'Many concurrent writers on the same hot items (16 shards applying batches of 250 at once, every decision on one of 3 actions):',
        '',
        '| writer partitions per action | records | records/s | statistics writes | conflict retries | redelivered batches | impressions expected / stored |',
        '|---:|---:|---:|---:|---:|---:|---:|',
        ...r.concurrent.map(
          (c: any) =>
            `| ${c.partitions} | ${c.records} | ${f(c.recordsPerSecond, 0)} | ${c.statsWrites} | ${c.conflictRetries} | ${c.redeliveries} | ${c.impressionsExpected} / ${c.impressionsStored} |`,
        ),
      ].join('\n');
    },
  },
  {
    name: 'delay',
    title: 'Feedback to serving delay (local stack, engine in its own process)',
    module: './engine/feedback-delay.bench.ts',
    run: async (m) => {
      const r = await m.runFeedbackDelayBench({ samples: 30 });
      return [
        `${r.samples} samples, decisions containers polling their snapshot every ${r.modelRefreshMs} ms:`,
        '',
        '| POST /v1/events → | p50 ms | p95 ms | max ms |',
        '|---|---:|---:|---:|',
        `| the admin API's model counts the click (GET …/model: the state table, its cache refreshed every second) | ${f(r.learned.p50, 0)} | ${f(r.learned.p95, 0)} | ${f(r.learned.max, 0)} |`,
        `| decisions are served from a model that includes it (its snapshot) | ${f(r.served.p50, 0)} | ${f(r.served.p95, 0)} | ${f(r.served.max, 0)} |`,
        '',
        "Serving: the updater's batching window (1 s: the template's MaximumBatchingWindowInSeconds, which the twin honours), the stream poll (50 ms), the updater's work and its publish, then the container's poll (≤ 1.1 × the refresh interval). Before snapshots, when every container refreshed from the state table as the admin function still does, serving was measured as the first row: p50 2,025 ms, p95 2,058 ms.",
      ].join('\n');
    },
  },
  {
    name: 'replay',
    title: 'Fault-tolerant learning: the updater under replay with duplicates, poison, faults and a racing updater',
    module: './reliability/replay.ts',
    // The issue's 100,000 records with --full; NBA_RELIABILITY_EVENTS overrides either size.
    run: async (m) =>
      m.formatReplay(await m.runReplayInChild(Number(process.env.NBA_RELIABILITY_EVENTS ?? (full ? 100_000 : 20_000)))),
  },
  {
    name: 'load',
    title: 'Sustained decisions and feedback with zero errors (local stack, autocannon)',
    module: './reliability/load.bench.ts',
    run: async (m) => m.formatLoadBench(await m.runLoadBench({ seconds: full ? 60 : 20 })),
  },
  {
    name: 'catalog',
    title: 'A catalog of 1,000 live actions: scoring and container refresh',
    module: './catalog/catalog.bench.ts',
    run: async (m) => m.formatCatalogBench(await m.runCatalogBench({})),
  },
  {
    name: 'ope',
    title: 'Off-policy evaluation: one pass over 1,000,000 logged decisions',
    module: './evaluation/offline-pass.bench.ts',
    run: async (m) => {
      const r = await m.runOffPolicyBench({ rounds: 1_000_000 });
      return [
        `${r.rounds} rounds, d = ${r.dim}, ${r.actions} actions: reward model cross-fit ${f(r.fitSeconds, 2)} s, estimators + HCOPE pass ${f(r.estimateSeconds, 2)} s (of which the target policy's scoring ${f(r.policySeconds, 2)} s); ${f(r.rounds / (r.fitSeconds + r.estimateSeconds), 0)} rounds/s.`,
      ].join('\n');
    },
  },
];

sections.push(
  {
    name: 'retrain',
    title: 'Offline retraining: one pass over 1,000,000 logged decisions, and the Distributed Map cost model',
    module: './retrain/offline-pass.bench.ts',
    run: async (m) => m.formatRetrainBench(await m.runRetrainBench({ decisions: 1_000_000 })),
  },
  {
    name: 'learning',
    title: 'Learning curves on the synthetic NBA world (skewed history, churn, delayed rewards)',
    module: './sim/learning-curves.bench.ts',
    run: async (m) => {
      const r = await m.runLearningCurves({ rounds: 50_000, seed: 1 });
      return [
        '```',
        m.summary(r).trimEnd(),
        '```',
        '',
        '![learning curves](docs/learning-curves.svg)',
        '',
        '`hybrid` uses the priors and exploration in the generated decision-point config (λs = 10, λa = 1000, scale 0.25,',
        'ε = 0.02, chosen on seeds 2–5, not on the reported seed 1); `hybrid (engine defaults)` is the same engine with the',
        'decision point defaults.',
      ].join('\n');
    },
  },
  {
    name: 'simspeed',
    title: 'Simulator speed (fast mode, 20 actions)',
    module: './sim/throughput.bench.ts',
    run: async (m) =>
      [
        `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --only simspeed\` on ${machine()}, load average ${loadavg()[0]?.toFixed(1)} at the start (a shared machine: the ratios between rows of one run are the comparable figures).`,
        '',
        m.formatThroughput(await m.runThroughput({})),
      ].join('\n'),
  },
  {
    name: 'objectives',
    title: 'Several objectives: clicks alone vs `weighted` vs `intent` (engine in-process, synthetic population)',
    module: './sim/objectives.bench.ts',
    run: async (m) => m.formatObjectivesBench(await m.runObjectivesBench({ rounds: full ? 30_000 : 12_000, seed: 1 })),
  },
  {
    name: 'churn',
    title: 'Cold start under catalog churn: hybrid vs per-action-only (engine in-process)',
    module: './sim/churn.bench.ts',
    run: async (m) => m.formatChurnBench(await m.runChurnBench({ seed: 1, seeds: full ? 5 : 3 })),
  },
  {
    name: 'prior-strength',
    title: 'Where the defaults fall short: the shared prior on the worlds with 20 and 100 actions (20 seeds)',
    module: './sim/prior-strength.bench.ts',
    run: async (m) =>
      [20, 100]
        .map((actions) => m.formatPriorStrengthBench(m.runPriorStrengthBench({ seeds: full ? 40 : 20, actions })))
        .join('\n\n'),
  },
  {
    name: 'quality',
    title: "Learning quality: the engine's defaults against the best tuned configuration (worlds, bake-off, OBD)",
    module: './sim/quality.bench.ts',
    run: async (m) =>
      m.formatQualityBench(
        await m.runQualityBench({ full, onProgress: (msg: string) => process.stderr.write(`${msg}\n`) }),
      ),
  },
  {
    name: 'obd',
    title: 'Real logged data: Open Bandit Dataset, "Men" campaign sample (10,000 + 10,000 rows)',
    module: '../cli/evaluate.ts',
    run: async () => {
      const dir = process.env.OBD_DIR ?? new URL('../../shared/data/obd-men', import.meta.url).pathname;
      if (!existsSync(dir)) return `_not run: ${dir} is absent_`;
      const ope = JSON.parse(
        await runCli('cli/evaluate.ts', ['--log', `${dir}/bts/men.csv`, '--target', 'uniform', '--json']),
      );
      const replay = JSON.parse(await runCli('cli/replay-obd.ts', ['--dir', dir, '--json']));
      const pct = (v: number) => `${(100 * v).toFixed(3)}%`;
      const est = Object.entries(
        ope.estimates as Record<string, { value: number; lower: number | null; upper: number | null }>,
      ).map(
        ([k, e]) => `| ${k} | ${pct(e.value)} | ${e.lower === null ? '—' : `[${pct(e.lower)}, ${pct(e.upper!)}]`} |`,
      );
      return [
        "Off-policy estimate of the uniform-random policy's CTR from the Bernoulli-TS log (`npm run evaluate -- --log …/bts/men.csv --target uniform --json`); the truth to cover is the random log's observed CTR, 0.46% (46/10,000).",
        '',
        `n = ${ope.n}, effective sample size ${f(ope.ess, 0)}, max weight ${f(ope.maxWeight, 1)}; HCOPE 95% lower bound ${pct(ope.lowerBound)} (Hoeffding on the same clipped weights: ${pct(ope.hoeffdingLowerBound)}).`,
        '',
        '| estimator | value | 95% interval |',
        '|---|---:|---|',
        ...est,
        '',
        `Replay of the engine (${replay.policy}, seed ${replay.seed}) on the uniform-random log (Li et al. 2011: a row counts when the engine picks the logged item; \`npm run replay-obd -- --json\`), 95% Wilson intervals:`,
        '',
        '| policy | clicks / rows | CTR | 95% interval |',
        '|---|---:|---:|---|',
        ...(
          [
            ['engine (replay, matched rows)', replay.engine.rate],
            ['logged uniform random', replay.loggedRandom],
            ['logged Bernoulli TS', replay.loggedBts],
          ] as [string, { successes: number; trials: number; rate: number; lower: number; upper: number }][]
        ).map(
          ([name, r]) =>
            `| ${name} | ${r.successes} / ${r.trials} | ${pct(r.rate)} | [${pct(r.lower)}, ${pct(r.upper)}] |`,
        ),
        '',
        'With a few hundred matched rows and a CTR under 1%, the replay cannot rank the engine against either logged policy: the intervals overlap.',
      ].join('\n');
    },
  },
);

/** Runs one of the project's CLIs in a child process (so it sees the same argv and exit semantics a user gets). */
async function runCli(script: string, args: string[]): Promise<string> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', script, ...args],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${script} failed: ${stderr.slice(0, 500)}`));
        else resolve(stdout);
      },
    );
  });
}

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  // Before anything runs: asking how to run the benchmarks must not start minutes of them.
  console.log(
    [
      'usage: npm run bench [-- --full] [-- --only NAME[,NAME…]]',
      '',
      '  --full        the sizes the issues name (longer; default sizes finish in minutes on 2 cores)',
      '  --only NAMES  run only these sections (comma-separated); the rest of BENCHMARKS.md is kept',
      '',
      'sections:',
      ...sections.map((s) => `  ${s.name.padEnd(14)}${s.title}`),
    ].join('\n'),
  );
  process.exit(0);
}
const unknown = only ? [...only].filter((n) => !sections.some((s) => s.name === n)) : [];
if (unknown.length > 0) {
  console.error(`bench: unknown section ${unknown.join(', ')}; npm run bench -- --help lists them`);
  process.exit(2);
}

const started = Date.now();
const out: string[] = [];
for (const s of sections) {
  if (only && !only.has(s.name)) continue;
  process.stderr.write(`bench: ${s.name} (${s.title}) … started ${new Date().toISOString().slice(11, 19)}\n`);
  let body: string;
  if (!existsSync(new URL(s.module, import.meta.url))) body = `_not run: ${s.module} does not exist in this build_`;
  else {
    const t0 = performance.now();
    try {
      body = await s.run(await import(s.module));
    } catch (err) {
      body = `**failed:** ${err instanceof Error ? err.message : String(err)}`;
    }
    body += `\n\n_(${f((performance.now() - t0) / 1000)} s)_`;
  }
  console.log(`\n## ${s.title}\n\n${body}`);
  out.push(`## ${s.title}\n\n${body}`);
}

if (only) {
  // Refresh just these sections of BENCHMARKS.md, keeping the others as they were measured.
  const file = new URL('../BENCHMARKS.md', import.meta.url);
  if (existsSync(file)) {
    let doc = readFileSync(file, 'utf8');
    for (const section of out) {
      const title = section.slice(0, section.indexOf('\n'));
      const at = doc.indexOf(`${title}\n`);
      if (at < 0) {
        // A section not yet in the file goes before the first section listed after it that is, else at the end.
        const later = sections.slice(sections.findIndex((x) => `## ${x.title}` === title) + 1);
        const before = later.map((x) => doc.indexOf(`\n## ${x.title}\n`)).find((i) => i >= 0);
        doc =
          before === undefined
            ? `${doc.trimEnd()}\n\n${section}\n`
            : `${doc.slice(0, before)}\n${section}\n${doc.slice(before)}`;
        continue;
      }
      const next = doc.indexOf('\n## ', at + title.length);
      doc = `${doc.slice(0, at)}${section}\n${next < 0 ? '' : doc.slice(next)}`;
    }
    writeFileSync(file, doc);
    process.stderr.write('bench: updated those sections of BENCHMARKS.md\n');
  }
} else {
  const header = [
    '# Benchmarks',
    '',
    `Measured ${new Date(started).toISOString().slice(0, 10)} with \`npm run bench${full ? ' -- --full' : ''}\` on ${machine()}.`,
    'Figures are from one run; the machine was otherwise idle unless stated. Tests assert behaviour; these files measure speed.',
    '',
  ];
  writeFileSync(new URL('../BENCHMARKS.md', import.meta.url), `${[...header, ...out].join('\n\n')}\n`);
  process.stderr.write('bench: wrote BENCHMARKS.md\n');
}
