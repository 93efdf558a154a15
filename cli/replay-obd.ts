/**
 * Replays the engine on the Open Bandit Dataset sample's uniform-random log (Li et al. 2011 replay; see sim/obd.ts)
 * and reports its click-through rate beside the logged random and Bernoulli-TS rates.
 *
 *   npm run replay-obd -- [--dir DIR] [--decision-point-config FILE] [--policy NAME] [--seed N] [--refresh N] [--json]
 *
 * The data is read in place: DIR defaults to $OBD_DIR, else `../shared/data/obd-men` relative to the repository root.
 * Exit codes: 0 done, 2 bad arguments or malformed input, 1 anything unexpected.
 */
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimError } from '../sim/errors.ts';
import { type ObdReplayReport, replayObd } from '../sim/obd.ts';
import { isPolicyName, POLICY_NAMES } from '../sim/policies.ts';
import type { Proportion } from '../sim/replay.ts';
import { type LoadedSettings, loadSettings, parseSettings } from '../sim/settings.ts';
import { parseCliArgs, parseNumberFlag, UsageError } from './lib/args.ts';
import { type CliStreams, failWith, processStreams, runIfEntry } from './lib/command.ts';

const USAGE = `usage: npm run replay-obd -- [options]

  --dir DIR                     OBD "men" sample folder with random/ and bts/ (default: $OBD_DIR, else
                                ../shared/data/obd-men relative to the repository root)
  --decision-point-config FILE  settings JSON (default: contextDim 32, actionDim 8, engine defaults otherwise)
  --policy NAME                 ${POLICY_NAMES.join(' | ')} (default hybrid)
  --seed N                      default 0
  --refresh N                   matched rows between posterior rebuilds (default 50)
  --json                        print one JSON object instead of a table`;

/** Hashed OBD features: 4 categories + 34 affinities into 31 context slots, 4 item features into 7 action slots. */
export const OBD_SETTINGS = { contextDim: 32, actionDim: 8 } as const;

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** `--dir`, else $OBD_DIR, else `../shared/data/obd-men` relative to the repository root. */
export function defaultObdDir(env: Record<string, string | undefined> = process.env): string {
  return env.OBD_DIR !== undefined && env.OBD_DIR !== ''
    ? resolve(env.OBD_DIR)
    : resolve(REPO_ROOT, '../shared/data/obd-men');
}

const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;
const interval = (p: Proportion): string =>
  `${p.trials > 0 ? pct(p.rate) : '-'}  [${pct(p.lower)}, ${pct(p.upper)}]  (${p.successes} clicks / ${p.trials.toLocaleString('en-US')})`;

export function reportTable(r: ObdReplayReport, dir: string): string {
  const lines = [
    `Replay (Li et al. 2011) of policy ${r.policy} on ${join(dir, 'random/men.csv')}, seed ${r.seed}, ${r.items} items`,
    `rows ${r.engine.rows.toLocaleString('en-US')}, matched ${r.engine.matched.toLocaleString('en-US')}`,
    '',
    `${'CTR, 95% Wilson interval'.padEnd(28)}`,
    `${`engine (${r.policy}) replay`.padEnd(28)}${interval(r.engine.rate)}`,
    `${'logged random'.padEnd(28)}${interval(r.loggedRandom)}`,
    r.loggedBts === undefined
      ? `${'logged bts'.padEnd(28)}(bts/men.csv not found)`
      : `${'logged bts'.padEnd(28)}${interval(r.loggedBts)}`,
    '',
    verdict(r),
  ];
  return `${lines.join('\n')}\n`;
}

const overlaps = (a: Proportion, b: Proportion): boolean => a.lower <= b.upper && b.lower <= a.upper;

/** What the intervals do and do not allow one to say. */
function verdict(r: ObdReplayReport): string {
  const e = r.engine.rate;
  const refs = [r.loggedRandom, ...(r.loggedBts === undefined ? [] : [r.loggedBts])];
  const head = `${e.successes} clicks among ${e.trials} matched rows: `;
  if (refs.every((p) => overlaps(e, p))) {
    return `${head}the engine's interval overlaps the logged ones, so this replay cannot rank it against them.`;
  }
  return `${head}the engine's interval excludes at least one logged rate; with so few clicks, check other seeds.`;
}

async function settingsFor(path: string | undefined): Promise<LoadedSettings> {
  if (path !== undefined) return loadSettings(resolve(path));
  return parseSettings({ ...OBD_SETTINGS }, 'OBD defaults');
}

export async function runReplayObd(
  argv: readonly string[],
  streams: CliStreams = processStreams(),
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  try {
    const v = parseCliArgs(argv, {
      dir: { type: 'string' },
      'decision-point-config': { type: 'string' },
      policy: { type: 'string' },
      seed: { type: 'string' },
      refresh: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    });
    if (v.help) {
      streams.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const policy = v.policy ?? 'hybrid';
    if (!isPolicyName(policy))
      throw new UsageError(`--policy expects one of ${POLICY_NAMES.join(', ')}, got "${policy}"`);
    const dir = v.dir !== undefined ? resolve(v.dir) : defaultObdDir(env);
    try {
      await access(join(dir, 'random', 'men.csv'));
    } catch {
      throw new UsageError(`no random/men.csv under ${dir} (set --dir or OBD_DIR)`);
    }
    const { settings } = await settingsFor(v['decision-point-config']);
    const report = await replayObd(dir, {
      settings,
      policy,
      seed: v.seed === undefined ? 0 : parseNumberFlag('seed', v.seed, { integer: true, above: -1, below: 2 ** 32 }),
      refresh: v.refresh === undefined ? 50 : parseNumberFlag('refresh', v.refresh, { integer: true, above: 0 }),
    });
    streams.stdout.write(v.json ? `${JSON.stringify({ dir, ...report })}\n` : reportTable(report, dir));
    return 0;
  } catch (error) {
    return failWith('replay-obd', USAGE, error, streams, (e) => e instanceof SimError);
  }
}

await runIfEntry(import.meta.url, (argv) => runReplayObd(argv));
