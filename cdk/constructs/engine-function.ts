/**
 * A Lambda function of the engine: a NodejsFunction whose template resource also names its source entry
 * (`Metadata.nba:entry`, relative to the project root). The local twin (local/twin/) starts each function of the
 * synthesised template from that entry's `createHandler` (functions/commons/runtime.ts), with the environment, memory
 * and timeout the template gives it; the metadata changes nothing in AWS.
 */
import { relative } from 'node:path';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';

export const ENTRY_METADATA_KEY = 'nba:entry';

export interface EngineFunctionProps extends NodejsFunctionProps {
  entry: string;
  projectRoot: string;
}

export function engineFunction(scope: Construct, id: string, props: EngineFunctionProps): NodejsFunction {
  const fn = new NodejsFunction(scope, id, props);
  (fn.node.defaultChild as CfnFunction).addMetadata(ENTRY_METADATA_KEY, relative(props.projectRoot, props.entry));
  return fn;
}
