/**
 * Synthesises the engine's CDK app the way `cdk synth` does (the same app, the context of cdk.json plus overrides)
 * and reads its template into the twin's plan. Only two things differ, neither of which changes the template:
 * bundling is skipped (the twin runs the TypeScript sources) and CDK's built-in CloudFormation validation is off (it
 * takes seconds; `cdk synth` and the CDK tests run it).
 *
 * `customize` receives the stack before synthesis: tests use it to add a route, a function or an environment
 * variable to a copy of the app, and local mode picks it up like any part of the stack.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { addEngineStack } from '../../cdk/engine-app.ts';
import type { NbaEngineStack } from '../../cdk/nba-engine-stack.ts';
import { readTemplate, type Template, type TwinPlan } from './template.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface SynthOptions {
  /** CDK context on top of cdk.json's (e.g. `{ shardCount: 4 }`). */
  context?: Record<string, unknown>;
  customize?: (stack: NbaEngineStack) => void;
}

export interface Synthesized {
  template: Template;
  plan: TwinPlan;
}

/** cdk.json's context: the feature flags that shape the template `cdk synth` writes. */
function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context?: object };
  return { ...cdkJson.context };
}

export function synthesize(opts: SynthOptions = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'nba-twin-synth-'));
  try {
    const app = new App({
      outdir,
      builtinCloudFormationValidation: false,
      // Path metadata names each resource's construct, as the CDK CLI asks for by default.
      context: {
        ...cdkJsonContext(),
        ...opts.context,
        'aws:cdk:bundling-stacks': [],
        'aws:cdk:enable-path-metadata': true,
      },
    });
    const stack = addEngineStack(app);
    opts.customize?.(stack);
    const template = app.synth().getStackByName(stack.stackName).template as Template;
    return { template, plan: readTemplate(stack.stackName, template) };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

let cached: Synthesized | undefined;

/** The default app (cdk.json's context, no customisation), synthesised once per process. */
export function defaultSynthesis(): Synthesized {
  cached ??= synthesize();
  return cached;
}
