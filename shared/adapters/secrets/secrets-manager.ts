/** The SecretSource of a deployed function: AWS Secrets Manager's GetSecretValue (the secret's current version). */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretSource } from '../../core/ports.ts';

export class SecretsManagerSecretSource implements SecretSource {
  constructor(private readonly client: SecretsManagerClient) {}

  async read(secretId: string): Promise<string> {
    const out = await this.client.send(new GetSecretValueCommand({ SecretId: secretId }));
    // The stack generates a string secret; a binary one is a misconfiguration, not something to decode by guess.
    if (typeof out.SecretString !== 'string') throw new Error(`secret ${secretId} has no string value`);
    return out.SecretString;
  }

  destroy(): void {
    this.client.destroy();
  }
}
