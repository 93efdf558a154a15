import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { eligibleCandidates } from '../../shared/core/catalog/eligible.ts';
import { instantMs, instantSchema, inWindow, lifecycleStatus } from '../../shared/core/catalog/schedule.ts';
import { actionInputSchema, describeZodError } from '../../shared/core/schemas.ts';
import { action, all, idsOf, view } from './helpers.ts';

const T = Date.parse('2026-12-01T00:00:00Z');
const serves = (a: ReturnType<typeof action>, now: number) => {
  const v = view([a]);
  return idsOf(v, eligibleCandidates(v, all(v), { context: {}, now, key: 'k' })).length === 1;
};

describe('ISO-8601 instants', () => {
  it('accepts date-times with an offset or Z, with or without fractions of a second', () => {
    for (const v of ['2026-12-24T18:00:00+01:00', '2026-12-24T17:00:00Z', '2026-12-24T17:00:00.250-05:30']) {
      expect(instantSchema.safeParse(v).success, v).toBe(true);
    }
  });

  it('rejects local times without an offset, dates alone, missing seconds and impossible dates', () => {
    for (const v of [
      '2026-12-24T18:00:00',
      '2026-12-24',
      '2026-12-24T18:00+01:00',
      '2026-02-30T00:00:00Z',
      'tomorrow',
    ]) {
      const r = actionInputSchema.safeParse({ startsAt: v });
      expect(r.success, v).toBe(false);
      if (!r.success) expect(describeZodError(r.error)).toMatch(/^startsAt: must be an ISO-8601 date-time .* offset/);
    }
  });

  it('maps the same instant written in different offsets to the same millisecond, across a DST change', () => {
    // Paris moves from +01:00 to +02:00 at 2026-03-29T01:00:00Z.
    expect(instantMs('2026-03-29T03:00:00+02:00')).toBe(instantMs('2026-03-29T01:00:00Z'));
    expect(instantMs('2026-03-29T01:59:59+01:00')).toBe(instantMs('2026-03-29T00:59:59Z'));
    expect(instantMs('2026-03-29T14:00:00+14:00')).toBe(instantMs('2026-03-28T12:00:00-12:00'));
  });

  const savedTz = process.env.TZ;
  afterEach(() => {
    process.env.TZ = savedTz;
  });

  it('does not depend on the time zone of the machine', () => {
    const instants = ['2026-03-29T02:30:00+01:00', '2026-11-01T01:30:00-04:00', '2026-06-30T23:59:59.999Z'];
    const inZone = (tz: string) => {
      process.env.TZ = tz;
      return instants.map(instantMs);
    };
    const utc = inZone('UTC');
    expect(inZone('Europe/Paris')).toEqual(utc);
    expect(inZone('America/New_York')).toEqual(utc);
    expect(inZone('Pacific/Kiritimati')).toEqual(utc);
  });
});

describe('schedule windows', () => {
  it('serves from startsAt inclusive to endsAt exclusive', () => {
    const a = action('a', { startsAt: T, endsAt: T + 3_600_000 });
    expect(serves(a, T - 1)).toBe(false);
    expect(serves(a, T)).toBe(true);
    expect(serves(a, T + 3_599_999)).toBe(true);
    expect(serves(a, T + 3_600_000)).toBe(false);
  });

  it('treats an absent bound as open', () => {
    expect(serves(action('a', { endsAt: T }), -1e15)).toBe(true);
    expect(serves(action('a', { startsAt: T }), 1e15)).toBe(true);
    expect(serves(action('a'), T)).toBe(true);
  });

  it('reports scheduled, live, expired and retired, retirement winning over the window', () => {
    const a = action('a', { startsAt: T, endsAt: T + 10 });
    expect(lifecycleStatus(a, T - 1)).toBe('scheduled');
    expect(lifecycleStatus(a, T)).toBe('live');
    expect(lifecycleStatus(a, T + 10)).toBe('expired');
    expect(lifecycleStatus({ ...a, status: 'retired' }, T)).toBe('retired');
    expect(serves({ ...a, status: 'retired' }, T)).toBe(false);
  });

  it('serves exactly when startsAt <= now < endsAt, and the status says live exactly then (property)', () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 0, max: 1e13 }), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 1e13 }), { nil: undefined }),
        fc.integer({ min: 0, max: 1e13 }),
        (startsAt, endsAt, now) => {
          const a = action('a', { startsAt, endsAt });
          const expected = (startsAt === undefined || startsAt <= now) && (endsAt === undefined || now < endsAt);
          expect(inWindow(startsAt, endsAt, now)).toBe(expected);
          expect(serves(a, now)).toBe(expected);
          expect(lifecycleStatus(a, now) === 'live').toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('rejects a window whose end is not after its start, naming endsAt', () => {
    const r = actionInputSchema.safeParse({ startsAt: '2026-12-24T18:00:00+01:00', endsAt: '2026-12-24T17:00:00Z' });
    expect(r.success).toBe(false);
    if (!r.success) expect(describeZodError(r.error)).toMatch(/^endsAt: must be after startsAt/);
    expect(
      actionInputSchema.safeParse({ startsAt: '2026-12-24T18:00:00+01:00', endsAt: '2026-12-24T17:00:01Z' }).success,
    ).toBe(true);
  });
});
