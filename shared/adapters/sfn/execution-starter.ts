/**
 * Step Functions implementation of the ExecutionStarter port. The execution's name is the caller's idempotency key:
 * StartExecution with a name already used for the same input succeeds without a second execution (Standard
 * workflows), and a retried request that meets ExecutionAlreadyExists has nothing left to do.
 */
import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DependencyError } from '../../core/errors.ts';
import type { ExecutionStarter } from '../../core/ports.ts';

export class SfnExecutionStarter implements ExecutionStarter {
  constructor(private readonly client: SFNClient) {}

  async start(stateMachineArn: string, name: string, input: unknown): Promise<void> {
    try {
      await this.client.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
    } catch (err) {
      if (err instanceof ExecutionAlreadyExists) return;
      throw new DependencyError('the decision job could not be started; retry', undefined, { cause: err });
    }
  }
}
