/**
 * IAM policy evaluation for the subset of the policy language a CDK stack emits, so that the local twin can answer
 * every SDK call of a function the way AWS would under that function's role:
 *
 * - an explicit Deny in any statement wins; otherwise any Allow allows; otherwise the request is implicitly denied;
 * - a statement applies when its Action (or NotAction) matches the action, case-insensitively, with `*` and `?`
 *   wildcards; its Resource (or NotResource) matches the resource ARN, case-sensitively, with the same wildcards; and
 *   every condition holds;
 * - a condition block holds when every operator holds; an operator holds when every key holds; a key holds when any of
 *   its values matches (for negated operators: when none does). `ForAllValues:` holds when every request value
 *   matches some policy value (vacuously so when the key is absent or empty), `ForAnyValue:` when some request value
 *   does (never when absent). A single-valued operator on an absent key fails, unless it ends in `IfExists` or is
 *   negated (`StringNotEquals` on an absent key holds); on a multivalued key (an array, like `dynamodb:LeadingKeys`)
 *   it always fails: such keys need a set qualifier. `Null` tests presence.
 * - operators: String(Not)Equals(IgnoreCase), String(Not)Like, Arn(Not)Equals, Arn(Not)Like, Bool, Null,
 *   Numeric(Not)Equals, NumericLessThan(Equals), NumericGreaterThan(Equals). Any other operator is refused with an
 *   error: the twin must never allow what it cannot judge.
 *
 * Policy variables (`${aws:username}`) are not supported and refused the same way. The rules are those of the IAM
 * policy evaluation logic and condition operator references; test/twin/iam-policy.test.ts holds this evaluator to the
 * answers of an independent simulator on the stack's own policies.
 */
import type { PolicyDocument, PolicyStatement } from './template.ts';

export interface IamRequest {
  action: string;
  resource: string;
  /** Condition keys of the request (e.g. `dynamodb:LeadingKeys`), each with one or more values. */
  context: Record<string, string | string[]>;
}

export type IamDecision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

export class UnsupportedPolicyError extends Error {
  override readonly name = 'UnsupportedPolicyError';
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function wildcard(pattern: string, flags: string): RegExp {
  if (pattern.includes('${')) throw new UnsupportedPolicyError(`policy variables are not supported: ${pattern}`);
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, flags);
}
const cache = new Map<string, RegExp>();
function matches(pattern: string, value: string, ignoreCase: boolean): boolean {
  const key = `${ignoreCase ? 'i' : 's'}${pattern}`;
  let re = cache.get(key);
  if (!re) {
    re = wildcard(pattern, ignoreCase ? 'i' : '');
    cache.set(key, re);
  }
  return re.test(value);
}

type Compare = (policyValue: string, requestValue: string) => boolean;
const num = (s: string) => Number(s);
const BASE_OPERATORS: Record<string, { compare: Compare; negated: boolean }> = {
  StringEquals: { compare: (p, r) => p === r, negated: false },
  StringNotEquals: { compare: (p, r) => p === r, negated: true },
  StringEqualsIgnoreCase: { compare: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: { compare: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: true },
  StringLike: { compare: (p, r) => matches(p, r, false), negated: false },
  StringNotLike: { compare: (p, r) => matches(p, r, false), negated: true },
  ArnEquals: { compare: (p, r) => p === r, negated: false },
  ArnNotEquals: { compare: (p, r) => p === r, negated: true },
  ArnLike: { compare: (p, r) => matches(p, r, false), negated: false },
  ArnNotLike: { compare: (p, r) => matches(p, r, false), negated: true },
  Bool: { compare: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: false },
  NumericEquals: { compare: (p, r) => num(p) === num(r), negated: false },
  NumericNotEquals: { compare: (p, r) => num(p) === num(r), negated: true },
  NumericLessThan: { compare: (p, r) => num(r) < num(p), negated: false },
  NumericLessThanEquals: { compare: (p, r) => num(r) <= num(p), negated: false },
  NumericGreaterThan: { compare: (p, r) => num(r) > num(p), negated: false },
  NumericGreaterThanEquals: { compare: (p, r) => num(r) >= num(p), negated: false },
};

function conditionHolds(operator: string, key: string, policyValues: string[], request: IamRequest): boolean {
  const requestValue = Object.entries(request.context).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
  const values = list(requestValue);
  if (operator === 'Null') {
    const wantAbsent = policyValues.some((v) => v.toLowerCase() === 'true');
    return wantAbsent === (requestValue === undefined);
  }
  const [set, rest] = operator.includes(':') ? (operator.split(':') as [string, string]) : [undefined, operator];
  const ifExists = rest.endsWith('IfExists');
  const base = BASE_OPERATORS[ifExists ? rest.slice(0, -'IfExists'.length) : rest];
  if (!base || (set !== undefined && set !== 'ForAllValues' && set !== 'ForAnyValue')) {
    throw new UnsupportedPolicyError(`condition operator ${operator} is not supported by the twin`);
  }
  const hit = (r: string) => policyValues.some((p) => base.compare(p, r));
  // With a set qualifier a negated operator is judged per request value (that value matches no policy value).
  const one = (r: string) => (base.negated ? !hit(r) : hit(r));
  if (set === 'ForAllValues') return values.every(one);
  if (set === 'ForAnyValue') return values.some(one);
  // An absent key: a positive operator fails (unless IfExists), a negated one holds. A multivalued key (such as
  // dynamodb:LeadingKeys) never satisfies a single-valued operator, negated or not: it needs a set qualifier.
  if (requestValue === undefined) return ifExists || base.negated;
  if (Array.isArray(requestValue)) return false;
  return base.negated ? !hit(requestValue) : hit(requestValue);
}

function statementApplies(s: PolicyStatement, request: IamRequest): boolean {
  const actionHit = (patterns: string[]) => patterns.some((p) => matches(p, request.action, true));
  const resourceHit = (patterns: string[]) => patterns.some((p) => matches(p, request.resource, false));
  if (s.Action !== undefined ? !actionHit(list(s.Action)) : actionHit(list(s.NotAction))) return false;
  if (s.Resource !== undefined ? !resourceHit(list(s.Resource)) : resourceHit(list(s.NotResource))) return false;
  for (const [operator, keys] of Object.entries(s.Condition ?? {})) {
    for (const [key, value] of Object.entries(keys)) {
      if (!conditionHolds(operator, key, list(value).map(String), request)) return false;
    }
  }
  return true;
}

/** The decision of AWS's identity-policy evaluation for one request under the given policies. */
export function evaluate(policies: readonly PolicyDocument[], request: IamRequest): IamDecision {
  let allowed = false;
  for (const policy of policies) {
    for (const s of list(policy.Statement)) {
      if (!statementApplies(s, request)) continue;
      if (s.Effect === 'Deny') return 'ExplicitlyDenied';
      allowed = true;
    }
  }
  return allowed ? 'Allowed' : 'ImplicitlyDenied';
}

/** One (action pattern, resource pattern) an Allow statement grants, with the statement's conditions. */
export interface Grant {
  action: string;
  resource: string;
  condition: PolicyStatement['Condition'];
}

export function grantsOf(policies: readonly PolicyDocument[]): Grant[] {
  return policies.flatMap((p) =>
    list(p.Statement)
      .filter((s) => s.Effect === 'Allow' && s.Action !== undefined && s.Resource !== undefined)
      .flatMap((s) =>
        list(s.Action).flatMap((action) =>
          list(s.Resource).map((resource) => ({ action, resource, condition: s.Condition })),
        ),
      ),
  );
}

/** Whether `request` is allowed by this one grant alone. */
export function grantAllows(grant: Grant, request: IamRequest): boolean {
  const statement: PolicyStatement = {
    Effect: 'Allow',
    Action: grant.action,
    Resource: grant.resource,
    ...(grant.condition ? { Condition: grant.condition } : {}),
  };
  return statementApplies(statement, request);
}
