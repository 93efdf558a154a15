/**
 * The engine's CDK app, as `cdk synth` builds it (cdk/app.ts) and as the local twin builds it (local/twin/): the
 * stack's configuration comes from the app's context (cdk.json, `-c key=value`).
 */
import type { App } from 'aws-cdk-lib';
import { parseStackConfig } from './config.ts';
import { NbaEngineStack } from './nba-engine-stack.ts';

export const ENGINE_STACK_ID = 'NbaEngine';

export function addEngineStack(app: App): NbaEngineStack {
  const config = parseStackConfig((key) => app.node.tryGetContext(key));
  // Environment-agnostic on purpose: synth needs no credentials, and deploy targets the CLI's account and Region.
  return new NbaEngineStack(app, ENGINE_STACK_ID, {
    ...config,
    description: 'Next-best-action engine: contextual bandits with real-time learning',
  });
}
