/**
 * Fast-mode throughput with 20 live actions: rounds per second of the in-process simulation, for each policy, with
 * the rounds already in memory (the simulation proper: encode, score, sample, learn, rebuild every 50 rounds), and
 * end to end through `npm run simulate` (reading, JSON parsing and zod validation of every line included).
 *
 *   npx tsx bench/sim/throughput.bench.ts [--rounds 50000] [--churn-every 0]
 *
 * Each in-memory figure is the median of 3 runs after a warm-up run; the world is generated (and garbage collected,
 * when --expose-gc is on) before any timing starts. Besides wall-clock rates, rounds per CPU-second of this process
 * (all its threads, GC included) are reported: on a shared machine they say what an idle one would do.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runGenWorld } from '../../cli/gen-world.ts';
import { parseCliArgs, parseNumberFlag } from '../../cli/lib/args.ts';
import { runSimulate } from '../../cli/simulate.ts';
import { POLICY_NAMES, type PolicyName } from '../../sim/policies.ts';
import { parseSettings } from '../../sim/settings.ts';
import { simulate } from '../../sim/simulate.ts';
import { generateWorld } from '../../sim/world.ts';

export interface ThroughputReport {
  readonly rounds: number;
  readonly actions: number;
  readonly churnEvery: number;
  /** Rounds per second in memory, per policy (median of 3). */
  readonly inMemory: Record<PolicyName, number>;
  /** Rounds per CPU-second of the process in memory, per policy (median of 3). */
  readonly inMemoryCpu: Record<PolicyName, number>;
  /** Rounds per second of `simulate --json` on the same world written to disk (hybrid). */
  readonly endToEnd: number;
  /** The same per CPU-second of the process. */
  readonly endToEndCpu: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export async function runThroughput(opts: { rounds?: number; churnEvery?: number } = {}): Promise<ThroughputReport> {
  const rounds = opts.rounds ?? 50_000;
  const churnEvery = opts.churnEvery ?? 0;
  const world = generateWorld({ seed: 1, rounds, churnEvery, historyRounds: 0 });
  const { settings } = parseSettings(world.config, 'world settings');
  (globalThis as { gc?: () => void }).gc?.();
  const inMemory = {} as Record<PolicyName, number>;
  const inMemoryCpu = {} as Record<PolicyName, number>;
  for (const policy of POLICY_NAMES) {
    simulate(world.online.slice(0, 5000), { settings, policy });
    const wall: number[] = [];
    const cpu: number[] = [];
    for (const seed of [1, 2, 3]) {
      const before = process.cpuUsage();
      const r = simulate(world.online, { settings, policy, seed }).result();
      const used = process.cpuUsage(before);
      wall.push(r.roundsPerSecond);
      cpu.push(r.rounds / ((used.user + used.system) / 1e6));
    }
    inMemory[policy] = median(wall);
    inMemoryCpu[policy] = median(cpu);
  }
  const dir = await mkdtemp(join(tmpdir(), 'sim-throughput-'));
  try {
    const quiet = { write: () => true };
    const args = [
      '--seed',
      '1',
      '--rounds',
      String(rounds),
      '--churn-every',
      String(churnEvery),
      '--history-rounds',
      '0',
    ];
    await runGenWorld([...args, '--out', dir], { stdout: quiet, stderr: quiet });
    const out: string[] = [];
    const before = process.cpuUsage();
    await runSimulate(['--online', join(dir, 'online.jsonl'), '--json'], {
      stdout: { write: (s) => out.push(s) > 0 },
      stderr: quiet,
    });
    const used = process.cpuUsage(before);
    const endToEnd = (JSON.parse(out.join('')) as { roundsPerSecond: number }).roundsPerSecond;
    const endToEndCpu = rounds / ((used.user + used.system) / 1e6);
    return { rounds, actions: 20, churnEvery, inMemory, inMemoryCpu, endToEnd, endToEndCpu };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  const v = parseCliArgs(process.argv.slice(2), { rounds: { type: 'string' }, 'churn-every': { type: 'string' } });
  const r = await runThroughput({
    ...(v.rounds !== undefined && { rounds: parseNumberFlag('rounds', v.rounds, { integer: true, above: 0 }) }),
    ...(v['churn-every'] !== undefined && {
      churnEvery: parseNumberFlag('churn-every', v['churn-every'], { integer: true, above: -1 }),
    }),
  });
  const lines = [
    `fast mode, ${r.actions} live actions, ${r.rounds.toLocaleString('en-US')} rounds, churn every ${r.churnEvery}`,
  ];
  const fmt = (v: number) => Math.round(v).toLocaleString('en-US').padStart(10);
  for (const p of POLICY_NAMES) {
    lines.push(`  in memory  ${p.padEnd(16)}${fmt(r.inMemory[p])} rounds/s   ${fmt(r.inMemoryCpu[p])} rounds/CPU-s`);
  }
  lines.push(`  end to end (simulate --json, hybrid)${fmt(r.endToEnd)} rounds/s   ${fmt(r.endToEndCpu)} rounds/CPU-s`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
