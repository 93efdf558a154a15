/** In-memory SecretSource: a stack without a data folder (tests) generates its own secrets and forgets them. */
import type { SecretSource } from '../../core/ports.ts';
import { SecretNotFoundError } from '../secrets/file-secret-source.ts';

export class MemorySecretSource implements SecretSource {
  private readonly values = new Map<string, string>();

  async read(secretId: string): Promise<string> {
    const value = this.values.get(secretId);
    if (value === undefined)
      throw new SecretNotFoundError(`Secrets Manager can't find the specified secret: ${secretId}`);
    return value;
  }

  ensure(secretId: string, generate: () => string): void {
    if (!this.values.has(secretId)) this.values.set(secretId, generate());
  }
}
