/**
 * Writes an online-rounds file shaped like a user's export rather than like gen-world's output: every round lists
 * every candidate WITH its dense features (gen-world gives features only at an action's first sight), a dense
 * context, `rewards` and `expected` for every candidate. This is the shape the simulator's reading path has to be
 * fast on, and, at a few hundred MB, the file the memory measurement streams.
 *
 *   npx tsx bench/sim/dense-file.ts --out /tmp/online.jsonl [--rounds 50000] [--actions 20] [--context 9]
 *                                   [--features 8] [--seed 1]
 *
 * Truth: E[r | x, a] = sigmoid(xᵀ W c_a − 1), a fixed random bilinear model, so the simulator has something to learn;
 * rewards are Bernoulli draws of it. Same options → same bytes.
 */
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseCliArgs, parseNumberFlag } from '../../cli/lib/args.ts';
import { createRng } from '../../shared/core/random.ts';

export interface DenseFileOptions {
  readonly rounds: number;
  /** Candidates in every round (default 20). */
  readonly actions?: number;
  /** Dense context features (default 9 like gen-world, so contextDim 10). */
  readonly contextFeatures?: number;
  /** Dense features per action (default 8, so actionDim 9). */
  readonly actionFeatures?: number;
  readonly seed?: number;
}

const r4 = (v: number) => Math.round(v * 1e4) / 1e4;

/** The file's lines, one round per string (without the newline). */
export function* denseRounds(o: DenseFileOptions): Generator<string> {
  const K = o.actions ?? 20;
  const p = o.contextFeatures ?? 9;
  const q = o.actionFeatures ?? 8;
  const rng = createRng(`dense-file-${o.seed ?? 1}`);
  const W = Array.from({ length: p }, () => Array.from({ length: q }, () => rng.normal() * 0.1));
  const actions = Array.from({ length: K }, (_, k) => ({
    id: `a${k}`,
    features: Array.from({ length: q }, () => r4(rng.normal())),
  }));
  const actionsJson = JSON.stringify(actions);
  const x = new Array<number>(p);
  for (let t = 0; t < o.rounds; t++) {
    for (let i = 0; i < p; i++) x[i] = r4(rng.normal());
    const rewards: Record<string, number> = {};
    const expected: Record<string, number> = {};
    for (const a of actions) {
      let z = -1;
      for (let i = 0; i < p; i++) {
        const row = W[i] as number[];
        for (let j = 0; j < q; j++) z += (x[i] as number) * (row[j] as number) * (a.features[j] as number);
      }
      const e = 1 / (1 + Math.exp(-z));
      expected[a.id] = r4(e);
      rewards[a.id] = rng.next() < e ? 1 : 0;
    }
    yield `{"t":${t},"context":${JSON.stringify(x)},"actions":${actionsJson},"rewards":${JSON.stringify(rewards)},"expected":${JSON.stringify(expected)}}`;
  }
}

/** Writes the file; resolves with its size in bytes. */
export async function writeDenseFile(path: string, o: DenseFileOptions): Promise<number> {
  const out = createWriteStream(path);
  let bytes = 0;
  let batch: string[] = [];
  const flush = async () => {
    const text = `${batch.join('\n')}\n`;
    batch = [];
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await new Promise<void>((r) => out.once('drain', () => r()));
  };
  for (const line of denseRounds(o)) {
    batch.push(line);
    if (batch.length === 1000) await flush();
  }
  if (batch.length > 0) await flush();
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
  return bytes;
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  const v = parseCliArgs(process.argv.slice(2), {
    out: { type: 'string' },
    rounds: { type: 'string' },
    actions: { type: 'string' },
    context: { type: 'string' },
    features: { type: 'string' },
    seed: { type: 'string' },
  });
  if (v.out === undefined) throw new Error('--out FILE is required');
  const int = (name: string, s: string | undefined, dflt: number) =>
    s === undefined ? dflt : parseNumberFlag(name, s, { integer: true, above: 0 });
  const bytes = await writeDenseFile(v.out, {
    rounds: int('rounds', v.rounds, 50_000),
    actions: int('actions', v.actions, 20),
    contextFeatures: int('context', v.context, 9),
    actionFeatures: int('features', v.features, 8),
    seed: int('seed', v.seed, 1),
  });
  process.stdout.write(`${v.out}: ${(bytes / 2 ** 20).toFixed(1)} MiB\n`);
}
