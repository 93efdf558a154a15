/**
 * Reading online files: the result must not depend on how the bytes arrive, and the fast parser for files must
 * accept, reject and word errors exactly as the schema-checked `parseOnlineLine` does.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../shared/core/random.ts';
import { decisionPointSettingsSchema } from '../../shared/core/schemas.ts';
import {
  type Numbered,
  type OnlineRound,
  onlineLineParser,
  parseJsonLines,
  parseOnlineLine,
  readJsonLines,
} from '../../sim/formats.ts';
import { type SimulationResult, simulateStream } from '../../sim/simulate.ts';

/** A file with what chunking can break: multi-byte characters, CRLF, blank lines, no newline at the end. */
function trickyFile(rounds: number): string {
  const lines: string[] = [];
  for (let t = 0; t < rounds; t++) {
    const actions = [
      { id: 'a', features: { kind: 'café', tag: '日本語', mood: '🎉' } },
      { id: 'b', features: [0.5, -1] },
      { id: 'c', features: { kind: 'thé' } },
    ];
    lines.push(
      JSON.stringify({
        t,
        context: t % 3 === 0 ? { city: 'Zürich', visits: t % 7 } : [t % 5, 1],
        actions: t % 4 === 3 ? actions.slice(0, 2) : actions,
        rewards: { a: (t % 3) / 2, b: t % 2, c: 0.25 },
        expected: { a: 0.5, b: 0.5, c: 0.25 },
      }),
    );
    if (t % 10 === 4) lines.push('');
  }
  return lines.join(rounds % 2 === 0 ? '\r\n' : '\n');
}

async function* chunked(bytes: Buffer, sizes: () => number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; ) {
    const n = Math.max(1, sizes());
    yield bytes.subarray(i, i + n);
    i += n;
  }
}

async function collect<T>(it: AsyncIterable<Numbered<T>>): Promise<Numbered<T>[]> {
  const out: Numbered<T>[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('reading a stream of chunks', () => {
  const text = trickyFile(60);
  const bytes = Buffer.from(text, 'utf8');

  it('gives the same lines, values and line numbers whatever the chunking (bytes or text)', async () => {
    const reference = parseJsonLines(text, parseOnlineLine, 'online.jsonl');
    expect(reference.length).toBe(60);
    const rng = createRng(3);
    const sources: (() => AsyncIterable<string | Uint8Array>)[] = [
      () => chunked(bytes, () => bytes.length),
      () => chunked(bytes, () => 1),
      () => chunked(bytes, () => 1 + rng.int(13)),
      async function* () {
        for (let i = 0; i < text.length; i += 7) yield text.slice(i, i + 7);
      },
    ];
    for (const source of sources) {
      for (const parse of [parseOnlineLine, onlineLineParser()]) {
        expect(await collect(readJsonLines(source(), parse))).toEqual(reference);
      }
    }
  });

  it('gives the same simulation from tiny chunks as from one chunk', async () => {
    const settings = decisionPointSettingsSchema.parse({ contextDim: 4, actionDim: 4 });
    const run = async (sizes: () => number) =>
      (await simulateStream(readJsonLines(chunked(bytes, sizes), onlineLineParser()), { settings, seed: 5 })).result();
    const withoutRate = ({ roundsPerSecond: _, ...rest }: SimulationResult) => rest;
    const whole = await run(() => bytes.length);
    const rng = createRng(9);
    expect(withoutRate(await run(() => 1 + rng.int(5)))).toEqual(withoutRate(whole));
    expect(whole.rounds).toBe(60);
  });

  it('names the bad line by its number in the input, counting blank lines', async () => {
    const input = `${trickyFile(2)}\n\n{"t":5,"context":[1],"actions":[],"rewards":{}}\n`;
    const read = collect(
      readJsonLines(
        chunked(Buffer.from(input), () => 3),
        onlineLineParser(),
        { source: 'x.jsonl' },
      ),
    );
    await expect(read).rejects.toThrow('x.jsonl line 4: actions must not be empty');
  });
});

describe('the fast parser for files', () => {
  const outcome = (f: () => OnlineRound) => {
    try {
      return { value: f() };
    } catch (e) {
      return { error: (e as Error).message };
    }
  };

  const ok = (over: Record<string, unknown> = {}) =>
    JSON.stringify({
      t: 1,
      context: [1, 2],
      actions: [
        { id: 'a', features: [1] },
        { id: 'b', features: { k: 'v' } },
      ],
      rewards: { a: 0, b: 1 },
      ...over,
    });
  const sameActions = ok().slice(ok().indexOf('"actions":') + 10, ok().indexOf(',"rewards"'));

  it.each([
    ['the same line', ok()],
    ['a missing reward', ok({ rewards: { a: 0 } })],
    ['an unknown field', ok({ extra: 1 })],
    ['a non-finite number', ok().replace('"rewards":{"a":0', '"rewards":{"a":1e999')],
    [
      'a nested "actions" key holding the same list',
      ok({ context: { x: 1 } }).replace('{"x":1}', `{"actions":${sameActions}}`),
    ],
    ['a second top-level "actions" key', ok().replace(/}$/, ',"actions":0}')],
    ['an escaped second "actions" key', ok().replace(/}$/, ',"\\u0061ctions":0}')],
    ['"actions" spelled with an escape', ok().replace('"actions":', '"\\u0061ctions":')],
    ['junk right after the list', ok().replace(`${sameActions},`, `${sameActions}e0,`)],
    ['invalid JSON', ok().slice(0, -1)],
    ['events for a non-candidate', ok({ events: { z: { click: 1 } } })],
    ['a negative event count', ok({ events: { a: { click: -1 } } })],
    ['a null delay', ok({ delay: null })],
  ])('answers like parseOnlineLine after a line with the same candidates: %s', (_label, text) => {
    const parse = onlineLineParser();
    parse(ok(), 1, 'f');
    expect(outcome(() => parse(text, 2, 'f'))).toEqual(outcome(() => parseOnlineLine(text, 2, 'f')));
  });

  it('hands out the same actions array while the candidate list repeats', () => {
    const parse = onlineLineParser();
    const a = parse(ok({ t: 1 }), 1);
    const b = parse(ok({ t: 2 }), 2);
    const c = parse(ok({ t: 3, actions: [{ id: 'a' }], rewards: { a: 1 } }), 3);
    expect(b.actions).toBe(a.actions);
    expect(c.actions).not.toBe(a.actions);
    expect(c.actions).toEqual([{ id: 'a' }]);
  });

  it('agrees with parseOnlineLine on any sequence of valid and broken lines (fast-check)', () => {
    const num = fc.double({ noNaN: true, noDefaultInfinity: true });
    const features = fc.oneof(
      fc.array(num, { maxLength: 3 }),
      fc.dictionary(fc.constantFrom('k', 'actions', 'é'), fc.oneof(num, fc.string({ maxLength: 4 }), fc.boolean()), {
        maxKeys: 2,
      }),
    );
    const action = fc.record({ id: fc.constantFrom('a', 'b', 'c'), features }, { requiredKeys: ['id'] });
    const actionList = fc.uniqueArray(action, { selector: (a) => a.id, minLength: 1, maxLength: 3 });
    const byId = fc.record({ a: num, b: num, c: num });
    const round = fc.record(
      {
        t: fc.nat(5),
        context: features,
        rewards: byId,
        expected: byId,
        events: fc.dictionary(fc.constantFrom('a', 'b'), fc.dictionary(fc.constantFrom('click', 'buy'), fc.nat(2)), {
          maxKeys: 1,
        }),
        delay: fc.nat(3),
      },
      { requiredKeys: ['t', 'context', 'rewards'] },
    );
    // Each breaks one rule of the format; most lines get none, so the fast path is taken often.
    // biome-ignore lint/suspicious/noExplicitAny: each edit reaches into the generated round as JSON
    const breaks: Record<string, (r: Record<string, any>) => void> = {
      't < 0': (r) => {
        r.t = -1;
      },
      't not an integer': (r) => {
        r.t = 1.5;
      },
      'context a string': (r) => {
        r.context = 'x';
      },
      'context [null]': (r) => {
        r.context = [null];
      },
      'reward a string': (r) => {
        r.rewards = { ...r.rewards, a: '1' };
      },
      'no reward for b': (r) => {
        r.rewards = { a: 0, c: 0 };
      },
      'no rewards': (r) => {
        delete r.rewards;
      },
      'unknown field': (r) => {
        r.extra = 1;
      },
      'delay null': (r) => {
        r.delay = null;
      },
      'bad action id': (r) => {
        r.actions = [...r.actions, { id: 'bad id' }];
      },
      'feature null': (r) => {
        r.actions = [{ id: 'a', features: { k: null } }];
      },
      'negative event count': (r) => {
        r.events = { a: { click: -1 } };
      },
      'events for a non-candidate': (r) => {
        r.events = { z: { click: 1 } };
      },
      'bad event type': (r) => {
        r.events = { a: { 'bad type': 1 } };
      },
      'duplicate candidate': (r) => {
        r.actions = [...r.actions, r.actions[0]];
      },
      'actions empty': (r) => {
        r.actions = [];
      },
    };
    const texts: Record<string, (t: string) => string> = {
      'second actions key': (t) => t.replace(/}$/, ',"actions":[]}'),
      'escaped second actions key': (t) => t.replace(/}$/, ',"\\u0061ctions":[]}'),
      'space after the key': (t) => t.replace('"actions":', '"actions": '),
    };
    const rarely = (names: string[]) =>
      fc.oneof({ arbitrary: fc.constant(null), weight: 5 }, { arbitrary: fc.constantFrom(...names), weight: 1 });
    const row = fc.record({
      round,
      reuse: fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 }),
      own: actionList,
      broken: rarely(Object.keys(breaks)),
      edited: rarely(Object.keys(texts)),
    });
    let valid = 0;
    let fast = 0;
    fc.assert(
      fc.property(actionList, fc.array(row, { maxLength: 6 }), (shared, rows) => {
        const parse = onlineLineParser();
        let previous: unknown;
        rows.forEach((r, i) => {
          const actions = r.reuse ? shared : r.own;
          const events = Object.entries(r.round.events ?? {}).filter(([id]) => actions.some((a) => a.id === id));
          const obj: Record<string, unknown> = { ...r.round, actions, events: Object.fromEntries(events) };
          if (r.broken !== null) breaks[r.broken]?.(obj);
          let text = JSON.stringify(obj);
          if (r.edited !== null) text = texts[r.edited]?.(text) ?? text;
          const got = outcome(() => parse(text, i + 1, 'f'));
          expect(got).toEqual(outcome(() => parseOnlineLine(text, i + 1, 'f')));
          if (got.value !== undefined) {
            valid++;
            if (got.value.actions === previous) fast++;
            previous = got.value.actions;
          }
        });
      }),
      { numRuns: 1500, seed: 13 },
    );
    // The property means something only if both paths ran many times.
    expect(valid).toBeGreaterThan(2000);
    expect(fast).toBeGreaterThan(500);
  });
});
