/**
 * cdk-nag AwsSolutions over the whole stack: synthesis passes only because every finding is acknowledged in
 * cdk/nag.ts with its reason, and a new finding (here, a wildcard permission granted after construction) fails it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { afterAll, describe, expect, it } from 'vitest';
import { parseStackConfig } from '../../cdk/config.ts';
import { addNagChecks } from '../../cdk/nag.ts';
import { NbaEngineStack } from '../../cdk/nba-engine-stack.ts';

const outdirs: string[] = [];
afterAll(() => {
  for (const d of outdirs) rmSync(d, { recursive: true, force: true });
});

function build(): { app: App; stack: NbaEngineStack; outdir: string } {
  const outdir = mkdtempSync(join(tmpdir(), 'nba-nag-test-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new NbaEngineStack(
    app,
    'NbaEngine',
    parseStackConfig((key) => app.node.tryGetContext(key)),
  );
  addNagChecks(app);
  return { app, stack, outdir };
}

function violations(outdir: string): string[] {
  const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
  return report.pluginReports.flatMap(
    (p: { violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }) =>
      p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} ${c.constructPath}`)),
  );
}

describe('cdk-nag AwsSolutions', () => {
  it('passes on the stack, every finding acknowledged with a reason', () => {
    const { app, stack } = build();
    expect(() => app.synth()).not.toThrow();
    const acks = stack.node
      .findAll()
      .flatMap((c: IConstruct) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .filter(([id]) => id.includes('AwsSolutions-'));
    expect(acks.length).toBeGreaterThan(10);
    for (const [id, reason] of acks) {
      expect(reason.length, id).toBeGreaterThan(40);
    }
  });

  it('fails the synth when a function gains a wildcard permission, even after the stack was built', () => {
    const { app, stack, outdir } = build();
    stack.decisionsFunction.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:PutItem'], resources: ['*'] }));
    expect(() => app.synth()).toThrow(/wildcard permissions/);
    expect(violations(outdir)).toContain(
      'AwsSolutions-IAM5[Resource::*] NbaEngine/DecisionsFunction/ServiceRole/DefaultPolicy/Resource',
    );
  });
});
