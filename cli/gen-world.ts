/**
 * Writes a seeded synthetic world for the simulator (see sim/world.ts): `config.json` (decision point settings),
 * `history.jsonl` (logged decisions of a skewed logging policy) and `online.jsonl` (rounds to play).
 *
 *   npm run gen-world -- --seed N --out DIR [--rounds 20000] [--actions 20] [--churn-every 5000] [--churn-count 3]
 *                        [--history-rounds 10000] [--delay-share 0.3] [--max-delay 200]
 *
 * Same options → byte-identical files. Exit codes: 0 done, 2 bad arguments, 1 anything unexpected.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SimError } from '../sim/errors.ts';
import { createProgress } from '../sim/progress.ts';
import { DEFAULT_HISTORY_ROUNDS, World, type WorldOptions } from '../sim/world.ts';
import { parseCliArgs, parseNumberFlag, UsageError } from './lib/args.ts';
import { type CliStreams, failWith, processStreams, runIfEntry } from './lib/command.ts';

const USAGE = `usage: npm run gen-world -- --seed N --out DIR [options]

  --seed N             world seed (required)
  --rounds N           online rounds (default 20000)
  --out DIR            output folder, created if missing (required)
  --actions N          live actions at any time (default 20)
  --churn-every N      rounds between churn events, 0 for none (default 5000)
  --churn-count N      actions retired and introduced per churn event (default 3)
  --history-rounds N   logged history lines (default 10000)
  --delay-share P      share of rounds whose reward arrives late (default 0.3)
  --max-delay N        largest delay in rounds (default 200)`;

function parse(argv: readonly string[]): { out: string; world: WorldOptions } | 'help' {
  const v = parseCliArgs(argv, {
    seed: { type: 'string' },
    rounds: { type: 'string' },
    out: { type: 'string' },
    actions: { type: 'string' },
    'churn-every': { type: 'string' },
    'churn-count': { type: 'string' },
    'history-rounds': { type: 'string' },
    'delay-share': { type: 'string' },
    'max-delay': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (v.help) return 'help';
  if (v.seed === undefined || v.out === undefined) {
    throw new UsageError('--seed and --out are required');
  }
  const int = (flag: string, raw: string | undefined, min: number) =>
    raw === undefined ? undefined : parseNumberFlag(flag, raw, { integer: true, above: min - 1 });
  const share = v['delay-share'];
  const world: WorldOptions = {
    seed: parseNumberFlag('seed', v.seed, { integer: true, above: -1, below: 2 ** 32 }),
    rounds: v.rounds === undefined ? 20_000 : parseNumberFlag('rounds', v.rounds, { integer: true, above: -1 }),
    ...(v.actions !== undefined && { actions: int('actions', v.actions, 2) }),
    ...(v['churn-every'] !== undefined && { churnEvery: int('churn-every', v['churn-every'], 0) }),
    ...(v['churn-count'] !== undefined && { churnCount: int('churn-count', v['churn-count'], 0) }),
    ...(v['history-rounds'] !== undefined && { historyRounds: int('history-rounds', v['history-rounds'], 0) }),
    ...(share !== undefined && {
      delayShare: parseNumberFlag('delay-share', share, { above: -1e-12, below: 1 + 1e-12 }),
    }),
    ...(v['max-delay'] !== undefined && { maxDelay: int('max-delay', v['max-delay'], 1) }),
  };
  return { out: v.out, world };
}

/** Writes one JSON line per item, honouring the stream's backpressure. */
async function writeLines(path: string, items: Iterable<unknown>, onLine: (n: number) => void): Promise<number> {
  const out = createWriteStream(path, { encoding: 'utf8' });
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  let n = 0;
  let buffer = '';
  for (const item of items) {
    buffer += `${JSON.stringify(item)}\n`;
    n++;
    if (buffer.length >= 1 << 16) {
      if (!out.write(buffer)) await Promise.race([new Promise<void>((r) => out.once('drain', () => r())), failed]);
      buffer = '';
      onLine(n);
    }
  }
  out.end(buffer);
  await Promise.race([new Promise<void>((r) => out.once('finish', () => r())), failed]);
  return n;
}

export async function runGenWorld(argv: readonly string[], streams: CliStreams = processStreams()): Promise<number> {
  try {
    const args = parse(argv);
    if (args === 'help') {
      streams.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const world = new World(args.world);
    const dir = resolve(args.out);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.json'), `${JSON.stringify(world.settings, null, 2)}\n`);
    const historyTotal = args.world.historyRounds ?? DEFAULT_HISTORY_ROUNDS;
    const total = historyTotal + args.world.rounds;
    const progress = createProgress({ label: 'gen-world', unit: 'lines', total, stream: streams.stderr });
    let history: number;
    let online: number;
    try {
      history = await writeLines(join(dir, 'history.jsonl'), world.history(), (n) => progress.update(n));
      online = await writeLines(join(dir, 'online.jsonl'), world.online(), (n) => progress.update(history + n));
    } finally {
      progress.finish();
    }
    streams.stdout.write(
      `wrote ${dir}: config.json, history.jsonl (${history.toLocaleString('en-US')} lines), ` +
        `online.jsonl (${online.toLocaleString('en-US')} rounds)\n`,
    );
    return 0;
  } catch (error) {
    return failWith('gen-world', USAGE, error, streams, (e) => e instanceof SimError);
  }
}

await runIfEntry(import.meta.url, (argv) => runGenWorld(argv));
