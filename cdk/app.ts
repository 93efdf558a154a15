import { App } from 'aws-cdk-lib';
import { addEngineStack } from './engine-app.ts';
import { addNagChecks } from './nag.ts';

const app = new App();
// AwsSolutions checks: synthesis fails on any finding not acknowledged (with its reason) in cdk/nag.ts.
addNagChecks(app);
addEngineStack(app);
