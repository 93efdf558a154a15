/**
 * `npm run keys`: create, list and revoke against the local data folder (the default) and against a state table named
 * with --table (here dynalite stands in for AWS through AWS_ENDPOINT_URL_DYNAMODB), the secret shown once only, and
 * the exit codes a script can rely on.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKeys } from '../../cli/keys.ts';
import { type Emulators, LOCAL_CREDENTIALS, startEmulators } from '../../local/emulators.ts';
import { startEmulatorsWithResources } from '../../local/twin/resources.ts';
import { physicalName, type TwinPlan } from '../../local/twin/template.ts';
import { DynamoStateStore } from '../../shared/adapters/dynamodb/state-store.ts';
import { ApiKeyAuthenticator } from '../../shared/app/auth.ts';
import { captureStreams } from '../support/cli.ts';

const capture = captureStreams;

async function keys(args: string[]) {
  const c = capture();
  const code = await runKeys(args, c.streams);
  return { code, out: c.out, err: c.err };
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('npm run keys, on the local data folder', () => {
  it('creates a key whose secret authenticates, lists it without the secret, and revokes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nba-keys-'));
    dirs.push(dir);
    const created = await keys([
      'create',
      '--name',
      'ci',
      '--scopes',
      'decide,feedback',
      '--decision-points',
      'home',
      '--data-dir',
      dir,
      '--json',
    ]);
    expect(created.code, created.err).toBe(0);
    const key = JSON.parse(created.out);
    expect(key).toMatchObject({
      name: 'ci',
      scopes: ['decide', 'feedback'],
      decisionPoints: ['home'],
      status: 'active',
    });

    const listed = await keys(['list', '--data-dir', dir]);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(key.keyId);
    expect(listed.out).not.toContain(key.secret);

    // The stored record authenticates the secret (and only it), with its scopes.
    const { emulators: emu, plan } = await startEmulatorsWithResources({ dataDir: dir });
    try {
      const auth = new ApiKeyAuthenticator(new DynamoStateStore(emu.dynamo, physicalName(plan, 'StateTable')));
      await expect(auth.authenticate(key.secret, 'decide', 'home')).resolves.toMatchObject({ keyId: key.keyId });
      await expect(auth.authenticate(key.secret, 'admin')).rejects.toThrow(/lacks the admin scope/);
    } finally {
      await emu.close();
    }

    const revoked = await keys(['revoke', key.keyId, '--data-dir', dir, '--json']);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.out)).toMatchObject({ keyId: key.keyId, status: 'revoked' });
    expect((await keys(['list', '--data-dir', dir])).out).toMatch(/revoked/);
  });

  it('exits 2 with a message for bad arguments, an invalid key or an unknown id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nba-keys-'));
    dirs.push(dir);
    for (const [args, message] of [
      [[], /usage/],
      [['rotate'], /unknown command/],
      [['create', '--name', 'x'], /needs --name and --scopes/],
      [['create', '--name', 'x', '--scopes', 'root', '--data-dir', dir], /scopes/],
      [['list', '--scopes', 'admin'], /belong to create/],
      [['revoke'], /needs the KEY_ID/],
      [['revoke', 'key_0000000000000000', '--data-dir', dir], /does not exist/],
      [['list', '--region', 'eu-west-1', '--data-dir', dir], /--region goes with --table/],
    ] as const) {
      const r = await keys([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err + r.out, args.join(' ')).toMatch(message);
    }
  });

  it('refuses a data folder the running engine holds, pointing to the admin API', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nba-keys-'));
    dirs.push(dir);
    const running = await startEmulators({ dataDir: dir });
    try {
      const r = await keys(['list', '--data-dir', dir]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/POST \/v1\/keys/);
    } finally {
      await running.close();
    }
  });
});

describe('npm run keys -- --table, on a deployed state table', () => {
  let emu: Emulators;
  let plan: TwinPlan;
  const saved = { ...process.env };
  beforeAll(async () => {
    ({ emulators: emu, plan } = await startEmulatorsWithResources());
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_DYNAMODB: emu.dynamoEndpoint,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    });
  });
  afterAll(async () => {
    process.env = saved;
    await emu.close();
  });

  it('creates, lists and revokes keys in the table named', async () => {
    const table = ['--table', physicalName(plan, 'StateTable'), '--region', 'us-east-1'];
    const created = await keys(['create', '--name', 'prod admin', '--scopes', 'admin', ...table, '--json']);
    expect(created.code, created.err).toBe(0);
    const { keyId } = JSON.parse(created.out);
    const listed = JSON.parse((await keys(['list', ...table, '--json'])).out);
    expect(listed.keys.map((k: { keyId: string }) => k.keyId)).toEqual([keyId]);
    expect(JSON.stringify(listed)).not.toMatch(/secret|hash/);
    expect((await keys(['revoke', keyId, ...table])).code).toBe(0);
    const stored = await new DynamoStateStore(emu.dynamo, physicalName(plan, 'StateTable')).listApiKeys();
    expect(stored[0]!.revokedAt).toBeGreaterThan(0);
  });
});
