import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  inferFormat,
  LogFormatError,
  readJsonlLog,
  readObdLog,
  splitLines,
} from '../../../shared/core/evaluation/index.ts';

const line = (o: unknown): string => JSON.stringify(o);
const actions = [{ id: 'a', features: [1, 0] }, { id: 'b', features: { colour: 'red', price: 9.5 } }, { id: 'c' }];

async function collect(chunks: Iterable<string | Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of splitLines(chunks)) out.push(l.text);
  return out;
}

async function failure(p: Promise<unknown>): Promise<LogFormatError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LogFormatError) return e;
    throw e;
  }
  throw new Error('expected a LogFormatError');
}

describe('splitLines', () => {
  it('yields the same lines however the bytes are chunked, across CRLF and multi-byte characters', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.string({ unit: 'grapheme', maxLength: 12 }).filter((s) => !/[\r\n]/.test(s)),
          { maxLength: 8 },
        ),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 10 }),
        async (lines, crlf, cuts) => {
          const text = lines.map((l) => `${l}${crlf ? '\r\n' : '\n'}`).join('');
          const bytes = new TextEncoder().encode(text);
          const chunks: Uint8Array[] = [];
          let at = 0;
          for (let i = 0; at < bytes.length; i++) {
            const size = cuts[i % cuts.length]!;
            chunks.push(bytes.subarray(at, at + size));
            at += size;
          }
          expect(await collect(chunks)).toEqual(lines);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps a last line without a trailing newline and numbers lines from 1', async () => {
    const seen: [number, string][] = [];
    for await (const l of splitLines(['x\ny', 'z'])) seen.push([l.line, l.text]);
    expect(seen).toEqual([
      [1, 'x'],
      [2, 'yz'],
    ]);
  });

  it('names the line of invalid UTF-8', async () => {
    const bad = Uint8Array.of(0x61, 0x0a, 0xff, 0x0a);
    const e = await failure(collect([bad]));
    expect(e.line).toBe(2);
  });
});

describe('readJsonlLog', () => {
  it('reads vector and named contexts, optional propensity/events/position, blank lines and CRLF', async () => {
    const text = [
      line({ context: [0.5, -1], actions, chosen: 'b', propensity: 0.25, events: { click: 1 }, reward: 1 }),
      '',
      line({ context: [1, 2], actions, chosen: 'c', reward: 0, position: 2 }),
    ].join('\r\n');
    const { rounds, rewardRange } = await readJsonlLog([text]);
    expect(rewardRange).toBeUndefined();
    expect(rounds).toHaveLength(2);
    const [r1, r2] = rounds;
    expect(r1!.context).toEqual(Float64Array.from([0.5, -1]));
    expect(r1!.chosenIndex).toBe(1);
    expect(r1!.propensity).toBe(0.25);
    expect(r1!.reward).toBe(1);
    expect(r1!.candidates.map((c) => c.id)).toEqual(['a', 'b', 'c']);
    expect(r1!.candidates[0]!.features).toEqual(Float64Array.from([1, 0]));
    expect(r1!.candidates[1]!.features).toEqual({ colour: 'red', price: 9.5 });
    expect(r2!.propensity).toBeUndefined();
    expect(r2!.position).toBe(2);
    const named = await readJsonlLog([line({ context: { age: 31, plan: 'pro' }, actions, chosen: 'a', reward: 2 })]);
    expect(named.rounds[0]!.context).toEqual({ age: 31, plan: 'pro' });
  });

  const good = line({ context: [1], actions, chosen: 'a', propensity: 0.5, reward: 1 });
  const cases: [string, string, RegExp][] = [
    [
      'chosen not among actions',
      line({ context: [1], actions, chosen: 'x', reward: 1 }),
      /^line 3: chosen "x" is not among actions$/,
    ],
    ['invalid JSON', '{"context": [1], ', /^line 3: invalid JSON/],
    [
      'propensity above 1',
      line({ context: [1], actions, chosen: 'a', propensity: 1.5, reward: 1 }),
      /^line 3: propensity: /,
    ],
    ['missing reward', line({ context: [1], actions, chosen: 'a' }), /^line 3: reward: /],
    ['no actions', line({ context: [1], actions: [], chosen: 'a', reward: 0 }), /^line 3: actions: /],
    [
      'duplicate action id',
      line({ context: [1], actions: [{ id: 'a' }, { id: 'a' }], chosen: 'a', reward: 0 }),
      /^line 3: action id "a" appears twice$/,
    ],
    [
      'context length change',
      line({ context: [1, 2], actions, chosen: 'a', reward: 0 }),
      /^line 3: context has 2 values but line 1 has 1$/,
    ],
    [
      'context kind change',
      line({ context: { x: 1 }, actions, chosen: 'a', reward: 0 }),
      /^line 3: context has named values but line 1 is a vector$/,
    ],
    ['not an object', '[1, 2]', /^line 3: /],
  ];
  it.each(cases)('rejects %s with the line number', async (_name, bad, message) => {
    const e = await failure(readJsonlLog([`${good}\n\n${bad}\n${good}\n`]));
    expect(e).toBeInstanceOf(LogFormatError);
    expect(e.line).toBe(3);
    expect(e.message).toMatch(message);
  });

  it('prefixes the file name when given one', async () => {
    const e = await failure(readJsonlLog(['nope'], { source: 'history.jsonl' }));
    expect(e.message).toMatch(/^history\.jsonl: line 1: invalid JSON/);
  });
});

const ITEMS = [',item_id,item_feature_0,item_feature_1', '0,0,-0.5,aa', '1,1,0.25,bb', '2,2,1.5,aa'].join('\n');
const HEADER =
  ',timestamp,item_id,position,click,propensity_score,user_feature_0,user-item_affinity_0,user-item_affinity_1';
const row = (i: number, item: string, pos: string, click: string, p: string, aff = '0.0'): string =>
  `${i},2019-11-24 00:01:0${i}+00:00,${item},${pos},${click},${p},u${i},${aff},1.0`;

describe('readObdLog', () => {
  it('reads rows as rounds at a position, with all items as candidates and click as the reward in [0, 1]', async () => {
    const log = [HEADER, row(0, '2', '1', '0', '0.5'), row(1, '0', '3', '1', '0.02', '2.5')].join('\n');
    const data = await readObdLog({ log: [log], itemContext: [ITEMS] });
    expect(data.rewardRange).toEqual({ min: 0, max: 1 });
    expect(data.rounds).toHaveLength(2);
    const [a, b] = data.rounds;
    expect(a!.candidates.map((c) => c.id)).toEqual(['0', '1', '2']);
    expect(a!.candidates[1]!.features).toEqual({ item_feature_0: 0.25, item_feature_1: 'bb' });
    expect(a!.chosenIndex).toBe(2);
    expect(a!.position).toBe(1);
    expect(a!.propensity).toBe(0.5);
    expect(a!.reward).toBe(0);
    expect(b!.chosenIndex).toBe(0);
    expect(b!.reward).toBe(1);
    expect(b!.position).toBe(3);
    expect(b!.context).toEqual({ user_feature_0: 'u1', 'user-item_affinity_0': 2.5, 'user-item_affinity_1': 1 });
  });

  const bad: [string, string, RegExp][] = [
    ['an unknown item', row(1, '7', '1', '0', '0.5'), /^men\.csv: line 3: item_id "7" is not in item_context\.csv$/],
    [
      'a click that is not 0/1',
      row(1, '1', '1', '2', '0.5'),
      /^men\.csv: line 3: column click: expected 0 or 1, got 2$/,
    ],
    ['a zero propensity', row(1, '1', '1', '0', '0'), /^men\.csv: line 3: column propensity_score: /],
    [
      'a non-numeric propensity',
      row(1, '1', '1', '0', 'abc'),
      /^men\.csv: line 3: column propensity_score: expected a number, got "abc"$/,
    ],
    ['position 0', row(1, '1', '0', '0', '0.5'), /^men\.csv: line 3: column position: /],
    [
      'a missing field',
      row(1, '1', '1', '0', '0.5').replace(/,1\.0$/, ''),
      /^men\.csv: line 3: expected 9 fields, got 8$/,
    ],
    ['a quoted field', row(1, '"1"', '1', '0', '0.5'), /^men\.csv: line 3: quoted CSV fields are not supported$/],
  ];
  it.each(bad)('rejects %s with the line number', async (_name, badRow, message) => {
    const log = [HEADER, row(0, '2', '1', '0', '0.5'), badRow].join('\n');
    const e = await failure(readObdLog({ log: [log], itemContext: [ITEMS], logName: 'men.csv' }));
    expect(e.line).toBe(3);
    expect(e.message).toMatch(message);
  });

  it('rejects a log without a required column, naming it', async () => {
    const log = [HEADER.replace('propensity_score', 'pscore'), row(0, '2', '1', '0', '0.5')].join('\n');
    const e = await failure(readObdLog({ log: [log], itemContext: [ITEMS], logName: 'men.csv' }));
    expect(e.message).toBe('men.csv: line 1: missing column "propensity_score"');
  });

  it('rejects a malformed item context, naming that file', async () => {
    const e = await failure(readObdLog({ log: [HEADER], itemContext: [`${ITEMS}\n3,1,0.1,cc`] }));
    expect(e.message).toBe('item_context.csv: line 5: item_id "1" appears twice');
  });
});

describe('inferFormat', () => {
  it('maps .csv to obd and anything else to jsonl', () => {
    expect(inferFormat('data/bts/MEN.CSV')).toBe('obd');
    expect(inferFormat('history.jsonl')).toBe('jsonl');
    expect(inferFormat('history')).toBe('jsonl');
  });
});
