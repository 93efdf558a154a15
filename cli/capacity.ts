/**
 * The capacity plan (shared/core/capacity.ts): for a load, the design's parameters, every resource's need against its
 * AWS limit, the one closest to its limit, and the monthly cost.
 *
 *   npm run capacity -- --decisions-per-second N --events-per-second E --actions K --decision-points P
 *                       [--objectives O] [--refresh-ms MS] [--json]
 *
 * Exit codes: 0 done, 2 bad arguments, 1 anything unexpected.
 */
import { type CapacityPlan, planCapacity } from '../shared/core/capacity.ts';
import { parseCliArgs, parseNumberFlag, UsageError } from './lib/args.ts';
import { type CliStreams, failWith, processStreams, runIfEntry } from './lib/command.ts';

const USAGE = `usage: npm run capacity -- --decisions-per-second N --events-per-second E --actions K --decision-points P [options]

  --decisions-per-second N   decisions per second, all decision points together (required)
  --events-per-second E      feedback events per second (required)
  --actions K                live actions per decision point (required)
  --decision-points P        decision points every decisions container serves (required)
  --objectives O             objectives per decision point besides the global one (default 0)
  --refresh-ms MS            how often containers poll their snapshots (MODEL_REFRESH_MS, default 1000)
  --json                     print the plan as JSON`;

const n = (v: number) =>
  v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toLocaleString('en-US', { maximumFractionDigits: 2 });
const usd = (v: number) =>
  `$${v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toLocaleString('en-US', { maximumFractionDigits: 2 })}`;

export function formatPlan(plan: CapacityPlan): string {
  const { design, input } = plan;
  const lines = [
    `load: ${n(input.decisionsPerSecond)} decisions/s, ${n(input.eventsPerSecond)} events/s, K = ${n(input.actions)}, ${input.decisionPoints} decision point(s), ${input.objectives} objective(s), refresh ${input.refreshMs} ms`,
    `design: ${design.cells} cell(s) of ${design.shardsPerCell} shards each, STATS_PARTITIONS = ${design.statsPartitions}, snapshotReplicas = ${design.snapshotReplicas}, PUBLISH_MIN_INTERVAL_MS = ${design.publishIntervalMs}, ${n(design.decisionsContainers)} decisions containers per cell`,
    '',
    'per cell:',
    `${'resource'.padEnd(50)} ${'need'.padStart(14)} ${'limit'.padStart(12)}  unit        use   kind`,
    ...plan.resources.map(
      (r) =>
        `${r.resource.padEnd(50)} ${n(r.need).padStart(14)} ${n(r.limit).padStart(12)}  ${r.unit.padEnd(10)} ${`${Math.round(r.utilisation * 100)}%`.padStart(5)}   ${r.kind}${r.request !== undefined ? `: request ${n(r.request)}` : ''}${r.kind === 'hard' && r.utilisation > 1 ? '  OVER' : ''}`,
    ),
    '',
    `breaks first as the load grows (hard limit): ${plan.tightest.resource} at ${Math.round(plan.tightest.utilisation * 100)}%`,
    '',
    'monthly cost (USD, us-east-1, all cells):',
    ...Object.entries(plan.monthlyCost)
      .filter(([k]) => k !== 'total')
      .map(([k, v]) => `  ${k.padEnd(18)} ${usd(v).padStart(14)}`),
    `  ${'total'.padEnd(18)} ${usd(plan.monthlyCost.total).padStart(14)}`,
    `cost per million decisions: ${usd(plan.costPerMillionDecisions)}`,
    '',
    `a million more decisions, by path (marginal: shard hours, snapshots and feedback are the same for all):`,
    ...plan.paths.map(
      (p) =>
        `  ${p.path.padEnd(34)} ${`$${p.perMillion.toFixed(p.perMillion < 1 ? 3 : 2)}`.padStart(8)}   ${Object.entries(
          p.parts,
        )
          .map(([k, v]) => `${k} ${v.toFixed(v < 0.01 ? 4 : 3)}`)
          .join(', ')}`,
    ),
  ];
  return lines.join('\n');
}

export async function runCapacity(argv: readonly string[], streams: CliStreams = processStreams()): Promise<number> {
  try {
    const v = parseCliArgs(argv, {
      'decisions-per-second': { type: 'string' },
      'events-per-second': { type: 'string' },
      actions: { type: 'string' },
      'decision-points': { type: 'string' },
      objectives: { type: 'string' },
      'refresh-ms': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    });
    if (v.help) {
      streams.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const required = ['decisions-per-second', 'events-per-second', 'actions', 'decision-points'] as const;
    const missing = required.filter((f) => v[f] === undefined);
    if (missing.length > 0) throw new UsageError(`missing ${missing.map((f) => `--${f}`).join(', ')}`);
    const plan = planCapacity({
      decisionsPerSecond: parseNumberFlag('decisions-per-second', v['decisions-per-second']!, { above: 0 }),
      eventsPerSecond: parseNumberFlag('events-per-second', v['events-per-second']!, { above: -1e-12 }),
      actions: parseNumberFlag('actions', v.actions!, { integer: true, above: 0, below: 100_001 }),
      decisionPoints: parseNumberFlag('decision-points', v['decision-points']!, { integer: true, above: 0 }),
      objectives:
        v.objectives === undefined
          ? 0
          : parseNumberFlag('objectives', v.objectives, { integer: true, above: -1, below: 11 }),
      refreshMs: v['refresh-ms'] === undefined ? 1000 : parseNumberFlag('refresh-ms', v['refresh-ms'], { above: 99 }),
    });
    streams.stdout.write(`${v.json ? JSON.stringify(plan, null, 2) : formatPlan(plan)}\n`);
    return 0;
  } catch (error) {
    return failWith('capacity', USAGE, error, streams, () => false);
  }
}

await runIfEntry(import.meta.url, (argv) => runCapacity(argv));
