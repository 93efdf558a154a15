/**
 * Local mode's pseudonym key: the twin makes the template's secret the way CloudFormation would (64 characters of
 * letters and digits, as `GenerateSecretString` asks), once, in the data folder, readable by its owner only; a restart
 * on the same folder keeps it, so a user keeps their pseudonym (and their history) across restarts.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultSynthesis } from '../../local/twin/assembly.ts';
import { createSecrets } from '../../local/twin/resources.ts';
import { FileSecretSource, secretFileName } from '../../shared/adapters/secrets/file-secret-source.ts';
import { pseudonymise } from '../../shared/core/privacy.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'nba-secrets-'));
  dirs.push(d);
  return join(d, 'secrets');
};

describe('the local pseudonym key', () => {
  const { plan } = defaultSynthesis();
  const [secret] = plan.secrets;

  it('is generated as the template asks: 64 letters and digits, in a file only its owner can read', async () => {
    expect(plan.secrets).toHaveLength(1);
    const dir = tempDir();
    createSecrets(plan, new FileSecretSource(dir));
    const key = await new FileSecretSource(dir).read(secret!.arn);
    expect(key).toMatch(/^[A-Za-z0-9]{64}$/);
    const [file] = readdirSync(dir);
    expect(statSync(join(dir, file!)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o077).toBe(0);
  });

  it('survives a restart on the same data folder, so pseudonyms stay the same; another folder gets another key', async () => {
    const dir = tempDir();
    createSecrets(plan, new FileSecretSource(dir));
    const before = pseudonymise(await new FileSecretSource(dir).read(secret!.arn), 'alice@example.com');
    createSecrets(plan, new FileSecretSource(dir));
    const after = pseudonymise(await new FileSecretSource(dir).read(secret!.arn), 'alice@example.com');
    expect(after).toBe(before);

    const other = tempDir();
    createSecrets(plan, new FileSecretSource(other));
    expect(pseudonymise(await new FileSecretSource(other).read(secret!.arn), 'alice@example.com')).not.toBe(before);
  });

  it('answers a missing secret as Secrets Manager does, and refuses an id that is not a secret name', async () => {
    const source = new FileSecretSource(tempDir());
    await expect(source.read(secret!.arn)).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect(() => secretFileName('arn:aws:secretsmanager:us-east-1:1:secret:../../etc/passwd')).toThrow(/not a secret/);
    expect(() => secretFileName('a b')).toThrow(/not a secret/);
  });
});
