import { z } from 'zod';
import { LogFormatError } from './errors.ts';
import { type SlateRound, slotRound } from './slate.ts';
import type { Candidate, Features, LoggedData, NamedFeatures, Round } from './types.ts';

/** Chunks of a file as a stream yields them (`fs.createReadStream`), or strings in a test. */
export type Chunks = AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

export interface ReadProgress {
  readonly lines: number;
  readonly bytes: number;
}

export interface ReadOptions {
  /** Names the file in error messages. */
  readonly source?: string;
  /** Called every few thousand lines; the CLI draws its progress line from it. */
  readonly onProgress?: (progress: ReadProgress) => void;
}

export type LogFormat = 'jsonl' | 'obd';

/** `.csv` → OBD campaign CSV; anything else → JSONL. */
export function inferFormat(fileName: string): LogFormat {
  return fileName.toLowerCase().endsWith('.csv') ? 'obd' : 'jsonl';
}

const PROGRESS_EVERY = 4096;

/**
 * Splits a chunk stream into lines (LF or CRLF) with 1-based line numbers. Splits on the newline byte before
 * decoding (UTF-8 never uses 0x0A inside a multi-byte character), so a line cut across chunks decodes whole and
 * invalid UTF-8 is reported on its own line. Holds one partial line in memory, so large logs stream through.
 */
export async function* splitLines(
  chunks: Chunks,
  options: ReadOptions = {},
): AsyncGenerator<{ text: string; line: number }> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const encoder = new TextEncoder();
  let pending: Uint8Array | undefined;
  let line = 0;
  let bytes = 0;
  const decodeLine = (raw: Uint8Array): string => {
    const end = raw.length > 0 && raw[raw.length - 1] === 13 ? raw.length - 1 : raw.length;
    try {
      return decoder.decode(raw.subarray(0, end));
    } catch (cause) {
      throw new LogFormatError(line, 'invalid UTF-8', { cause, source: options.source });
    }
  };
  for await (const chunk of chunks) {
    const data = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    bytes += data.byteLength;
    let buf = data;
    if (pending !== undefined) {
      buf = new Uint8Array(pending.length + data.length);
      buf.set(pending);
      buf.set(data, pending.length);
    }
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      line++;
      yield { text: decodeLine(buf.subarray(start, nl)), line };
      if (options.onProgress !== undefined && line % PROGRESS_EVERY === 0) options.onProgress({ lines: line, bytes });
      start = nl + 1;
    }
    pending = start < buf.length ? buf.slice(start) : undefined;
  }
  if (pending !== undefined) {
    line++;
    yield { text: decodeLine(pending), line };
  }
  options.onProgress?.({ lines: line, bytes });
}

const featureValues = z.union([z.array(z.number()), z.record(z.string(), z.union([z.number(), z.string()]))]);

/**
 * One line of the simulator's `--history` log. `propensity` is the logging policy's probability of `chosen`
 * (0 or absent: not logged); `events` counts the raw feedback behind `reward`; `position` is the slot, if any.
 */
export const historyLineSchema = z
  .object({
    context: featureValues,
    actions: z.array(z.object({ id: z.string().min(1), features: featureValues.optional() })).min(1),
    chosen: z.string().min(1).optional(),
    propensity: z.number().min(0).max(1).optional(),
    events: z.record(z.string(), z.number().nonnegative()).optional(),
    reward: z.number().optional(),
    position: z.number().int().optional(),
    /**
     * A slate: the action shown in each slot (top first), the probability that the logger put it there given the
     * slots above (the engine's `slots[j].propensity`) and what it earned. Replaces `chosen`, `propensity`, `reward`
     * and `position`.
     */
    slots: z
      .array(z.object({ chosen: z.string().min(1), propensity: z.number().gt(0).max(1), reward: z.number() }))
      .min(1)
      .optional(),
  })
  .superRefine((line, ctx) => {
    const single = ['chosen', 'propensity', 'reward', 'position'].filter(
      (k) => line[k as keyof typeof line] !== undefined,
    );
    if (line.slots !== undefined && single.length > 0)
      ctx.addIssue({ code: 'custom', message: `a slate line (slots) has no ${single.join(', ')} of its own` });
    if (line.slots !== undefined) return;
    for (const k of ['chosen', 'reward'] as const)
      if (line[k] === undefined)
        ctx.addIssue({ code: 'custom', path: [k], message: 'required (or slots, for a slate)' });
  });

export type HistoryLine = z.infer<typeof historyLineSchema>;

function toFeatures(v: number[] | Record<string, number | string>): Features {
  return Array.isArray(v) ? Float64Array.from(v) : v;
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid record';
  const path = issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : '';
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more)` : '';
  return `${path}${issue.message}${more}`;
}

/**
 * Reads a JSONL history log, validating every line; the first bad line throws `LogFormatError` naming it.
 * Blank lines are skipped. Vector contexts must keep one length across the log. A slate line (`slots`) becomes one
 * slate of `slates` and one round per slot (position j, the candidates the slots above left, the slot's conditional
 * propensity and reward), so slot-level estimates and `--by-position` read it as they read OBD's positions. Rewards have no declared range:
 * pass one to the evaluation, or it falls back to the observed range.
 */
export async function readJsonlLog(chunks: Chunks, options: ReadOptions = {}): Promise<LoggedData> {
  const rounds: Round[] = [];
  const slates: SlateRound[] = [];
  const source = options.source;
  let contextShape: { kind: 'vector'; length: number; line: number } | { kind: 'named'; line: number } | undefined;
  for await (const { text, line } of splitLines(chunks, options)) {
    if (text.trim() === '') continue;
    const fail = (detail: string, cause?: unknown): never => {
      throw new LogFormatError(line, detail, { cause, source });
    };
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (cause) {
      fail(`invalid JSON (${(cause as Error).message})`, cause);
    }
    const parsed = historyLineSchema.safeParse(raw);
    if (!parsed.success) return fail(describeIssue(parsed.error), parsed.error);
    const rec = parsed.data;
    const ids = new Set<string>();
    for (const a of rec.actions) {
      if (ids.has(a.id)) fail(`action id "${a.id}" appears twice`);
      ids.add(a.id);
    }
    const indexOf = (id: string, what: string) => {
      const i = rec.actions.findIndex((a) => a.id === id);
      return i === -1 ? fail(`${what} "${id}" is not among actions`) : i;
    };
    if (Array.isArray(rec.context)) {
      if (contextShape === undefined) contextShape = { kind: 'vector', length: rec.context.length, line };
      else if (contextShape.kind === 'named')
        fail(`context is a vector but line ${contextShape.line} has named values`);
      else if (contextShape.length !== rec.context.length) {
        fail(`context has ${rec.context.length} values but line ${contextShape.line} has ${contextShape.length}`);
      }
    } else if (contextShape === undefined) contextShape = { kind: 'named', line };
    else if (contextShape.kind === 'vector') fail(`context has named values but line ${contextShape.line} is a vector`);
    const candidates: Candidate[] = rec.actions.map((a) =>
      a.features === undefined ? { id: a.id } : { id: a.id, features: toFeatures(a.features) },
    );
    if (rec.slots !== undefined) {
      const slate: SlateRound = {
        context: toFeatures(rec.context),
        candidates,
        chosen: rec.slots.map((s, j) => indexOf(s.chosen, `slots.${j}.chosen`)),
        propensities: rec.slots.map((s) => s.propensity),
        rewards: rec.slots.map((s) => s.reward),
      };
      if (new Set(slate.chosen).size !== slate.chosen.length) fail('slots: an action appears in two slots');
      slates.push(slate);
      for (let j = 0; j < slate.chosen.length; j++) rounds.push(slotRound(slate, j));
      continue;
    }
    rounds.push({
      context: toFeatures(rec.context),
      candidates,
      chosenIndex: indexOf(rec.chosen!, 'chosen'),
      reward: rec.reward!,
      ...(rec.propensity !== undefined && { propensity: rec.propensity }),
      ...(rec.position !== undefined && { position: rec.position }),
    });
  }
  return slates.length > 0 ? { rounds, slates } : { rounds };
}

function splitCsv(text: string, line: number, source: string | undefined): string[] {
  // OBD files never quote; refusing quotes beats silently mis-splitting a quoted comma.
  if (text.includes('"')) throw new LogFormatError(line, 'quoted CSV fields are not supported', { source });
  return text.split(',');
}

function csvNumber(raw: string, column: string, line: number, source: string | undefined): number {
  const v = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(v))
    throw new LogFormatError(line, `column ${column}: expected a number, got "${raw}"`, { source });
  return v;
}

export interface ObdSources {
  /** The campaign log, e.g. `bts/men.csv`. */
  readonly log: Chunks;
  /** `item_context.csv` from the same folder. */
  readonly itemContext: Chunks;
  readonly logName?: string;
  readonly itemContextName?: string;
  readonly onProgress?: (progress: ReadProgress) => void;
}

async function readItemContext(chunks: Chunks, source: string): Promise<Candidate[]> {
  let header: string[] | undefined;
  let idCol = -1;
  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  for await (const { text, line } of splitLines(chunks, { source })) {
    if (text.trim() === '') continue;
    const fields = splitCsv(text, line, source);
    if (header === undefined) {
      header = fields;
      idCol = header.indexOf('item_id');
      if (idCol === -1) throw new LogFormatError(line, 'missing column "item_id"', { source });
      continue;
    }
    if (fields.length !== header.length) {
      throw new LogFormatError(line, `expected ${header.length} fields, got ${fields.length}`, { source });
    }
    const id = fields[idCol]!.trim();
    if (id === '') throw new LogFormatError(line, 'column item_id is empty', { source });
    if (seen.has(id)) throw new LogFormatError(line, `item_id "${id}" appears twice`, { source });
    seen.add(id);
    const features: Record<string, number | string> = {};
    header.forEach((name, c) => {
      if (!name.startsWith('item_feature_')) return;
      const raw = fields[c]!;
      const num = Number(raw);
      features[name] = raw.trim() !== '' && Number.isFinite(num) ? num : raw;
    });
    candidates.push({ id, features });
  }
  if (candidates.length === 0) throw new LogFormatError(1, 'no items', { source });
  return candidates;
}

/**
 * Reads an Open Bandit Dataset campaign CSV with its `item_context.csv`. Every row is one round at one position:
 * candidates are all items, reward is `click` (so the reward range is [0, 1]), the propensity is the logger's
 * probability of that item at that position. Context: `user_feature_*` (hashed categories, kept as strings) and
 * `user-item_affinity_*` (numbers), by name.
 */
export async function readObdLog(sources: ObdSources): Promise<LoggedData> {
  const logName = sources.logName;
  const candidates = await readItemContext(sources.itemContext, sources.itemContextName ?? 'item_context.csv');
  const indexOf = new Map(candidates.map((c, i) => [c.id, i]));
  const rounds: Round[] = [];
  let cols: { item: number; position: number; click: number; propensity: number; width: number } | undefined;
  let contextCols: { name: string; index: number; numeric: boolean }[] = [];
  const readOptions: ReadOptions = {
    ...(logName !== undefined && { source: logName }),
    ...(sources.onProgress !== undefined && { onProgress: sources.onProgress }),
  };
  for await (const { text, line } of splitLines(sources.log, readOptions)) {
    if (text.trim() === '') continue;
    const fail = (detail: string): never => {
      throw new LogFormatError(line, detail, { source: logName });
    };
    const fields = splitCsv(text, line, logName);
    if (cols === undefined) {
      const need = (name: string): number => {
        const i = fields.indexOf(name);
        return i === -1 ? fail(`missing column "${name}"`) : i;
      };
      cols = {
        item: need('item_id'),
        position: need('position'),
        click: need('click'),
        propensity: need('propensity_score'),
        width: fields.length,
      };
      contextCols = fields
        .map((name, index) => ({ name, index, numeric: name.startsWith('user-item_affinity_') }))
        .filter((c) => c.numeric || c.name.startsWith('user_feature_'));
      continue;
    }
    if (fields.length !== cols.width) fail(`expected ${cols.width} fields, got ${fields.length}`);
    const item = fields[cols.item]!.trim();
    const chosenIndex = indexOf.get(item);
    if (chosenIndex === undefined) return fail(`item_id "${item}" is not in item_context.csv`);
    const position = csvNumber(fields[cols.position]!, 'position', line, logName);
    if (!(Number.isInteger(position) && position >= 1))
      fail(`column position: expected an integer ≥ 1, got ${position}`);
    const click = csvNumber(fields[cols.click]!, 'click', line, logName);
    if (click !== 0 && click !== 1) fail(`column click: expected 0 or 1, got ${click}`);
    const propensity = csvNumber(fields[cols.propensity]!, 'propensity_score', line, logName);
    if (!(propensity > 0 && propensity <= 1))
      fail(`column propensity_score: expected a value in (0, 1], got ${propensity}`);
    const context: Record<string, number | string> = {};
    for (const c of contextCols) {
      context[c.name] = c.numeric ? csvNumber(fields[c.index]!, c.name, line, logName) : fields[c.index]!;
    }
    rounds.push({ context: context as NamedFeatures, candidates, chosenIndex, propensity, reward: click, position });
  }
  if (cols === undefined) throw new LogFormatError(1, 'missing header row', { source: logName });
  return { rounds, rewardRange: { min: 0, max: 1 } };
}
