/**
 * The API's pseudonymiser: reads the key once per container from the stack's secret (SecretSource), then maps each
 * user id to its pseudonym (core/privacy.ts) in microseconds. A failed read is not remembered, so the next request
 * tries again; until the key is read, no request that carries a user id can be served (503), because writing
 * anything under a raw id is exactly what must not happen.
 */
import { DependencyError } from '../../core/errors.ts';
import type { SecretSource } from '../../core/ports.ts';
import { pseudonymise } from '../../core/privacy.ts';

export class Pseudonymiser {
  private key: Promise<string> | undefined;

  constructor(
    private readonly secrets: SecretSource,
    /** The secret holding the key (its ARN in the stack: `USER_PSEUDONYM_SECRET`). */
    private readonly secretId: string,
  ) {}

  /** The pseudonym of one user id. */
  async of(userId: string): Promise<string> {
    return pseudonymise(await this.loadKey(), userId);
  }

  /** A synchronous pseudonymiser for a request that carries many user ids (an events batch). */
  async mapper(): Promise<(userId: string) => string> {
    const key = await this.loadKey();
    return (userId) => pseudonymise(key, userId);
  }

  /** Starts reading the key now (a failure is left for the first request to report). */
  prefetch(): void {
    this.loadKey().catch(() => {});
  }

  private loadKey(): Promise<string> {
    this.key ??= this.secrets.read(this.secretId).then(
      (key) => {
        // Checked here, once: a weak key fails the first request loudly (a logged 500), not silently every pseudonym.
        pseudonymise(key, '');
        return key;
      },
      (err: unknown) => {
        throw new DependencyError('the user pseudonym key is unavailable; retry later', undefined, { cause: err });
      },
    );
    const loading = this.key;
    loading.catch(() => {
      if (this.key === loading) this.key = undefined;
    });
    return loading;
  }
}
