import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionPointSettingsSchema } from '../../shared/core/schemas.ts';
import { SimFormatError } from '../../sim/errors.ts';
import { parseHistoryLine, parseJsonLines, parseOnlineLine, readJsonLines } from '../../sim/formats.ts';
import { simulate } from '../../sim/simulate.ts';

const round = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    t: 0,
    context: [1, 0.5],
    actions: [
      { id: 'a', features: [1] },
      { id: 'b', features: { kind: 'promo', price: 2 } },
    ],
    rewards: { a: 0, b: 1 },
    ...over,
  });

const history = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    context: { segment: 'value', age: 31 },
    actions: [
      { id: 'a', features: [1] },
      { id: 'b', features: [0] },
    ],
    chosen: 'b',
    propensity: 0.25,
    events: { click: 1 },
    reward: 1,
    ...over,
  });

function onlineError(text: string, line = 7): string {
  try {
    parseOnlineLine(text, line, 'online.jsonl');
  } catch (e) {
    expect(e).toBeInstanceOf(SimFormatError);
    return (e as Error).message;
  }
  throw new Error('expected a SimFormatError');
}

function historyError(text: string, line = 3): string {
  try {
    parseHistoryLine(text, line, 'history.jsonl');
  } catch (e) {
    expect(e).toBeInstanceOf(SimFormatError);
    return (e as Error).message;
  }
  throw new Error('expected a SimFormatError');
}

describe('online lines', () => {
  it('parses a well-formed round, with optional events, expected and delay', () => {
    const r = parseOnlineLine(
      round({ events: { b: { click: 1 } }, expected: { a: 0.1, b: 0.2 }, delay: 3 }),
      1,
      'online.jsonl',
    );
    expect(r.actions.map((a) => a.id)).toEqual(['a', 'b']);
    expect(r.delay).toBe(3);
    expect(r.expected).toEqual({ a: 0.1, b: 0.2 });
  });

  it.each([
    ['rewards must be an object', round({ rewards: 'x' }), 'online.jsonl line 7: rewards must be an object'],
    [
      'rewards.b must be a finite number',
      round({ rewards: { a: 0, b: 'one' } }),
      'online.jsonl line 7: rewards.b must be a finite number',
    ],
    ['rewards has no entry for "b"', round({ rewards: { a: 0 } }), 'online.jsonl line 7: rewards has no entry for "b"'],
    [
      'expected has no entry for "b"',
      round({ expected: { a: 0.1 } }),
      'online.jsonl line 7: expected has no entry for "b"',
    ],
    ['t is required', round({ t: undefined }), 'online.jsonl line 7: t is required'],
    ['t must be an integer', round({ t: 1.5 }), 'online.jsonl line 7: t must be an integer'],
    ['delay must be >= 0', round({ delay: -1 }), 'online.jsonl line 7: delay must be >= 0'],
    [
      'context must be an array of finite numbers or an object',
      round({ context: 'young' }),
      'online.jsonl line 7: context must be an array of finite numbers or an object',
    ],
    ['actions must not be empty', round({ actions: [] }), 'online.jsonl line 7: actions must not be empty'],
    [
      'actions[0].id must be 1-128 characters',
      round({ actions: [{ id: 'a b' }] }),
      'online.jsonl line 7: actions[0].id must be 1-128 characters',
    ],
    [
      'actions lists "a" twice',
      round({ actions: [{ id: 'a' }, { id: 'a' }] }),
      'online.jsonl line 7: actions lists "a" twice',
    ],
    [
      'events names "z", which is not among actions',
      round({ events: { z: { click: 1 } } }),
      'online.jsonl line 7: events names "z", which is not among actions',
    ],
    [
      'events.a.click must be >= 0',
      round({ events: { a: { click: -1 } } }),
      'online.jsonl line 7: events.a.click must be >= 0',
    ],
    ['unknown field "reward"', round({ reward: 1 }), 'online.jsonl line 7: unknown field "reward"'],
    ['invalid JSON', '{"t": 0,', 'online.jsonl line 7: invalid JSON'],
    ['must be a JSON object', '[1, 2]', 'online.jsonl line 7: must be a JSON object'],
  ])('rejects a line where %s', (_label, text, message) => {
    expect(onlineError(text)).toContain(message);
  });
});

describe('history lines', () => {
  it('parses a well-formed line (the evaluate CLI reads the same format)', () => {
    const h = parseHistoryLine(history(), 1, 'history.jsonl');
    expect(h.chosen).toBe('b');
    expect(h.events).toEqual({ click: 1 });
  });

  it.each([
    [
      'chosen "c" is not among actions',
      history({ chosen: 'c' }),
      'history.jsonl line 3: chosen "c" is not among actions',
    ],
    ['propensity must be in (0, 1]', history({ propensity: 0 }), 'history.jsonl line 3: propensity must be in (0, 1]'],
    [
      'propensity must be in (0, 1]',
      history({ propensity: 1.5 }),
      'history.jsonl line 3: propensity must be in (0, 1]',
    ],
    ['propensity is required', history({ propensity: undefined }), 'history.jsonl line 3: propensity is required'],
    [
      'actions[0].features is required',
      history({ actions: [{ id: 'b' }] }),
      'history.jsonl line 3: actions[0].features is required',
    ],
    [
      'reward must be a finite number',
      history({ reward: null }),
      'history.jsonl line 3: reward must be a finite number',
    ],
  ])('rejects a line where %s', (_label, text, message) => {
    expect(historyError(text)).toContain(message);
  });
});

describe('files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sim-formats-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('streams a file, skips blank lines and names the bad line by its number in the file', async () => {
    const path = join(dir, 'online.jsonl');
    await writeFile(path, `${round()}\n\n${round({ t: 1 })}\r\n${round({ t: 2, rewards: [] })}\n`);
    const seen: number[] = [];
    const read = async () => {
      for await (const { line } of readJsonLines(path, parseOnlineLine, { source: 'online.jsonl' })) seen.push(line);
    };
    await expect(read()).rejects.toThrow('online.jsonl line 4: rewards must be an object');
    expect(seen).toEqual([1, 3]);
  });

  it('reports problems only the simulation can see with the line number', () => {
    const settings = decisionPointSettingsSchema.parse({ contextDim: 3, actionDim: 2 });
    const lines = (texts: string[]) => parseJsonLines(texts.join('\n'), parseOnlineLine, 'online.jsonl');
    const run = (texts: string[]) => () => {
      const rounds = lines(texts);
      const sim = simulate([], { settings, source: 'online.jsonl' });
      for (const { value, line } of rounds) sim.step(value, line);
    };
    const ok = round({ actions: [{ id: 'a', features: [1] }], rewards: { a: 0 } });
    expect(run([ok, round({ t: 5, actions: [{ id: 'c' }], rewards: { c: 0 } })])).toThrow(
      'online.jsonl line 2: actions[0] "c" has no features and was not seen before',
    );
    expect(run([round({ t: 5, actions: [{ id: 'a', features: [1] }], rewards: { a: 0 } }), ok])).toThrow(
      "online.jsonl line 2: t 0 is earlier than the previous round's 5",
    );
    expect(run([round({ context: [1, 2, 3], actions: [{ id: 'a', features: [1] }], rewards: { a: 0 } })])).toThrow(
      'online.jsonl line 1: context: 3 dense features do not fit in dim − 1 = 2 slots',
    );
    expect(run([round({ actions: [{ id: 'a', features: [1, 2] }], rewards: { a: 0 } })])).toThrow(
      'online.jsonl line 1: actions[0].features: 2 dense features do not fit',
    );
  });
});
