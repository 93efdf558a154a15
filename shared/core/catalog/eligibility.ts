/**
 * Eligibility rules: which requests an action may be served to, judged on the request's context attributes and the
 * user's stage. An action with rules is a candidate only when every rule holds (logical AND); an action without rules
 * is eligible everywhere.
 *
 * A rule names its attribute as `context.<name>` (a key of the decision request's `context`) or `stage` (the user's
 * lifecycle stage, when the decision knows it). Operators:
 *
 * | op      | holds when                                                   | attribute absent |
 * |---------|--------------------------------------------------------------|------------------|
 * | `eq`    | the value equals `value` (same type: `"5"` is not `5`)       | false            |
 * | `ne`    | the value differs from `value`                               | true             |
 * | `in`    | the value equals one of `values`                             | false            |
 * | `notIn` | the value equals none of `values`                            | true             |
 * | `range` | the value is a number within the bounds `gt`/`gte`/`lt`/`lte`| false            |
 *
 * Rules are validated when the action is written: an invalid rule is rejected with a message naming it
 * (`eligibility.2: context.age range: the range is empty`), never discovered at decision time.
 */
import { z } from 'zod';

/** Limits that keep a catalog item far below DynamoDB's 400 KB and a rule check O(1) per request. */
export const RULE_LIMITS = { maxRules: 20, maxValuesPerRule: 100, maxValuesTotal: 200, maxStringLength: 256 } as const;

const scalarSchema = z.union([
  z.number().refine(Number.isFinite, 'must be a finite number'),
  z.string().max(RULE_LIMITS.maxStringLength),
  z.boolean(),
]);
export type RuleValue = z.infer<typeof scalarSchema>;

const attributeSchema = z
  .string()
  .regex(/^(stage|context\..{1,64})$/s, 'must be "stage" or "context.<name>" (name of 1-64 characters)');
const valuesSchema = z.array(scalarSchema).min(1).max(RULE_LIMITS.maxValuesPerRule);
const bound = z.number().refine(Number.isFinite, 'must be a finite number').optional();

export const eligibilityRuleSchema = z.discriminatedUnion(
  'op',
  [
    z.strictObject({ attribute: attributeSchema, op: z.literal('eq'), value: scalarSchema }),
    z.strictObject({ attribute: attributeSchema, op: z.literal('ne'), value: scalarSchema }),
    z.strictObject({ attribute: attributeSchema, op: z.literal('in'), values: valuesSchema }),
    z.strictObject({ attribute: attributeSchema, op: z.literal('notIn'), values: valuesSchema }),
    z.strictObject({
      attribute: attributeSchema,
      op: z.literal('range'),
      gt: bound,
      gte: bound,
      lt: bound,
      lte: bound,
    }),
  ],
  { error: 'op must be one of eq, ne, in, notIn, range' },
);
export type EligibilityRule = z.output<typeof eligibilityRuleSchema>;

/** Why a structurally valid rule still cannot be evaluated meaningfully, or undefined when it can. */
function ruleProblem(rule: EligibilityRule): string | undefined {
  const onStage = rule.attribute === 'stage';
  switch (rule.op) {
    case 'eq':
    case 'ne':
      return onStage && typeof rule.value !== 'string'
        ? 'stage is a string: compare it with a string value'
        : undefined;
    case 'in':
    case 'notIn':
      return onStage && rule.values.some((v) => typeof v !== 'string')
        ? 'stage is a string: list string values'
        : undefined;
    case 'range': {
      if (onStage) return 'stage is a string: use eq, ne, in or notIn, not range';
      const { gt, gte, lt, lte } = rule;
      if (gt === undefined && gte === undefined && lt === undefined && lte === undefined) {
        return 'needs at least one bound among gt, gte, lt, lte';
      }
      if (gt !== undefined && gte !== undefined) return 'give gt or gte, not both';
      if (lt !== undefined && lte !== undefined) return 'give lt or lte, not both';
      const lower = gt ?? gte;
      const upper = lt ?? lte;
      if (lower !== undefined && upper !== undefined) {
        const empty = gte !== undefined && lte !== undefined ? lower > upper : lower >= upper;
        if (empty)
          return `the range is empty (${gt !== undefined ? `> ${gt}` : `>= ${gte}`} and ${lt !== undefined ? `< ${lt}` : `<= ${lte}`})`;
      }
      return undefined;
    }
  }
}

export const eligibilityRulesSchema = z
  .array(eligibilityRuleSchema)
  .max(RULE_LIMITS.maxRules)
  .superRefine((rules, ctx) => {
    let total = 0;
    rules.forEach((rule, i) => {
      const problem = ruleProblem(rule);
      if (problem) ctx.addIssue({ code: 'custom', path: [i], message: `${rule.attribute} ${rule.op}: ${problem}` });
      if (rule.op === 'in' || rule.op === 'notIn') total += rule.values.length;
    });
    if (total > RULE_LIMITS.maxValuesTotal) {
      ctx.addIssue({
        code: 'custom',
        message: `at most ${RULE_LIMITS.maxValuesTotal} values across all rules (got ${total})`,
      });
    }
  });

/** What a rule reads from the request. */
export interface RuleInput {
  /** Named features, or a dense array whose own keys are its positions ("0", "1", …): rules read both alike. */
  context: Readonly<Record<string, RuleValue>> | readonly number[];
  stage?: string | undefined;
}

/** A rule prepared for the request path: the attribute lookup is resolved once, `in` lists become sets. */
export interface CompiledRule {
  /** True: the rule reads the stage; false: it reads `context[key]`. */
  readonly onStage: boolean;
  readonly key: string;
  readonly test: (value: RuleValue | undefined) => boolean;
}

export function compileRule(rule: EligibilityRule): CompiledRule {
  const onStage = rule.attribute === 'stage';
  const key = onStage ? '' : rule.attribute.slice('context.'.length);
  let test: CompiledRule['test'];
  switch (rule.op) {
    case 'eq': {
      const want = rule.value;
      test = (v) => v === want;
      break;
    }
    case 'ne': {
      const want = rule.value;
      test = (v) => v !== want;
      break;
    }
    case 'in': {
      const set = new Set<RuleValue>(rule.values);
      test = (v) => v !== undefined && set.has(v);
      break;
    }
    case 'notIn': {
      const set = new Set<RuleValue>(rule.values);
      test = (v) => v === undefined || !set.has(v);
      break;
    }
    case 'range': {
      const lo = rule.gt ?? rule.gte ?? Number.NEGATIVE_INFINITY;
      const hi = rule.lt ?? rule.lte ?? Number.POSITIVE_INFINITY;
      const loOpen = rule.gt !== undefined;
      const hiOpen = rule.lt !== undefined;
      test = (v) => typeof v === 'number' && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
      break;
    }
  }
  return { onStage, key, test };
}

/** True when every rule holds for the request (an empty rule list always holds). */
export function rulesHold(rules: readonly CompiledRule[], input: RuleInput): boolean {
  for (const r of rules) {
    const context = input.context as Readonly<Record<string, RuleValue>>;
    const value = r.onStage ? input.stage : Object.hasOwn(context, r.key) ? context[r.key] : undefined;
    if (!r.test(value)) return false;
  }
  return true;
}
