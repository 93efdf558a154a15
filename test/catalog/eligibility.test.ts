import { describe, expect, it } from 'vitest';
import { compileRule, type EligibilityRule, rulesHold } from '../../shared/core/catalog/eligibility.ts';
import { eligibleCandidates } from '../../shared/core/catalog/eligible.ts';
import { actionInputSchema, describeZodError } from '../../shared/core/schemas.ts';
import { action, all, idsOf, view } from './helpers.ts';

const holds = (rule: unknown, context: Record<string, string | number | boolean>, stage?: string) => {
  const parsed = actionInputSchema.parse({ eligibility: [rule] }).eligibility as EligibilityRule[];
  return rulesHold(parsed.map(compileRule), { context, stage });
};
const reject = (rules: unknown[]) => {
  const r = actionInputSchema.safeParse({ eligibility: rules });
  if (r.success) throw new Error(`accepted ${JSON.stringify(rules)}`);
  return describeZodError(r.error);
};

describe('eligibility operators', () => {
  it('eq: holds on an equal value of the same type only, and not when the attribute is absent', () => {
    const rule = { attribute: 'context.country', op: 'eq', value: 'FR' };
    expect(holds(rule, { country: 'FR' })).toBe(true);
    expect(holds(rule, { country: 'fr' })).toBe(false);
    expect(holds(rule, {})).toBe(false);
    expect(holds({ attribute: 'context.level', op: 'eq', value: 5 }, { level: '5' })).toBe(false);
    expect(holds({ attribute: 'context.vip', op: 'eq', value: true }, { vip: true })).toBe(true);
  });

  it('ne: holds on a different value and when the attribute is absent', () => {
    const rule = { attribute: 'context.country', op: 'ne', value: 'FR' };
    expect(holds(rule, { country: 'DE' })).toBe(true);
    expect(holds(rule, { country: 'FR' })).toBe(false);
    expect(holds(rule, {})).toBe(true);
  });

  it('in: holds when the value is listed, not when absent', () => {
    const rule = { attribute: 'context.segment', op: 'in', values: ['new', 'returning', 3] };
    expect(holds(rule, { segment: 'new' })).toBe(true);
    expect(holds(rule, { segment: 3 })).toBe(true);
    expect(holds(rule, { segment: 'vip' })).toBe(false);
    expect(holds(rule, { segment: '3' })).toBe(false);
    expect(holds(rule, {})).toBe(false);
  });

  it('notIn: holds when the value is not listed, and when absent', () => {
    const rule = { attribute: 'context.segment', op: 'notIn', values: ['churned'] };
    expect(holds(rule, { segment: 'new' })).toBe(true);
    expect(holds(rule, { segment: 'churned' })).toBe(false);
    expect(holds(rule, {})).toBe(true);
  });

  it('range: honours each of gt, gte, lt, lte and holds only on numbers', () => {
    const between = { attribute: 'context.age', op: 'range', gte: 18, lt: 65 };
    expect([17.9, 18, 64.9, 65].map((age) => holds(between, { age }))).toEqual([false, true, true, false]);
    const open = { attribute: 'context.age', op: 'range', gt: 18, lte: 65 };
    expect([18, 18.1, 65, 65.1].map((age) => holds(open, { age }))).toEqual([false, true, true, false]);
    expect(holds({ attribute: 'context.score', op: 'range', gt: 0.5 }, { score: 0.7 })).toBe(true);
    expect(holds({ attribute: 'context.score', op: 'range', lt: 0.5 }, { score: 0.7 })).toBe(false);
    expect(holds(between, { age: '30' })).toBe(false);
    expect(holds(between, { age: true })).toBe(false);
    expect(holds(between, {})).toBe(false);
  });

  it('reads the user stage for attribute "stage", treating an unknown stage as absent', () => {
    const rule = { attribute: 'stage', op: 'in', values: ['trial', 'onboarding'] };
    expect(holds(rule, {}, 'trial')).toBe(true);
    expect(holds(rule, {}, 'paying')).toBe(false);
    expect(holds(rule, {}, undefined)).toBe(false);
    // A context attribute called "stage" is not the stage.
    expect(holds(rule, { stage: 'trial' }, undefined)).toBe(false);
    expect(holds({ attribute: 'stage', op: 'ne', value: 'churned' }, {}, undefined)).toBe(true);
  });

  it('does not read inherited properties of the context object', () => {
    expect(holds({ attribute: 'context.toString', op: 'notIn', values: ['x'] }, {})).toBe(true);
    expect(holds({ attribute: 'context.constructor', op: 'eq', value: 'x' }, {})).toBe(false);
  });

  it('requires every rule of an action to hold', () => {
    const v = view([
      action('fr-adults', {
        eligibility: [
          { attribute: 'context.country', op: 'eq', value: 'FR' },
          { attribute: 'context.age', op: 'range', gte: 18 },
        ],
      }),
      action('everyone'),
    ]);
    const served = (context: Record<string, string | number>) =>
      idsOf(v, eligibleCandidates(v, all(v), { context, now: 0, key: 'k' }));
    expect(served({ country: 'FR', age: 30 })).toEqual(['fr-adults', 'everyone']);
    expect(served({ country: 'FR', age: 16 })).toEqual(['everyone']);
    expect(served({ country: 'DE', age: 30 })).toEqual(['everyone']);
  });
});

describe('invalid rules are rejected with a message naming the rule', () => {
  it('names the rule index and the field for structural errors', () => {
    expect(
      reject([
        { attribute: 'context.a', op: 'eq', value: 1 },
        { attribute: 'context.b', op: 'between', values: [1] },
      ]),
    ).toMatch(/eligibility\.1\.op: op must be one of eq, ne, in, notIn, range/);
    expect(reject([{ attribute: 'country', op: 'eq', value: 'FR' }])).toMatch(
      /eligibility\.0\.attribute: must be "stage" or "context\.<name>"/,
    );
    expect(reject([{ attribute: 'context.a', op: 'in', values: [] }])).toMatch(/eligibility\.0\.values/);
    expect(reject([{ attribute: 'context.a', op: 'in', value: 'x' }])).toMatch(/eligibility\.0\.values/);
    expect(reject([{ attribute: 'context.a', op: 'eq', value: { nested: 1 } }])).toMatch(/eligibility\.0\.value/);
    expect(reject([{ attribute: 'context.a', op: 'eq', value: 1, extra: true }])).toMatch(/eligibility\.0.*extra/);
  });

  it('names the rule, its attribute and operator for rules that cannot hold meaningfully', () => {
    const rules = [
      { attribute: 'context.ok', op: 'eq', value: 1 },
      { attribute: 'context.age', op: 'range', gte: 65, lt: 18 },
    ];
    expect(reject(rules)).toBe('eligibility.1: context.age range: the range is empty (>= 65 and < 18)');
    expect(reject([{ attribute: 'context.age', op: 'range', gt: 5, lt: 5 }])).toMatch(/range is empty/);
    expect(reject([{ attribute: 'context.age', op: 'range' }])).toMatch(
      /eligibility\.0: context\.age range: needs at least one bound/,
    );
    expect(reject([{ attribute: 'context.age', op: 'range', gt: 1, gte: 2 }])).toMatch(/give gt or gte, not both/);
    expect(reject([{ attribute: 'context.age', op: 'range', lt: 1, lte: 2 }])).toMatch(/give lt or lte, not both/);
    expect(reject([{ attribute: 'stage', op: 'range', gte: 1 }])).toMatch(
      /eligibility\.0: stage range: stage is a string/,
    );
    expect(reject([{ attribute: 'stage', op: 'eq', value: 3 }])).toMatch(/eligibility\.0: stage eq: stage is a string/);
  });

  it('keeps a point range [x, x] and caps the number of rules and values', () => {
    expect(
      actionInputSchema.safeParse({ eligibility: [{ attribute: 'context.n', op: 'range', gte: 3, lte: 3 }] }).success,
    ).toBe(true);
    const many = Array.from({ length: 21 }, () => ({ attribute: 'context.a', op: 'eq', value: 1 }));
    expect(reject(many)).toMatch(/eligibility: .*20/);
    const wide = Array.from({ length: 3 }, () => ({
      attribute: 'context.a',
      op: 'in',
      values: Array.from({ length: 100 }, (_, i) => i),
    }));
    expect(reject(wide)).toMatch(/at most 200 values across all rules \(got 300\)/);
  });
});

describe('a dense context', () => {
  it('is read by position: context.0 is the first element, a missing position is absent', () => {
    const rules = [compileRule({ attribute: 'context.1', op: 'range', gte: 0.5 } as EligibilityRule)];
    expect(rulesHold(rules, { context: [0, 0.7] })).toBe(true);
    expect(rulesHold(rules, { context: [0, 0.2] })).toBe(false);
    expect(rulesHold(rules, { context: [0] })).toBe(false);
  });
});
