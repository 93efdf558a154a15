/**
 * Local mode's SecretSource: each secret is a file in the data folder (`<dir>/<name>`, readable by its owner only),
 * named after the last part of the secret's ARN (`arn:aws:secretsmanager:…:secret:NAME`). The twin generates the
 * files from the template's secrets (local/twin/resources.ts); this adapter only reads them, as a function reads
 * Secrets Manager.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SecretSource } from '../../core/ports.ts';

/** `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME` (or a bare name) → NAME, safe as a file name. */
export function secretFileName(secretId: string): string {
  const name = secretId.startsWith('arn:')
    ? secretId.slice(secretId.indexOf(':secret:') + ':secret:'.length)
    : secretId;
  if (!/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name) || name.includes('..')) {
    throw new Error(`not a secret name: ${JSON.stringify(secretId)}`);
  }
  return name.replaceAll('/', '_');
}

export class SecretNotFoundError extends Error {
  override readonly name = 'ResourceNotFoundException';
}

export class FileSecretSource implements SecretSource {
  constructor(private readonly dir: string) {}

  async read(secretId: string): Promise<string> {
    const path = join(this.dir, secretFileName(secretId));
    if (!existsSync(path))
      throw new SecretNotFoundError(`Secrets Manager can't find the specified secret: ${secretId}`);
    return readFileSync(path, 'utf8');
  }

  /** Writes the secret unless it exists (a secret, once generated, keeps its value: pseudonyms depend on it). */
  ensure(secretId: string, generate: () => string): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, secretFileName(secretId));
    if (existsSync(path)) return;
    try {
      // `wx`: a second process starting on the same folder at the same moment keeps the first one's value.
      writeFileSync(path, generate(), { mode: 0o600, flag: 'wx' });
      chmodSync(path, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
