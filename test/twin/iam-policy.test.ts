/**
 * The twin's IAM evaluator (local/twin/iam-policy.ts) against an independent implementation of AWS's evaluation
 * logic, @cloud-copilot/iam-simulate (AGPL: a devDependency of this test only, never bundled or run by the engine or
 * local mode). Both judge the same requests under the same policies and must agree:
 * - the synthesised stack's own role policies, with requests over every action those roles name (and some they
 *   do not), every resource ARN of the template (tables, their indexes, streams, queues, buckets and objects) and
 *   `dynamodb:LeadingKeys` absent, empty or with mixed values;
 * - hand-made statements for the corners of the condition rules: negated operators and `IfExists` on absent keys,
 *   `ForAllValues`/`ForAnyValue` on absent keys, `Null`, explicit Deny over Allow, NotAction and NotResource.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultSynthesis } from '../../local/twin/assembly.ts';
import { evaluate, type IamRequest } from '../../local/twin/iam-policy.ts';
import { type PolicyDocument, TWIN_ACCOUNT, type TwinPlan } from '../../local/twin/template.ts';

async function simulate(policies: readonly PolicyDocument[], request: IamRequest): Promise<string | undefined> {
  const result = await runSimulation(
    {
      identityPolicies: policies.map((policy, i) => ({ name: `p${i}`, policy: { Version: '2012-10-17', ...policy } })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        principal: `arn:aws:iam::${TWIN_ACCOUNT}:role/twin`,
        action: request.action,
        resource: { accountId: TWIN_ACCOUNT, resource: request.resource },
        contextVariables: request.context,
      },
    } as never,
    {},
  );
  // A request the simulator refuses to judge (e.g. a condition key the action does not take) is left out.
  return result.resultType === 'error' ? undefined : result.overallResult;
}

let plan: TwinPlan;
beforeAll(() => {
  plan = defaultSynthesis().plan;
});

describe('the twin evaluator agrees with an independent IAM simulator', () => {
  it("on the stack's own role policies, for requests over the template's actions and resources", async () => {
    const roles = plan.functions.map((f) => f.role.policies.map((p) => p.document));
    const granted = [
      ...new Set(
        roles.flatMap((docs) =>
          docs.flatMap((d) => d.Statement.flatMap((s) => [s.Action ?? []].flat().filter((a) => !a.includes('*')))),
        ),
      ),
    ];
    const actions = [...granted, 'dynamodb:Scan', 'dynamodb:DeleteItem', 'kinesis:GetRecords', 's3:PutObject'];
    // Resources by service, each action drawn with its own service's resources (the simulator refuses other pairs).
    const resources: Record<string, string[]> = {
      dynamodb: plan.tables.flatMap((t) => [t.arn, `${t.arn}/index/byUpdatedAt`, `${t.arn}/index/other`]),
      kinesis: plan.streams.map((s) => s.arn),
      sqs: plan.queues.map((q) => q.arn),
      s3: plan.functions
        .flatMap((f) => [f.environment.LAKE_BUCKET].filter((b): b is string => b !== undefined))
        .flatMap((b) => [`arn:aws:s3:::${b}`, `arn:aws:s3:::${b}/lake/x.gz`, `arn:aws:s3:::${b}/retrain/y.json`]),
    };
    const request = fc
      .constantFrom(...actions.filter((a) => (resources[a.split(':')[0]!] ?? []).length > 0))
      .chain((action) => fc.tuple(fc.constant(action), fc.constantFrom(...resources[action.split(':')[0]!]!)));
    const leadingKeys = fc.option(fc.subarray(['KEY', 'DP#home', 'DPINDEX']), { nil: undefined });
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: roles.length - 1 }),
        request,
        leadingKeys,
        async (role, [action, resource], keys) => {
          const context: IamRequest['context'] =
            keys !== undefined && action.startsWith('dynamodb:') ? { 'dynamodb:LeadingKeys': keys } : {};
          const request = { action, resource, context };
          const expected = await simulate(roles[role]!, request);
          if (expected === undefined) return;
          compared++;
          expect(evaluate(roles[role]!, request), JSON.stringify(request)).toBe(expected);
        },
      ),
      { numRuns: 800, seed: 11 },
    );
    expect(compared).toBeGreaterThan(200);
  });

  it('on the corners of conditions, Deny and the Not- elements', async () => {
    const table = 'arn:aws:dynamodb:us-east-1:000000000000:table/T';
    const allow = (extra: object) => ({
      Statement: [{ Effect: 'Allow' as const, Action: 'dynamodb:GetItem', Resource: table, ...extra }],
    });
    const policies: PolicyDocument[][] = [
      [allow({ Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['KEY'] } } })],
      [allow({ Condition: { 'ForAnyValue:StringEquals': { 'dynamodb:LeadingKeys': ['KEY'] } } })],
      [allow({ Condition: { StringNotEquals: { 'dynamodb:LeadingKeys': ['KEY'] } } })],
      [allow({ Condition: { StringEqualsIfExists: { 'dynamodb:LeadingKeys': ['KEY'] } } })],
      [allow({ Condition: { StringLike: { 'dynamodb:LeadingKeys': ['K*'] } } })],
      [allow({ Condition: { Null: { 'dynamodb:LeadingKeys': 'true' } } })],
      [allow({ Condition: { Null: { 'dynamodb:LeadingKeys': 'false' } } })],
      [
        allow({}),
        {
          Statement: [
            {
              Effect: 'Deny',
              Action: 'dynamodb:*',
              Resource: '*',
              Condition: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': ['DP#*'] } },
            },
          ],
        },
      ],
      [{ Statement: [{ Effect: 'Allow', NotAction: 'dynamodb:PutItem', Resource: table }] }],
      [{ Statement: [{ Effect: 'Allow', Action: 'dynamodb:Get*', NotResource: `${table}/index/*` }] }],
    ];
    const contexts: IamRequest['context'][] = [
      {},
      { 'dynamodb:LeadingKeys': [] },
      { 'dynamodb:LeadingKeys': ['KEY'] },
      { 'dynamodb:LeadingKeys': ['KEY', 'DP#a'] },
      { 'dynamodb:LeadingKeys': ['DP#a'] },
    ];
    let compared = 0;
    for (const docs of policies) {
      for (const context of contexts) {
        for (const [action, resource] of [
          ['dynamodb:GetItem', table],
          ['dynamodb:PutItem', table],
          ['dynamodb:GetItem', `${table}/index/byUpdatedAt`],
        ] as const) {
          const request = { action, resource, context };
          const expected = await simulate(docs, request);
          if (expected === undefined) continue;
          compared++;
          expect(evaluate(docs, request), `${JSON.stringify(docs)} ${JSON.stringify(request)}`).toBe(expected);
        }
      }
    }
    expect(compared).toBeGreaterThan(100);
  });
});
