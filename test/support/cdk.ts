/** Synthesises the stack for template tests, without bundling and without CDK's CloudFormation validation. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { parseStackConfig } from '../../cdk/config.ts';
import { NbaEngineStack } from '../../cdk/nba-engine-stack.ts';

/**
 * A synthesiser whose output folders `cleanup` removes (call it from `afterAll`). No bundling, so a test needs neither
 * esbuild runs nor Docker, and no CloudFormation validation (seconds per synth; test/cdk/nag.test.ts synthesises
 * with it, as `cdk synth` does). `context` is CDK context, as `cdk deploy -c key=value` gives it.
 */
export function stackSynthesizer(prefix: string): {
  synth: (context?: Record<string, unknown>) => { stack: NbaEngineStack; template: Template };
  cleanup: () => void;
} {
  const outdirs: string[] = [];
  return {
    synth(context = {}) {
      const outdir = mkdtempSync(join(tmpdir(), prefix));
      outdirs.push(outdir);
      const app = new App({
        outdir,
        builtinCloudFormationValidation: false,
        context: { 'aws:cdk:bundling-stacks': [], ...context },
      });
      const stack = new NbaEngineStack(
        app,
        'NbaEngine',
        parseStackConfig((key) => app.node.tryGetContext(key)),
      );
      return { stack, template: Template.fromStack(stack) };
    },
    cleanup() {
      for (const outdir of outdirs.splice(0)) rmSync(outdir, { recursive: true, force: true });
    },
  };
}
