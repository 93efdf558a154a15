/**
 * Plays online rounds against a policy and reports the reward it earned.
 *
 *   npm run simulate -- --online FILE [--history FILE] [--decision-point-config FILE] [--policy NAME] [--seed N]
 *                       [--refresh N] [--json]
 *   npm run simulate -- --online FILE --through-stack URL [--api-key KEY] [--decision-point ID] [--max-rounds N]
 *
 * Exit codes: 0 done, 2 bad arguments or malformed input, 1 anything unexpected (including engine failures).
 */

import { access } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { defaultApiKey } from '../local/api-key.ts';
import { SimError, StackError } from '../sim/errors.ts';
import { onlineLineParser, parseHistoryLine, parseOnlineLine, readJsonLines } from '../sim/formats.ts';
import { isPolicyName, POLICY_NAMES, type PolicyName } from '../sim/policies.ts';
import { createProgress } from '../sim/progress.ts';
import { denseShape, type FeatureSample, inferSettings, type LoadedSettings, loadSettings } from '../sim/settings.ts';
import { type SimulationResult, simulateStream } from '../sim/simulate.ts';
import { StackClient, simulateThroughStack, stackSettings } from '../sim/stack.ts';
import { warmStartStream } from '../sim/warm-start.ts';
import { parseCliArgs, parseNumberFlag, UsageError } from './lib/args.ts';
import { type CliStreams, failWith, processStreams, runIfEntry } from './lib/command.ts';

const USAGE = `usage: npm run simulate -- --online FILE [options]

  --online FILE                 rounds to play, one JSON object per line (see sim/formats.ts); which of a
                                round's rewards and events counts: sim/outcome.ts (said on stderr)
  --history FILE                logged decisions to warm-start from (importance-weighted, see sim/warm-start.ts)
  --decision-point-config FILE  decision point settings JSON (default: config.json beside --online if present,
                                else the engine's defaults, with contextDim and actionDim taken from the data
                                when its features are dense arrays: length + 1)
  --policy NAME                 ${POLICY_NAMES.join(' | ')} (default hybrid)
  --seed N                      seeds the policy's randomness (default 0)
  --refresh N                   rounds between posterior rebuilds, like the serving cache's refresh (default 50)
  --json                        print one JSON object instead of a table

  --through-stack URL           drive a running engine over HTTP instead of the in-process core
  --api-key KEY                 its API key (default NBA_API_KEY, or the one npm start stored in the data folder)
  --decision-point ID           decision point to create there (default sim)
  --max-rounds N                stop after N rounds (default 2000 through the stack, unlimited otherwise)`;

interface Parsed {
  online: string;
  history: string | undefined;
  config: string | undefined;
  policy: PolicyName;
  seed: number;
  refresh: number;
  json: boolean;
  stack: { url: string; apiKey: string; decisionPoint: string } | undefined;
  maxRounds: number;
}

function parse(argv: readonly string[]): Parsed | 'help' {
  const v = parseCliArgs(argv, {
    online: { type: 'string' },
    history: { type: 'string' },
    'decision-point-config': { type: 'string' },
    policy: { type: 'string' },
    seed: { type: 'string' },
    refresh: { type: 'string' },
    json: { type: 'boolean', default: false },
    'through-stack': { type: 'string' },
    'api-key': { type: 'string' },
    'decision-point': { type: 'string' },
    'max-rounds': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (v.help) return 'help';
  if (v.online === undefined) throw new UsageError('--online FILE is required');
  const policy = v.policy ?? 'hybrid';
  if (!isPolicyName(policy))
    throw new UsageError(`--policy expects one of ${POLICY_NAMES.join(', ')}, got "${policy}"`);
  const url = v['through-stack'];
  if (url === undefined && (v['api-key'] !== undefined || v['decision-point'] !== undefined)) {
    throw new UsageError('--api-key and --decision-point go with --through-stack');
  }
  let stack: Parsed['stack'];
  if (url !== undefined) {
    if (!/^https?:\/\//.test(url)) throw new UsageError(`--through-stack expects an http(s) URL, got "${url}"`);
    const apiKey = defaultApiKey(v['api-key']);
    if (apiKey === undefined) {
      throw new UsageError(
        '--through-stack needs an API key: --api-key, NBA_API_KEY, or the one `npm start` stored in .local-data/api-key',
      );
    }
    if (v.history !== undefined) {
      throw new UsageError('--history cannot be used with --through-stack: the API cannot load weighted statistics');
    }
    if (v.policy !== undefined && v.policy !== 'hybrid') {
      throw new UsageError('--policy cannot be used with --through-stack: the engine runs its own policy');
    }
    stack = { url, apiKey, decisionPoint: v['decision-point'] ?? 'sim' };
  }
  const maxRounds =
    v['max-rounds'] === undefined
      ? stack === undefined
        ? Number.POSITIVE_INFINITY
        : 2000
      : parseNumberFlag('max-rounds', v['max-rounds'], { integer: true, above: 0 });
  return {
    online: v.online,
    history: v.history,
    config: v['decision-point-config'],
    policy,
    seed: v.seed === undefined ? 0 : parseNumberFlag('seed', v.seed, { integer: true, above: -1, below: 2 ** 32 }),
    refresh: v.refresh === undefined ? 50 : parseNumberFlag('refresh', v.refresh, { integer: true, above: 0 }),
    json: v.json,
    stack,
    maxRounds,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Rounds (and history lines) whose features decide the dimensions when no settings file is given. */
const PEEK_LINES = 100;

async function peek(path: string, parse: (text: string, line: number, source: string) => FeatureSample) {
  const out: FeatureSample[] = [];
  for await (const { value } of readJsonLines(path, parse, { source: basename(path) })) {
    out.push(value);
    if (out.length >= PEEK_LINES) break;
  }
  return out;
}

async function settingsFor(args: Parsed, streams: CliStreams): Promise<LoadedSettings> {
  if (args.config !== undefined) return loadSettings(resolve(args.config));
  const beside = join(dirname(resolve(args.online)), 'config.json');
  if (await exists(beside)) {
    streams.stderr.write(`simulate: using decision point settings from ${beside}\n`);
    return loadSettings(beside);
  }
  const samples = await peek(resolve(args.online), parseOnlineLine);
  if (args.history !== undefined) samples.push(...(await peek(resolve(args.history), parseHistoryLine)));
  const inferred = inferSettings(denseShape(samples));
  const from = inferred.notes.length > 0 ? `; ${inferred.notes.join(', ')}` : '';
  streams.stderr.write(
    `simulate: no --decision-point-config and no config.json beside --online: engine defaults${from}\n`,
  );
  return inferred;
}

const fmt = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(4));
const int = (v: number): string => Math.round(v).toLocaleString('en-US');
const pct = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || !(b !== 0) ? '' : `  (${((100 * a) / b).toFixed(1)}% of oracle)`;

/** The human-readable report. */
export function resultTable(r: SimulationResult): string {
  const lines = [
    `policy ${r.policy}: ${int(r.rounds)} rounds, ${int(r.roundsPerSecond)} rounds/s`,
    `mean reward                        ${fmt(r.meanReward)}`,
  ];
  if (r.meanExpectedReward !== undefined) {
    const last = r.lastWindowMeanExpectedReward;
    lines.push(`mean expected reward               ${fmt(r.meanExpectedReward)}`);
    lines.push(`last 20%: mean expected reward     ${fmt(last)}${pct(last, r.oracle?.lastWindowMeanExpectedReward)}`);
    lines.push(`last 20%: oracle                   ${fmt(r.oracle?.lastWindowMeanExpectedReward)}`);
    lines.push(
      `last 20%: uniform                  ${fmt(r.uniform?.lastWindowMeanExpectedReward)}${pct(r.uniform?.lastWindowMeanExpectedReward, r.oracle?.lastWindowMeanExpectedReward)}`,
    );
  } else lines.push('(no "expected" in the online rounds: no expected-reward, oracle or uniform figures)');
  if (r.pendingRewards > 0) lines.push(`delayed rewards still pending at the end: ${int(r.pendingRewards)}`);
  return `${lines.join('\n')}\n`;
}

/** The machine-readable report. */
export function resultJson(r: SimulationResult): Record<string, unknown> {
  return {
    rounds: r.rounds,
    meanReward: r.meanReward,
    ...(r.meanExpectedReward !== undefined && {
      meanExpectedReward: r.meanExpectedReward,
      lastWindowMeanExpectedReward: r.lastWindowMeanExpectedReward,
    }),
    roundsPerSecond: r.roundsPerSecond,
    policy: r.policy,
    ...(r.oracle !== undefined && { oracle: r.oracle }),
    ...(r.uniform !== undefined && { uniform: r.uniform }),
    pendingRewards: r.pendingRewards,
  };
}

/** Runs the CLI; returns the exit code instead of exiting, so tests can drive it in-process. */
export async function runSimulate(argv: readonly string[], streams: CliStreams = processStreams()): Promise<number> {
  try {
    const args = parse(argv);
    if (args === 'help') {
      streams.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const online = resolve(args.online);
    if (!(await exists(online))) throw new UsageError(`cannot read --online ${args.online}`);
    if (args.history !== undefined && !(await exists(resolve(args.history)))) {
      throw new UsageError(`cannot read --history ${args.history}`);
    }
    const { settings, raw } = await settingsFor(args, streams);
    const notice = (message: string) => streams.stderr.write(`simulate: ${message}\n`);
    const ws =
      args.history === undefined
        ? undefined
        : await warmStartStream(
            readJsonLines(resolve(args.history), parseHistoryLine, { source: basename(args.history) }),
            settings,
            { source: basename(args.history), onNotice: notice },
          );

    const progress = createProgress({ label: 'simulate', unit: 'rounds', stream: streams.stderr });
    let fraction = 0;
    const lines = readJsonLines(online, onlineLineParser(), {
      source: basename(online),
      onProgress: (p) => {
        fraction = p.totalBytes > 0 ? p.bytes / p.totalBytes : 1;
      },
    });
    let result: SimulationResult;
    try {
      if (args.stack !== undefined) {
        const maxRounds = args.maxRounds;
        result = await simulateThroughStack(lines, {
          client: new StackClient(args.stack.url, args.stack.apiKey),
          decisionPoint: args.stack.decisionPoint,
          settings: stackSettings(raw),
          rewards: settings.rewards,
          maxRounds,
          source: basename(online),
          onProgress: (n) => progress.update(n, Math.max(fraction, n / maxRounds)),
          onNotice: notice,
        });
      } else {
        const limited = args.maxRounds;
        async function* bounded() {
          let n = 0;
          for await (const l of lines) {
            if (n++ >= limited) return;
            yield l;
          }
        }
        const sim = await simulateStream(Number.isFinite(limited) ? bounded() : lines, {
          settings,
          policy: args.policy,
          seed: args.seed,
          refresh: args.refresh,
          source: basename(online),
          ...(ws !== undefined && { warmStart: ws }),
          onProgress: (n) => progress.update(n, fraction),
          onNotice: notice,
        });
        result = sim.result();
      }
    } finally {
      progress.finish();
    }
    streams.stdout.write(args.json ? `${JSON.stringify(resultJson(result))}\n` : resultTable(result));
    return 0;
  } catch (error) {
    if (error instanceof StackError) {
      streams.stderr.write(`simulate: the engine failed: ${error.message}\n`);
      return 1;
    }
    return failWith('simulate', USAGE, error, streams, (e) => e instanceof SimError);
  }
}

await runIfEntry(import.meta.url, (argv) => runSimulate(argv));
