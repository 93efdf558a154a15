/**
 * Replay of the engine on real logged data: the Open Bandit Dataset "Men" sample (Saito, Aihara, Matsutani, Narita,
 * "Open Bandit Dataset and Pipeline", arXiv 2008.07146; ZOZO Research, CC BY 4.0). The data stays where it is; this
 * module only reads it.
 *
 * The uniform-random log (`random/men.csv`) is replayed in time order with {@link replay}: each row is one
 * impression (one of three slots) of one of 34 items. The engine chooses among all 34 items; context = the four
 * hashed user categories as strings plus the 34 user-item affinities as numbers; item features =
 * `item_feature_0` (numeric) and `item_feature_1..3` (categorical strings). Both are objects, so the engine hashes
 * them into contextDim and actionDim slots exactly as it would in production (collisions included).
 * The logged click-through rates of the random and the Bernoulli-TS logs are reported beside it for reference.
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { encodeFeatures, FeatureEncodingError } from '../shared/core/features/encode.ts';
import { createRng } from '../shared/core/random.ts';
import { ActionTable } from './actions.ts';
import { SimFormatError } from './errors.ts';
import { createPolicy, type PolicyName } from './policies.ts';
import { type Proportion, type ReplayResult, type ReplayRow, replay, wilson } from './replay.ts';
import type { SimulationSettings } from './simulate.ts';

export interface ObdItem {
  readonly id: string;
  readonly features: Record<string, number | string>;
}

export interface ObdRow {
  /** 1-based line in the CSV file. */
  readonly line: number;
  readonly timestamp: string;
  readonly item: string;
  readonly position: number;
  readonly click: 0 | 1;
  readonly propensity: number;
  readonly context: Record<string, number | string>;
}

async function* csvLines(path: string, source: string): AsyncGenerator<{ fields: string[]; line: number }> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    // OBD never quotes; refusing quotes beats mis-splitting a quoted comma.
    if (text.includes('"')) throw new SimFormatError(source, line, 'quoted CSV fields are not supported');
    yield { fields: text.split(','), line };
  }
}

function column(header: string[], name: string, source: string): number {
  const i = header.indexOf(name);
  if (i === -1) throw new SimFormatError(source, 1, `missing column "${name}"`);
  return i;
}

/** Reads `item_context.csv`: item ids with `item_feature_*` (numbers where numeric, else category strings). */
export async function readObdItems(path: string, source = 'item_context.csv'): Promise<ObdItem[]> {
  let header: string[] | undefined;
  let idCol = -1;
  const items: ObdItem[] = [];
  for await (const { fields, line } of csvLines(path, source)) {
    if (header === undefined) {
      header = fields;
      idCol = column(header, 'item_id', source);
      continue;
    }
    if (fields.length !== header.length) {
      throw new SimFormatError(source, line, `expected ${header.length} fields, got ${fields.length}`);
    }
    const features: Record<string, number | string> = {};
    header.forEach((name, c) => {
      if (!name.startsWith('item_feature_')) return;
      const raw = fields[c] as string;
      const v = Number(raw);
      features[name] = raw.trim() !== '' && Number.isFinite(v) ? v : raw;
    });
    items.push({ id: (fields[idCol] as string).trim(), features });
  }
  if (items.length === 0) throw new SimFormatError(source, 1, 'no items');
  return items;
}

/** Reads a campaign log (`men.csv`) in file order, validating every row. */
export async function readObdRows(path: string, source = 'men.csv'): Promise<ObdRow[]> {
  let header: string[] | undefined;
  let cols = { timestamp: 0, item: 0, position: 0, click: 0, propensity: 0 };
  let context: { name: string; index: number; numeric: boolean }[] = [];
  const rows: ObdRow[] = [];
  for await (const { fields, line } of csvLines(path, source)) {
    if (header === undefined) {
      header = fields;
      const h = header;
      cols = {
        timestamp: column(h, 'timestamp', source),
        item: column(h, 'item_id', source),
        position: column(h, 'position', source),
        click: column(h, 'click', source),
        propensity: column(h, 'propensity_score', source),
      };
      context = h
        .map((name, index) => ({ name, index, numeric: name.startsWith('user-item_affinity_') }))
        .filter((c) => c.numeric || c.name.startsWith('user_feature_'));
      continue;
    }
    const fail = (detail: string): never => {
      throw new SimFormatError(source, line, detail);
    };
    if (fields.length !== header.length) fail(`expected ${header.length} fields, got ${fields.length}`);
    const num = (i: number, name: string): number => {
      const raw = fields[i] as string;
      const v = raw.trim() === '' ? Number.NaN : Number(raw);
      return Number.isFinite(v) ? v : fail(`column ${name}: expected a number, got "${raw}"`);
    };
    const click = num(cols.click, 'click');
    if (click !== 0 && click !== 1) fail(`column click: expected 0 or 1, got ${click}`);
    const propensity = num(cols.propensity, 'propensity_score');
    if (!(propensity > 0 && propensity <= 1)) fail(`column propensity_score: expected a value in (0, 1]`);
    const ctx: Record<string, number | string> = {};
    for (const c of context) ctx[c.name] = c.numeric ? num(c.index, c.name) : (fields[c.index] as string);
    rows.push({
      line,
      timestamp: fields[cols.timestamp] as string,
      item: (fields[cols.item] as string).trim(),
      position: num(cols.position, 'position'),
      click: click as 0 | 1,
      propensity,
      context: ctx,
    });
  }
  if (header === undefined) throw new SimFormatError(source, 1, 'missing header row');
  return rows;
}

/** The logged click-through rate of a campaign log, with its 95% Wilson interval. */
export function loggedCtr(rows: readonly ObdRow[]): Proportion {
  let clicks = 0;
  for (const r of rows) clicks += r.click;
  return wilson(clicks, rows.length);
}

/** True when every logged propensity equals 1/K, i.e. the log is uniform random and replay is unbiased on it. */
export function isUniformLog(rows: readonly ObdRow[], items: number): boolean {
  return rows.every((r) => Math.abs(r.propensity - 1 / items) < 1e-9);
}

export interface ObdReplayOptions {
  readonly settings: SimulationSettings;
  readonly policy?: PolicyName;
  readonly seed?: number;
  readonly refresh?: number;
}

export interface ObdReplayReport {
  readonly policy: PolicyName;
  readonly seed: number;
  readonly items: number;
  readonly engine: ReplayResult;
  readonly loggedRandom: Proportion;
  readonly loggedBts: Proportion | undefined;
}

/**
 * Replays the policy on `random/men.csv` of `dir` (time order: the file's rows sorted by timestamp, stably) and
 * reads `bts/men.csv`, when present, for its logged CTR.
 */
export async function replayObd(dir: string, options: ObdReplayOptions): Promise<ObdReplayReport> {
  const randomDir = join(dir, 'random');
  const items = await readObdItems(join(randomDir, 'item_context.csv'), 'random/item_context.csv');
  const log = await readObdRows(join(randomDir, 'men.csv'), 'random/men.csv');
  if (!isUniformLog(log, items.length)) {
    throw new SimFormatError('random/men.csv', 2, 'the log is not uniform random (propensities differ from 1/K)');
  }
  const ordered = log
    .map((r, i) => ({ r, i }))
    .sort((a, b) => (a.r.timestamp < b.r.timestamp ? -1 : a.r.timestamp > b.r.timestamp ? 1 : a.i - b.i))
    .map((e) => e.r);
  let bts: ObdRow[] | undefined;
  try {
    bts = await readObdRows(join(dir, 'bts', 'men.csv'), 'bts/men.csv');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }

  const { settings } = options;
  const table = new ActionTable(settings.actionDim);
  const candidates = new Int32Array(items.length);
  const position = new Map<string, number>();
  items.forEach((item, p) => {
    try {
      candidates[p] = table.resolve(item.id, item.features);
    } catch (cause) {
      if (cause instanceof FeatureEncodingError)
        throw new SimFormatError('random/item_context.csv', p + 2, cause.message);
      throw cause;
    }
    position.set(item.id, p);
  });
  const seed = options.seed ?? 0;
  const policyName = options.policy ?? 'hybrid';
  const policy = createPolicy(policyName, {
    settings,
    actions: table,
    rng: createRng(seed),
    refresh: options.refresh ?? 50,
  });
  const x = new Float64Array(settings.contextDim);
  function* rows(): Generator<ReplayRow> {
    for (const r of ordered) {
      const logged = position.get(r.item);
      if (logged === undefined) {
        throw new SimFormatError('random/men.csv', r.line, `item_id "${r.item}" is not in item_context.csv`);
      }
      encodeFeatures(r.context, settings.contextDim, x);
      yield { x, candidates, logged, reward: r.click };
    }
  }
  const engine = replay(rows(), policy);
  return {
    policy: policyName,
    seed,
    items: items.length,
    engine,
    loggedRandom: loggedCtr(log),
    loggedBts: bts === undefined ? undefined : loggedCtr(bts),
  };
}
