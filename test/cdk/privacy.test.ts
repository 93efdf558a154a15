/**
 * Privacy by default in the template: the pseudonym key (a retained, generated secret) read only by the functions
 * that see user ids, the index that finds a user's join items, and a finite retention on everything that holds user
 * records, each taken from the CDK context (docs/ARCHITECTURE.md §8).
 */
import type { CfnElement } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import type { NbaEngineStack } from '../../cdk/nba-engine-stack.ts';
import { stackSynthesizer } from '../support/cdk.ts';

const { synth, cleanup } = stackSynthesizer('nba-cdk-privacy-');
afterAll(cleanup);

const id = (stack: NbaEngineStack, c: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(c.node.defaultChild as CfnElement);

type Statement = { Action: string | string[]; Resource: unknown };
function statementsOf(template: Template, stack: NbaEngineStack, fn: { role?: { node: { defaultChild?: unknown } } }) {
  const role = stack.getLogicalId(fn.role?.node.defaultChild as CfnElement);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${role}"`))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}
const actionsOn = (statements: Statement[], logicalId: string) =>
  statements
    .filter((s) => JSON.stringify(s.Resource).includes(`"${logicalId}"`))
    .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
    .sort();

describe('privacy in the template', () => {
  const { stack, template } = synth();
  const env = (fn: { node: { defaultChild?: unknown } }) =>
    template.toJSON().Resources[id(stack, fn)].Properties.Environment.Variables as Record<string, unknown>;

  it('generates the pseudonym key as a retained secret of 64 alphanumeric characters', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasResource('AWS::SecretsManager::Secret', {
      DeletionPolicy: 'Retain',
      Properties: {
        GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false },
      },
    });
  });

  it('gives the key only to the three API functions, which may read its value and nothing else', () => {
    const secret = id(stack, stack.userPseudonymKey);
    for (const fn of [stack.decisionsFunction, stack.eventsFunction, stack.adminFunction]) {
      expect(env(fn).USER_PSEUDONYM_SECRET).toEqual({ Ref: secret });
      expect(actionsOn(statementsOf(template, stack, fn), secret)).toEqual(['secretsmanager:GetSecretValue']);
    }
    const others = [stack.updaterFunction, stack.retraining.stepsFunction, stack.retraining.workerFunction];
    for (const fn of others) {
      expect(env(fn).USER_PSEUDONYM_SECRET).toBeUndefined();
      expect(actionsOn(statementsOf(template, stack, fn), secret)).toEqual([]);
    }
  });

  it('indexes decisions and event claims by user (keys only), which the admin function may query and delete from, never read or write', () => {
    const table = template.toJSON().Resources[id(stack, stack.decisionsTable)].Properties;
    expect(table.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: 'byUser',
        KeySchema: [{ AttributeName: 'userId', KeyType: 'HASH' }],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ]);
    expect(actionsOn(statementsOf(template, stack, stack.adminFunction), id(stack, stack.decisionsTable))).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:Query',
    ]);
    const onIndex = statementsOf(template, stack, stack.adminFunction).filter((s) =>
      JSON.stringify(s.Resource).includes('/index/byUser'),
    );
    expect(onIndex.flatMap((s) => s.Action)).toEqual(['dynamodb:Query']);
  });

  it('expires dead letters and erasures through expiresAt, and passes each function its retention', () => {
    const ttl = (t: { node: { defaultChild?: unknown } }) =>
      template.toJSON().Resources[id(stack, t)].Properties.TimeToLiveSpecification;
    for (const t of [stack.stateTable, stack.decisionsTable, stack.deadLetterTable]) {
      expect(ttl(t)).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    }
    expect(env(stack.updaterFunction)).toMatchObject({ JOIN_RETENTION_DAYS: '90', DEADLETTER_RETENTION_DAYS: '30' });
    // An erasure outlives the lake records it excludes (365 days), plus a week for S3's lifecycle to catch up.
    expect(env(stack.adminFunction)).toMatchObject({ ERASURE_RETENTION_DAYS: '372' });
  });

  it('expires the lake, its delivery errors, the runs’ artifacts and the decision jobs’ objects by default, and logs after 30 days', () => {
    const rules = template.toJSON().Resources[id(stack, stack.retraining.lakeBucket)].Properties.LifecycleConfiguration
      .Rules as { Prefix?: string; ExpirationInDays?: number }[];
    const expiry = Object.fromEntries(rules.filter((r) => r.Prefix).map((r) => [r.Prefix, r.ExpirationInDays]));
    expect(expiry).toEqual({
      'lake/': 365,
      'lake-errors/': 365,
      'retrain/': 30,
      'retrain/map-results/': 14,
      // A job's input and output name the caller's users (README, Privacy and retention).
      'decision-jobs/': 30,
    });
    // Unversioned: an expired object is deleted, not kept as a noncurrent version.
    expect(
      template.toJSON().Resources[id(stack, stack.retraining.lakeBucket)].Properties.VersioningConfiguration,
    ).toBeUndefined();
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
    expect(groups.length).toBeGreaterThan(5);
    for (const g of groups) expect(g.Properties.RetentionInDays).toBe(30);
  });

  it('takes every retention from the CDK context', () => {
    const custom = synth({
      lakeRetentionDays: '90',
      retrainArtifactRetentionDays: '7',
      deadLetterRetentionDays: '14',
      joinRetentionDays: '30',
      logRetentionDays: '14',
    });
    const t = custom.template;
    t.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'lake/', ExpirationInDays: 90 }),
          Match.objectLike({ Prefix: 'retrain/', ExpirationInDays: 7 }),
        ]),
      },
    });
    const vars = (fn: { node: { defaultChild?: unknown } }) =>
      t.toJSON().Resources[id(custom.stack, fn)].Properties.Environment.Variables;
    expect(vars(custom.stack.updaterFunction)).toMatchObject({
      JOIN_RETENTION_DAYS: '30',
      DEADLETTER_RETENTION_DAYS: '14',
    });
    expect(vars(custom.stack.adminFunction)).toMatchObject({ ERASURE_RETENTION_DAYS: '97' });
    for (const g of Object.values(t.findResources('AWS::Logs::LogGroup')))
      expect(g.Properties.RetentionInDays).toBe(14);
  });
});
