// biome-ignore-all lint/suspicious/noExplicitAny: each benchmark module has its own result type; the runner only formats them
/**
 * `npm run bench [-- --full] [-- --only name,name]`: runs every benchmark in this process (or a child it starts),
 * prints the figures, and writes them to BENCHMARKS.md with the machine and the command. Default sizes finish in a
 * few minutes on a 2-core machine; `--full` uses the sizes the issues name (60 s load test, 100,000-event fault
 * harness). A benchmark that fails is reported as failed, not skipped silently.
 */
import { existsSync, writeFileSync } from 'node:fs';
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
      ].join('\n');
    },
  },
  {
    name: 'http',
    title: 'Local stack under load (engine in a child process, autocannon in this one)',
    module: './engine/http.bench.ts',
    run: async (m) => {
      const r = await m.runHttpBench({ seconds: full ? 60 : 10 });
      const row = (name: string, x: any) =>
        `| ${name} | ${x.requests} | ${f(x.perSecond)} | ${x.p50} | ${x.p99} | ${x.p999} | ${x.errors} | ${x.non2xx} |`;
      return [
        `${r.seconds} s of sustained decisions (8 connections) and feedback (2 connections) on ${r.actions} actions; everything (emulators, handlers, updater) runs in one local process.`,
        '',
        '| endpoint | requests | req/s | p50 ms | p99 ms | p99.9 ms | errors | non-2xx |',
        '|---|---:|---:|---:|---:|---:|---:|---:|',
        row('POST /v1/decisions', r.decisions),
        row('POST /v1/events', r.events),
        '',
        `Feedback to serving (POST /v1/events → the serving model's reward count moves), ${r.feedbackDelayMs.n} samples, refresh ${r.modelRefreshMs} ms: p50 ${f(r.feedbackDelayMs.p50, 0)} ms, p95 ${f(r.feedbackDelayMs.p95, 0)} ms, max ${f(r.feedbackDelayMs.max, 0)} ms.`,
      ].join('\n');
    },
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

const started = Date.now();
const out: string[] = [];
for (const s of sections) {
  if (only && !only.has(s.name)) continue;
  process.stderr.write(`bench: ${s.name} …\n`);
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

if (!only) {
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
