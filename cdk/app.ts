import { App } from 'aws-cdk-lib';
import { parseStackConfig } from './config.ts';
import { addNagChecks } from './nag.ts';
import { NbaEngineStack } from './nba-engine-stack.ts';

const app = new App();
// AwsSolutions checks: synthesis fails on any finding not acknowledged (with its reason) in cdk/nag.ts.
addNagChecks(app);
const config = parseStackConfig((key) => app.node.tryGetContext(key));

// Environment-agnostic on purpose: synth needs no credentials, and deploy targets the CLI's account and Region.
new NbaEngineStack(app, 'NbaEngine', {
  ...config,
  description: 'Next-best-action engine: contextual bandits with real-time learning',
});
