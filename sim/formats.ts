/**
 * The simulator's two input formats, one JSON object per line, validated with zod:
 *
 * - history (`--history`): logged decisions of some earlier policy, used to warm-start learners;
 *   `{ context, actions: [{ id, features }], chosen, propensity, events?, reward, position? }`.
 *   The same lines are readable by the evaluation CLI (`npm run evaluate -- --log history.jsonl`).
 * - online (`--online`): the rounds to play, in order;
 *   `{ t, context, actions: [{ id, features? }], rewards: { id: r }, events?: { id: { type: count } },
 *   expected?: { id: E[r] }, delay? }`. `rewards` holds the outcome each candidate would have had; the learner only
 *   ever sees its chosen action's (which of `rewards` and `events` counts: `sim/outcome.ts`).
 *
 * Files are read as streams ({@link readJsonLines}: memory bounded by a line and a chunk, whatever the file's size).
 * Online files go through {@link onlineLineParser}, which gives exactly what {@link parseOnlineLine} gives but skips
 * parsing and checking a candidate list that repeats the previous line's verbatim.
 *
 * Features are either an array (feature i → encoded slot 1 + i, no hashing) or an object of named values (hashed).
 * Every problem is reported as `FILE line N: <field> <what is wrong>`.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { actionIdSchema, eventTypeSchema } from '../shared/core/schemas.ts';
import { SimFormatError } from './errors.ts';

const finite = z.number({ error: 'must be a finite number' });
const nonNegative = finite.min(0, { error: 'must be >= 0' });
const namedValue = z.union([finite, z.string().max(256), z.boolean()], {
  error: 'must be a finite number, a string (at most 256 characters) or a boolean',
});

export const featureInputSchema = z.union([z.array(finite), z.record(z.string().min(1).max(64), namedValue)], {
  error: 'must be an array of finite numbers or an object of named values',
});
export type FeatureInput = z.infer<typeof featureInputSchema>;

const actionId = z.string({ error: 'must be a string' }).pipe(actionIdSchema);
/**
 * An object of finite numbers keyed by action id (`rewards`, `expected`). Checked by one plain loop instead of a
 * `z.record`, which validates and copies entry by entry: these two records hold one entry per candidate on every
 * round, and were most of the parsing time of a round. The issues (and so the messages) are the same.
 */
const numbersById = z
  .custom<Record<string, number>>((v) => v !== null && typeof v === 'object' && !Array.isArray(v), {
    error: 'must be an object',
  })
  .superRefine((rec, ctx) => {
    for (const key in rec) {
      const v = rec[key];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'must be a finite number' });
      }
    }
  });

const eventCounts = z.record(eventTypeSchema, nonNegative, { error: 'must be an object of event counts' });

const historyActionSchema = z.strictObject(
  { id: actionId, features: featureInputSchema },
  { error: 'must be an object { id, features }' },
);

export const historyLineSchema = z.strictObject(
  {
    context: featureInputSchema,
    actions: z.array(historyActionSchema, { error: 'must be an array' }).min(1, { error: 'must not be empty' }),
    chosen: actionId,
    propensity: z
      .number({ error: 'must be a number' })
      .gt(0, { error: 'must be in (0, 1]' })
      .max(1, { error: 'must be in (0, 1]' }),
    events: eventCounts.optional(),
    reward: finite,
    position: z.number().int({ error: 'must be an integer' }).min(1, { error: 'must be >= 1' }).optional(),
  },
  { error: 'must be a JSON object' },
);
export type HistoryLine = z.infer<typeof historyLineSchema>;

const onlineActionSchema = z.strictObject(
  { id: actionId, features: featureInputSchema.optional() },
  { error: 'must be an object { id, features? }' },
);

export const onlineRoundSchema = z.strictObject(
  {
    t: z.number({ error: 'must be a number' }).int({ error: 'must be an integer' }).min(0, { error: 'must be >= 0' }),
    context: featureInputSchema,
    actions: z.array(onlineActionSchema, { error: 'must be an array' }).min(1, { error: 'must not be empty' }),
    rewards: numbersById,
    events: z.record(z.string(), eventCounts, { error: 'must be an object' }).optional(),
    expected: numbersById.optional(),
    delay: z
      .number({ error: 'must be a number' })
      .int({ error: 'must be an integer' })
      .min(0, { error: 'must be >= 0' })
      .optional(),
  },
  { error: 'must be a JSON object' },
);
export type OnlineRound = z.infer<typeof onlineRoundSchema>;

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** The first issue as `<field> <problem>`, e.g. `rewards must be an object` or `actions[2].id is required`. */
function describe(error: z.ZodError, raw: unknown): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid line';
  const where = pathText(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `"${k}"`).join(', ');
    return `${where === '' ? '' : `${where}: `}unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}`;
  }
  const absent = issue.path.length > 0 && valueAt(raw, issue.path) === undefined;
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_union') && absent) {
    return `${where} is required`;
  }
  return where === '' ? issue.message : `${where} ${issue.message}`;
}

function parseJson(text: string, source: string, line: number): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new SimFormatError(source, line, `invalid JSON (${(cause as Error).message})`, { cause });
  }
}

function duplicateId(actions: readonly { id: string }[]): string | undefined {
  const n = actions.length;
  // Candidate lists are short: pairwise comparison allocates nothing, unlike a Set per line.
  if (n <= 32) {
    for (let i = 1; i < n; i++) {
      const id = (actions[i] as { id: string }).id;
      for (let j = 0; j < i; j++) if ((actions[j] as { id: string }).id === id) return id;
    }
    return undefined;
  }
  const seen = new Set<string>();
  for (const a of actions) {
    if (seen.has(a.id)) return a.id;
    seen.add(a.id);
  }
  return undefined;
}

/** Parses and validates one history line (`line` is 1-based, for the error message). */
export function parseHistoryLine(text: string, line: number, source = 'history'): HistoryLine {
  const raw = parseJson(text, source, line);
  const parsed = historyLineSchema.safeParse(raw);
  if (!parsed.success) throw new SimFormatError(source, line, describe(parsed.error, raw), { cause: parsed.error });
  const rec = parsed.data;
  const dup = duplicateId(rec.actions);
  if (dup !== undefined) throw new SimFormatError(source, line, `actions lists "${dup}" twice`);
  if (!rec.actions.some((a) => a.id === rec.chosen)) {
    throw new SimFormatError(source, line, `chosen "${rec.chosen}" is not among actions`);
  }
  return rec;
}

/**
 * The checks beyond the schema: every candidate needs a reward (and an expected reward when `expected` is given),
 * `events` may only name candidates, and no candidate is listed twice (skipped when `actionsChecked`: the candidate
 * list is one already checked on an earlier line).
 */
function checkRound(round: OnlineRound, source: string, line: number, actionsChecked = false): OnlineRound {
  const acts = round.actions;
  if (!actionsChecked) {
    const dup = duplicateId(acts);
    if (dup !== undefined) throw new SimFormatError(source, line, `actions lists "${dup}" twice`);
  }
  const { rewards, expected, events } = round;
  for (let i = 0; i < acts.length; i++) {
    const id = (acts[i] as { id: string }).id;
    if (!Object.hasOwn(rewards, id)) throw new SimFormatError(source, line, `rewards has no entry for "${id}"`);
    if (expected !== undefined && !Object.hasOwn(expected, id)) {
      throw new SimFormatError(source, line, `expected has no entry for "${id}"`);
    }
  }
  if (events !== undefined) {
    for (const id of Object.keys(events)) {
      if (!acts.some((a) => a.id === id)) {
        throw new SimFormatError(source, line, `events names "${id}", which is not among actions`);
      }
    }
  }
  return round;
}

/**
 * Parses and validates one online round: besides the schema, every candidate needs a reward (and an expected
 * reward when `expected` is given), and `events` may only name candidates.
 */
export function parseOnlineLine(text: string, line: number, source = 'online'): OnlineRound {
  const raw = parseJson(text, source, line);
  const parsed = onlineRoundSchema.safeParse(raw);
  if (!parsed.success) throw new SimFormatError(source, line, describe(parsed.error, raw), { cause: parsed.error });
  return checkRound(parsed.data, source, line);
}

// ---------------------------------------------------------------------------------------------------------------
// The fast path for files. Validating a round with zod (which copies every object it checks) and parsing the same
// candidate list again on every line was most of the time of a simulation read from a file. The checks below accept
// a subset of what the schema accepts, never more: anything they do not accept goes through the schema, which then
// either accepts it too or words the error, so messages are exactly those of `parseOnlineLine`.

type Json = unknown;

// Plain index loops over `Object.keys`: a `for … in` over a parsed object was several times slower here.
const isObject = (v: Json): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isFiniteNumber = (v: Json): v is number => typeof v === 'number' && Number.isFinite(v);
const isCount = (v: Json): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function isFeatures(v: Json): boolean {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!isFiniteNumber(v[i])) return false;
    return true;
  }
  if (!isObject(v)) return false;
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    if (k.length < 1 || k.length > 64) return false;
    const x = v[k];
    if (!(isFiniteNumber(x) || typeof x === 'boolean' || (typeof x === 'string' && x.length <= 256))) return false;
  }
  return true;
}

function isNumbersById(v: Json): boolean {
  if (!isObject(v)) return false;
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) if (!isFiniteNumber(v[keys[i] as string])) return false;
  return true;
}

function isActions(v: Json): boolean {
  if (!Array.isArray(v) || v.length === 0) return false;
  for (const a of v) {
    if (!isObject(a)) return false;
    const keys = Object.keys(a);
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 'id' && keys[i] !== 'features') return false;
    if (typeof a.id !== 'string' || !actionIdSchema.safeParse(a.id).success) return false;
    if (a.features !== undefined && !isFeatures(a.features)) return false;
  }
  return true;
}

function isEvents(v: Json): boolean {
  if (!isObject(v)) return false;
  const ids = Object.keys(v);
  for (let i = 0; i < ids.length; i++) {
    const counts = v[ids[i] as string];
    if (!isObject(counts)) return false;
    const types = Object.keys(counts);
    for (let j = 0; j < types.length; j++) {
      const type = types[j] as string;
      const c = counts[type];
      if (!(isFiniteNumber(c) && c >= 0) || !eventTypeSchema.safeParse(type).success) return false;
    }
  }
  return true;
}

/** True when `v` certainly satisfies {@link onlineRoundSchema} (its `actions` are not looked at when `knownActions`). */
function isOnlineRound(v: Json, knownActions: boolean): v is OnlineRound {
  if (!isObject(v)) return false;
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const x = v[k];
    switch (k) {
      case 't':
      case 'delay':
        if (!isCount(x)) return false;
        break;
      case 'context':
        if (!isFeatures(x)) return false;
        break;
      case 'actions':
        if (!knownActions && !isActions(x)) return false;
        break;
      case 'rewards':
      case 'expected':
        if (!isNumbersById(x)) return false;
        break;
      case 'events':
        if (!isEvents(x)) return false;
        break;
      default:
        return false;
    }
  }
  return v.t !== undefined && v.context !== undefined && v.actions !== undefined && v.rewards !== undefined;
}

const ACTIONS_KEY = '"actions":';
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** End (exclusive) of the JSON array or object that starts at or after `text[start]`, or −1. */
function valueEnd(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
    } else if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/**
 * Whether the `"actions":` at `at` is the line's one top-level `actions` key: scans the line outside that key's value
 * (`from`…`to`, a balanced JSON value), tracking nesting and strings. Any other top-level string spelled `"actions"`,
 * or written with an escape (which could spell it differently), makes the answer no.
 */
function isSoleTopLevelActions(text: string, at: number, from: number, to: number): boolean {
  let depth = 0;
  let found = false;
  for (let i = 0; i < text.length; i++) {
    if (i === from) {
      // The usual case ends here: no other key, top level or not, can be spelled "actions" after the list.
      if (text.indexOf('"actions"', to) < 0 && text.indexOf('\\', to) < 0) return found;
      i = to - 1;
      continue;
    }
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const s = i;
      let escaped = false;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) {
          escaped = true;
          i++;
        } else if (d === QUOTE) break;
      }
      if (depth !== 1) continue;
      if (s === at) found = true;
      else if (escaped || (i === s + 8 && text.startsWith('"actions"', s))) return false;
    } else if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return found;
}

/**
 * A parser of online lines for one file, equivalent to {@link parseOnlineLine} line by line, but fast on files that
 * repeat their candidate list: when a line's top-level `"actions":` value is, character for character, the previous
 * line's, that part is neither parsed nor checked again, and the round gets the very same `actions` array (so the
 * rounds share it: treat them as read-only).
 */
export function onlineLineParser(): (text: string, line: number, source?: string) => OnlineRound {
  let knownText = '';
  let known: OnlineRound['actions'] | undefined;
  return (text, line, source = 'online') => {
    const at = text.indexOf(ACTIONS_KEY);
    const start = at + ACTIONS_KEY.length;
    if (
      known !== undefined &&
      at >= 0 &&
      // The same test as text.startsWith(knownText, start), but string equality compares the characters as a block:
      // on lines listing 20 candidates with features (1.4 KB of actions) startsWith cost ten times as much.
      text.slice(start, start + knownText.length) === knownText &&
      isSoleTopLevelActions(text, at, start, start + knownText.length)
    ) {
      let raw: Json;
      try {
        // `null` cannot run into the characters that follow it and still be valid JSON (a `0` could: `0e0`).
        raw = JSON.parse(`${text.slice(0, start)}null${text.slice(start + knownText.length)}`);
      } catch {
        raw = undefined;
      }
      if (isObject(raw) && raw.actions === null) {
        raw.actions = known;
        if (isOnlineRound(raw, true)) return checkRound(raw, source, line, true);
      }
    }
    const raw = parseJson(text, source, line);
    if (!isOnlineRound(raw, false)) return parseOnlineLine(text, line, source);
    checkRound(raw, source, line);
    if (at >= 0) {
      const end = valueEnd(text, start);
      if (end > start && isSoleTopLevelActions(text, at, start, end)) {
        knownText = text.slice(start, end);
        known = raw.actions;
      }
    }
    return raw;
  };
}

/** One parsed line with its 1-based line number. */
export interface Numbered<T> {
  readonly value: T;
  readonly line: number;
}

export interface FileProgress {
  readonly bytes: number;
  readonly totalBytes: number;
}

/** Where JSON lines come from: a file's path, or any stream of text or bytes (stdin, a socket, a test's chunks). */
export type LineSource = string | AsyncIterable<string | Uint8Array>;

export interface ReadOptions {
  /** Names the input in error messages (default: the path, or `input`). */
  readonly source?: string;
  /** Called every 1,024 lines and at the end. `totalBytes` is known for files only (else 0). */
  readonly onProgress?: (p: FileProgress) => void;
}

const isBlank = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0b && c !== 0x0c && c !== 0xa0 && c !== 0xfeff)
      return text.trim() === '';
  }
  return true;
};

/**
 * Streams JSON lines through `parse`, skipping blank lines (a trailing `\r` is dropped). Memory is bounded by the
 * longest line plus one read chunk (1 MiB from a file), whatever the input's size: lines are cut from each chunk as
 * it arrives and nothing else is kept. The lines, and so the parsed values and their line numbers, do not depend on
 * how the input is chunked (a UTF-8 character split between two chunks is decoded whole).
 */
export async function* readJsonLines<T>(
  input: LineSource,
  parse: (text: string, line: number, source: string) => T,
  options: ReadOptions = {},
): AsyncGenerator<Numbered<T>> {
  const source = options.source ?? (typeof input === 'string' ? input : 'input');
  const totalBytes = typeof input === 'string' ? (await stat(input)).size : 0;
  const chunks = typeof input === 'string' ? createReadStream(input, { highWaterMark: 1 << 16 }) : input;
  const report = options.onProgress;
  const text = new ChunkText();
  let bytes = 0;
  let line = 0;
  for await (const chunk of chunks) {
    bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    for (const lines of text.push(chunk)) {
      let from = 0;
      for (let nl = lines.indexOf('\n'); nl >= 0; nl = lines.indexOf('\n', from)) {
        const end = nl > from && lines.charCodeAt(nl - 1) === 0x0d ? nl - 1 : nl;
        const lineText = lines.slice(from, end);
        from = nl + 1;
        line++;
        if ((line & 1023) === 0) report?.({ bytes, totalBytes });
        if (isBlank(lineText)) continue;
        yield { value: parse(lineText, line, source), line };
      }
    }
  }
  let last = text.end();
  if (last.endsWith('\r')) last = last.slice(0, -1);
  if (!isBlank(last)) {
    line++;
    yield { value: parse(last, line, source), line };
  }
  report?.({ bytes: totalBytes || bytes, totalBytes: totalBytes || bytes });
}

/**
 * Turns chunks of text or UTF-8 bytes into text made of whole lines: each {@link ChunkText.push} returns the lines
 * completed by the chunk (through its last newline), as one or two strings (the line begun in earlier chunks, then
 * the rest), and keeps the unfinished line for the next chunk. Bytes are decoded only up to a newline byte, which
 * never falls inside a UTF-8 character, so a character split between two chunks is decoded whole; and the body of
 * a chunk is decoded in one call, without being copied into a string with the previous chunk's tail (a
 * `StringDecoder`, and that concatenation, were each a tenth of a simulation's time).
 */
class ChunkText {
  private restText = '';
  private restBytes: Buffer[] = [];

  push(chunk: string | Uint8Array): string[] {
    if (typeof chunk === 'string') {
      const prefix = this.end();
      const nl = chunk.lastIndexOf('\n');
      if (nl < 0) {
        this.restText = prefix + chunk;
        return [];
      }
      this.restText = chunk.slice(nl + 1);
      return [prefix + chunk.slice(0, nl + 1)];
    }
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const last = buf.lastIndexOf(0x0a);
    if (last < 0) {
      this.restBytes.push(buf);
      return [];
    }
    const first = buf.indexOf(0x0a);
    // The line that earlier chunks began ends at this chunk's first newline: decode it as one piece.
    const head =
      this.restText +
      (this.restBytes.length === 0
        ? buf.toString('utf8', 0, first + 1)
        : Buffer.concat([...this.restBytes, buf.subarray(0, first + 1)]).toString('utf8'));
    this.restText = '';
    this.restBytes = last + 1 < buf.length ? [buf.subarray(last + 1)] : [];
    return first === last ? [head] : [head, buf.toString('utf8', first + 1, last + 1)];
  }

  /** The unfinished last line, if any (and forgets it). */
  end(): string {
    const out = this.restText + (this.restBytes.length === 0 ? '' : Buffer.concat(this.restBytes).toString('utf8'));
    this.restText = '';
    this.restBytes = [];
    return out;
  }
}

/** Parses a whole JSON-lines text held in memory (tests, small files). */
export function parseJsonLines<T>(
  text: string,
  parse: (text: string, line: number, source: string) => T,
  source: string,
): Numbered<T>[] {
  const out: Numbered<T>[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const t = (lines[i] as string).replace(/\r$/, '');
    if (t.trim() === '') continue;
    out.push({ value: parse(t, i + 1, source), line: i + 1 });
  }
  return out;
}
