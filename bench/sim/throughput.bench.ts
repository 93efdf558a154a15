/**
 * Fast-mode throughput and memory.
 *
 * 1. In memory, per policy, on gen-world's world (20 live actions): the simulation proper (encode, score, sample,
 *    learn, rebuild every 50 rounds), rounds already parsed.
 * 2. From a file against the in-memory core: a file shaped like a user's export (20 candidates of 8 dense features
 *    each listed on every round, a dense context of 9, `rewards` and `expected`; `bench/sim/dense-file.ts`) run by
 *    `npm run simulate -- --online FILE --json --seed S` (no settings file: the dimensions are inferred), and the same
 *    rounds parsed into memory first and then run by the same core. Each run is a process of its own, started cold
 *    as a user's is (a process that held the other's parsed rounds would pay for them in garbage collection); the
 *    in-memory run times the simulation only. The ratio file ÷ memory is what the reading path costs; 1.0 would be
 *    free.
 * 3. Peak resident memory of `npm run simulate` (a child process each, its own `maxRSS`) on two files of 100
 *    candidates each, one four times the other, and with `--history` files of gen-world's history (N and 4N lines):
 *    flat means the files are streamed.
 *
 *   npx tsx bench/sim/throughput.bench.ts [--rounds 50000] [--churn-every 0] [--memory-rounds 10000]
 *                                         [--history-lines 40000]
 *
 * Each timed figure is the median of 3 runs (seeds 1–3): in memory after a warm-up run; from the file, cold processes,
 * the file and in-memory runs interleaved so that load from elsewhere on a shared machine hits both alike. Besides
 * wall-clock rates, rounds per CPU-second of the process (all its threads, GC included) are reported.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runGenWorld } from '../../cli/gen-world.ts';
import { parseCliArgs, parseNumberFlag } from '../../cli/lib/args.ts';
import { runSimulate } from '../../cli/simulate.ts';
import { type OnlineRound, onlineLineParser, readJsonLines } from '../../sim/formats.ts';
import { POLICY_NAMES, type PolicyName } from '../../sim/policies.ts';
import { parseSettings } from '../../sim/settings.ts';
import { simulate } from '../../sim/simulate.ts';
import { generateWorld } from '../../sim/world.ts';
import { writeDenseFile } from './dense-file.ts';

export interface RateFigures {
  /** Rounds per second, wall clock (median of 3). */
  readonly wall: number;
  /** Rounds per CPU-second of the process (median of 3). */
  readonly cpu: number;
}

export interface MemoryFigure {
  /** Lines of the file measured (rounds, or history lines). */
  readonly rounds: number;
  readonly fileMiB: number;
  /** Peak resident set size of the simulate process. */
  readonly peakMiB: number;
}

export interface ThroughputReport {
  readonly rounds: number;
  readonly actions: number;
  readonly churnEvery: number;
  /** In memory on gen-world's world, per policy. */
  readonly inMemory: Record<PolicyName, RateFigures>;
  /** The dense file: its shape and size. */
  readonly file: { readonly actions: number; readonly actionFeatures: number; readonly contextFeatures: number };
  readonly fileMiB: number;
  /** The dense file's rounds, parsed beforehand, run by the core (hybrid). */
  readonly fileRoundsInMemory: RateFigures;
  /** `simulate --json` on the dense file (hybrid). */
  readonly fromFile: RateFigures;
  /** Peak memory on two file sizes (100 candidates per round). */
  readonly memory: readonly MemoryFigure[];
  /** Peak memory with `--history` files of two sizes (gen-world's history, 100 online rounds). */
  readonly historyMemory: readonly MemoryFigure[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function timed(run: () => Promise<number> | number): Promise<{ wall: number; cpu: number }> {
  const before = process.cpuUsage();
  const roundsPerSecond = await run();
  const used = process.cpuUsage(before);
  return { wall: roundsPerSecond, cpu: (used.user + used.system) / 1e6 };
}

const quiet = { write: () => true };

/** How a child process runs the dense file: `npm run simulate` on it, or its rounds parsed first, then the core. */
interface RateJob {
  readonly mode: 'file' | 'memory';
  readonly path: string;
  readonly seed: number;
  /** The dimensions `simulate` infers from the file, for the in-memory run's settings. */
  readonly contextDim: number;
  readonly actionDim: number;
}

/** The child's side of {@link childRate}: one run, then `{ wall, cpu }` (rounds per second and per CPU-second). */
async function runRateJob(job: RateJob): Promise<{ wall: number; cpu: number }> {
  if (job.mode === 'file') {
    const out: string[] = [];
    const before = process.cpuUsage();
    const code = await runSimulate(['--online', job.path, '--json', '--seed', String(job.seed)], {
      stdout: { write: (s) => out.push(s) > 0 },
      stderr: quiet,
    });
    const used = process.cpuUsage(before);
    if (code !== 0) throw new Error(`simulate exited with ${code} on ${job.path}`);
    const r = JSON.parse(out.join('')) as { roundsPerSecond: number; rounds: number };
    return { wall: r.roundsPerSecond, cpu: r.rounds / ((used.user + used.system) / 1e6) };
  }
  const parsed: OnlineRound[] = [];
  for await (const { value } of readJsonLines(job.path, onlineLineParser())) parsed.push(value);
  const dense = parseSettings({ contextDim: job.contextDim, actionDim: job.actionDim }, 'dense');
  const before = process.cpuUsage();
  const wall = simulate(parsed, { settings: dense.settings, seed: job.seed }).result().roundsPerSecond;
  const used = process.cpuUsage(before);
  return { wall, cpu: parsed.length / ((used.user + used.system) / 1e6) };
}

/** {@link runRateJob} in a process of its own. */
function childRate(job: RateJob): Promise<{ wall: number; cpu: number }> {
  return childJson(['--rate-of', JSON.stringify(job)]) as Promise<{ wall: number; cpu: number }>;
}

/** Peak RSS of `simulate` with these arguments (and `--json`), measured in a child process of its own. */
async function peakRss(args: readonly string[]): Promise<number> {
  return (await childJson(['--peak-rss-of', JSON.stringify(args)])) as number;
}

/** Runs this file as a child with `args` and parses what it prints. */
function childJson(args: readonly string[]): Promise<unknown> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--import', 'tsx', self, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
    });
    child.on('error', rej);
    child.on('close', (code) => {
      if (code !== 0) rej(new Error(`child ${args[0]} exited with ${code}`));
      else res(JSON.parse(text));
    });
  });
}

export async function runThroughput(
  opts: { rounds?: number; churnEvery?: number; memoryRounds?: number; historyLines?: number } = {},
): Promise<ThroughputReport> {
  const rounds = opts.rounds ?? 50_000;
  const churnEvery = opts.churnEvery ?? 0;
  const memoryRounds = opts.memoryRounds ?? 10_000;
  const historyLines = opts.historyLines ?? 40_000;
  const world = generateWorld({ seed: 1, rounds, churnEvery, historyRounds: 0 });
  const { settings } = parseSettings(world.config, 'world settings');
  (globalThis as { gc?: () => void }).gc?.();
  const inMemory = {} as Record<PolicyName, RateFigures>;
  for (const policy of POLICY_NAMES) {
    simulate(world.online.slice(0, 5000), { settings, policy });
    const runs = [];
    for (const seed of [1, 2, 3])
      runs.push(await timed(() => simulate(world.online, { settings, policy, seed }).result().roundsPerSecond));
    inMemory[policy] = { wall: median(runs.map((r) => r.wall)), cpu: median(runs.map((r) => rounds / r.cpu)) };
  }

  const dir = await mkdtemp(join(tmpdir(), 'sim-throughput-'));
  try {
    const file = { actions: 20, actionFeatures: 8, contextFeatures: 9 };
    const path = join(dir, 'online.jsonl');
    const bytes = await writeDenseFile(path, { rounds, ...file, seed: 1 });
    const mem: { wall: number; cpu: number }[] = [];
    const disk: { wall: number; cpu: number }[] = [];
    const dims = { contextDim: file.contextFeatures + 1, actionDim: file.actionFeatures + 1 };
    for (const seed of [1, 2, 3]) {
      mem.push(await childRate({ mode: 'memory', path, seed, ...dims }));
      disk.push(await childRate({ mode: 'file', path, seed, ...dims }));
    }
    const rate = (xs: { wall: number; cpu: number }[]) => ({
      wall: median(xs.map((r) => r.wall)),
      cpu: median(xs.map((r) => r.cpu)),
    });

    const memory: MemoryFigure[] = [];
    for (const n of [memoryRounds, 4 * memoryRounds]) {
      const big = join(dir, `memory-${n}.jsonl`);
      const size = await writeDenseFile(big, {
        rounds: n,
        actions: 100,
        actionFeatures: 8,
        contextFeatures: 9,
        seed: 2,
      });
      memory.push({ rounds: n, fileMiB: size / 2 ** 20, peakMiB: (await peakRss(['--online', big])) / 2 ** 20 });
      await rm(big);
    }
    const historyMemory: MemoryFigure[] = [];
    for (const n of [historyLines, 4 * historyLines]) {
      const out = join(dir, `history-${n}`);
      const world = ['--seed', '1', '--rounds', '100', '--history-rounds', String(n), '--out', out];
      await runGenWorld(world, { stdout: quiet, stderr: quiet });
      const history = join(out, 'history.jsonl');
      const size = (await stat(history)).size;
      const peak = await peakRss(['--online', join(out, 'online.jsonl'), '--history', history]);
      historyMemory.push({ rounds: n, fileMiB: size / 2 ** 20, peakMiB: peak / 2 ** 20 });
      await rm(out, { recursive: true });
    }
    return {
      rounds,
      actions: 20,
      churnEvery,
      inMemory,
      file,
      fileMiB: bytes / 2 ** 20,
      fileRoundsInMemory: rate(mem),
      fromFile: rate(disk),
      memory,
      historyMemory,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const n0 = (v: number) => Math.round(v).toLocaleString('en-US');

/** The report as the Markdown section of BENCHMARKS.md. */
export function formatThroughput(r: ThroughputReport): string {
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  return [
    `${n0(r.rounds)} rounds, ${r.actions} actions, churn every ${r.churnEvery}.`,
    '',
    '| run | rounds/s (wall) | rounds per CPU-second |',
    '|---|---:|---:|',
    ...POLICY_NAMES.map(
      (p) => `| ${p} (in memory, gen-world) | ${n0(r.inMemory[p].wall)} | ${n0(r.inMemory[p].cpu)} |`,
    ),
    '',
    `From a file of ${n0(r.rounds)} rounds (${r.fileMiB.toFixed(0)} MiB) listing ${r.file.actions} candidates with ${r.file.actionFeatures} dense features each on every round, a dense context of ${r.file.contextFeatures}, \`rewards\` and \`expected\` (\`bench/sim/dense-file.ts\`), hybrid policy, no settings file (contextDim ${r.file.contextFeatures + 1} and actionDim ${r.file.actionFeatures + 1} inferred), against the same rounds parsed into memory first, each run a cold process of its own (median of 3 seeds, interleaved):`,
    '',
    '| run | rounds/s (wall) | rounds per CPU-second |',
    '|---|---:|---:|',
    `| in memory (the core alone) | ${n0(r.fileRoundsInMemory.wall)} | ${n0(r.fileRoundsInMemory.cpu)} |`,
    `| \`npm run simulate -- --online FILE --json\` | ${n0(r.fromFile.wall)} | ${n0(r.fromFile.cpu)} |`,
    `| ratio file ÷ memory | ${ratio(r.fromFile.wall, r.fileRoundsInMemory.wall)} | ${ratio(r.fromFile.cpu, r.fileRoundsInMemory.cpu)} |`,
    '',
    'Peak resident memory of `npm run simulate -- --online FILE --json` (its own process), 100 candidates per round:',
    '',
    '| rounds | file | peak RSS |',
    '|---:|---:|---:|',
    ...r.memory.map((m) => `| ${n0(m.rounds)} | ${m.fileMiB.toFixed(0)} MiB | ${m.peakMiB.toFixed(0)} MiB |`),
    '',
    'The same with a `--history` file (gen-world, 20 candidates with features per line; the warm start reads it as a stream):',
    '',
    '| history lines | file | peak RSS |',
    '|---:|---:|---:|',
    ...r.historyMemory.map((m) => `| ${n0(m.rounds)} | ${m.fileMiB.toFixed(0)} MiB | ${m.peakMiB.toFixed(0)} MiB |`),
  ].join('\n');
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  const v = parseCliArgs(process.argv.slice(2), {
    rounds: { type: 'string' },
    'churn-every': { type: 'string' },
    'memory-rounds': { type: 'string' },
    'history-lines': { type: 'string' },
    'peak-rss-of': { type: 'string' },
    'rate-of': { type: 'string' },
  });
  const child = v['peak-rss-of'];
  const rateJob = v['rate-of'];
  if (rateJob !== undefined) {
    process.stdout.write(`${JSON.stringify(await runRateJob(JSON.parse(rateJob) as RateJob))}\n`);
  } else if (child !== undefined) {
    // The child of the memory measurement: one simulation, then its own peak RSS in bytes on stdout.
    const code = await runSimulate([...(JSON.parse(child) as string[]), '--json'], { stdout: quiet, stderr: quiet });
    if (code !== 0) process.exit(code);
    process.stdout.write(`${process.resourceUsage().maxRSS * 1024}\n`);
  } else {
    const int = (name: string, s: string | undefined) =>
      s === undefined ? undefined : parseNumberFlag(name, s, { integer: true, above: name === 'churn-every' ? -1 : 0 });
    const rounds = int('rounds', v.rounds);
    const churnEvery = int('churn-every', v['churn-every']);
    const memoryRounds = int('memory-rounds', v['memory-rounds']);
    const historyLines = int('history-lines', v['history-lines']);
    const r = await runThroughput({
      ...(rounds !== undefined && { rounds }),
      ...(churnEvery !== undefined && { churnEvery }),
      ...(memoryRounds !== undefined && { memoryRounds }),
      ...(historyLines !== undefined && { historyLines }),
    });
    process.stdout.write(`${formatThroughput(r)}\n`);
  }
}
