/**
 * The simulator's two input formats, one JSON object per line, validated with zod:
 *
 * - history (`--history`): logged decisions of some earlier policy, used to warm-start learners;
 *   `{ context, actions: [{ id, features }], chosen, propensity, events?, reward, position? }`.
 *   The same lines are readable by the evaluation CLI (`npm run evaluate -- --log history.jsonl`).
 * - online (`--online`): the rounds to play, in order;
 *   `{ t, context, actions: [{ id, features? }], rewards: { id: r }, events?: { id: { type: count } },
 *   expected?: { id: E[r] }, delay? }`. `rewards` holds the outcome each candidate would have had; the learner only
 *   ever sees its chosen action's.
 *
 * Features are either an array (feature i → encoded slot 1 + i, no hashing) or an object of named values (hashed).
 * Every problem is reported as `FILE line N: <field> <what is wrong>`.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
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
 * Parses and validates one online round: besides the schema, every candidate needs a reward (and an expected
 * reward when `expected` is given), and `events` may only name candidates.
 */
export function parseOnlineLine(text: string, line: number, source = 'online'): OnlineRound {
  const raw = parseJson(text, source, line);
  const parsed = onlineRoundSchema.safeParse(raw);
  if (!parsed.success) throw new SimFormatError(source, line, describe(parsed.error, raw), { cause: parsed.error });
  const round = parsed.data;
  const dup = duplicateId(round.actions);
  if (dup !== undefined) throw new SimFormatError(source, line, `actions lists "${dup}" twice`);
  for (const a of round.actions) {
    if (!Object.hasOwn(round.rewards, a.id))
      throw new SimFormatError(source, line, `rewards has no entry for "${a.id}"`);
    if (round.expected !== undefined && !Object.hasOwn(round.expected, a.id)) {
      throw new SimFormatError(source, line, `expected has no entry for "${a.id}"`);
    }
  }
  if (round.events !== undefined) {
    for (const id of Object.keys(round.events)) {
      if (!round.actions.some((a) => a.id === id)) {
        throw new SimFormatError(source, line, `events names "${id}", which is not among actions`);
      }
    }
  }
  return round;
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

/**
 * Streams a JSON-lines file through `parse`, skipping blank lines. `onProgress` is called every 1,024 lines with
 * the bytes read so far, which is what the CLIs' progress bars and ETAs are based on.
 */
export async function* readJsonLines<T>(
  path: string,
  parse: (text: string, line: number, source: string) => T,
  options: { source?: string; onProgress?: (p: FileProgress) => void } = {},
): AsyncGenerator<Numbered<T>> {
  const source = options.source ?? path;
  const totalBytes = (await stat(path)).size;
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  for await (const text of lines) {
    line++;
    if ((line & 1023) === 0) options.onProgress?.({ bytes: stream.bytesRead, totalBytes });
    if (text.trim() === '') continue;
    yield { value: parse(text, line, source), line };
  }
  options.onProgress?.({ bytes: totalBytes, totalBytes });
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
