/**
 * `npm run keys`: create, list and revoke against the local data folder (the default) and against a state table named
 * with --table (here dynalite stands in for AWS through AWS_ENDPOINT_URL_DYNAMODB), the secret shown once only, and
 * the exit codes a script can rely on. Every create and revoke is in the audit trail, made by `keys-cli`, with no
 * secret (shared/core/audit.ts, A1 and A4).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKeys } from '../../cli/keys.ts';
import { type Emulators, LOCAL_CREDENTIALS, startEmulators } from '../../local/emulators.ts';
import { startEmulatorsWithResources } from '../../local/twin/resources.ts';
import { physicalName, type TwinPlan } from '../../local/twin/template.ts';
import { DynamoAuditLog } from '../../shared/adapters/dynamodb/audit-log.ts';
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
      '--expires-at',
      '2099-01-01T00:00:00Z',
      '--rate-limit',
      '20',
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
      expiresAt: '2099-01-01T00:00:00.000Z',
      rateLimit: { ratePerSecond: 20, burst: 40 },
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
    // A refused change is recorded too.
    expect((await keys(['revoke', 'key_0000000000000000', '--data-dir', dir])).code).toBe(2);

    const { emulators: again, plan: p2 } = await startEmulatorsWithResources({ dataDir: dir });
    try {
      const { entries } = await new DynamoAuditLog(again.dynamo, physicalName(p2, 'AuditTable')).list({ limit: 10 });
      expect(entries.map(({ id: _id, at: _at, settledAt: _s, ...e }) => e)).toEqual([
        {
          system: 'keys-cli',
          action: 'key.revoke',
          route: 'npm run keys revoke',
          target: 'key_0000000000000000',
          result: 'refused',
          status: 404,
          code: 'not_found',
        },
        {
          system: 'keys-cli',
          action: 'key.revoke',
          route: 'npm run keys revoke',
          target: key.keyId,
          result: 'ok',
          status: 200,
        },
        {
          system: 'keys-cli',
          action: 'key.create',
          route: 'npm run keys create',
          target: key.keyId,
          result: 'ok',
          status: 201,
        },
      ]);
      expect(JSON.stringify(entries)).not.toContain(key.secret);
    } finally {
      await again.close();
    }
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
      [['list', '--audit-table', 'A', '--data-dir', dir], /--audit-table goes with --table/],
      [
        ['create', '--name', 'x', '--scopes', 'admin', '--rate-limit', 'fast', '--data-dir', dir],
        /--rate-limit expects/,
      ],
      [
        ['create', '--name', 'x', '--scopes', 'admin', '--expires-at', '2020-01-01T00:00:00Z', '--data-dir', dir],
        /must be in the future/,
      ],
      [['list', '--expires-at', '2099-01-01T00:00:00Z'], /belong to create/],
      [['create', '--name', 'x', '--scopes', 'admin', '--table', 'T'], /needs --audit-table/],
      [['revoke', 'key_0000000000000000', '--table', 'T'], /needs --audit-table/],
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

  it('creates, lists and revokes keys in the table named, recording each change in the audit table named', async () => {
    const table = ['--table', physicalName(plan, 'StateTable'), '--region', 'us-east-1'];
    const audit = ['--audit-table', physicalName(plan, 'AuditTable')];
    const created = await keys(['create', '--name', 'prod admin', '--scopes', 'admin', ...table, ...audit, '--json']);
    expect(created.code, created.err).toBe(0);
    const { keyId } = JSON.parse(created.out);
    const listed = JSON.parse((await keys(['list', ...table, '--json'])).out);
    expect(listed.keys.map((k: { keyId: string }) => k.keyId)).toEqual([keyId]);
    expect(JSON.stringify(listed)).not.toMatch(/secret|hash/);
    expect((await keys(['revoke', keyId, ...table, ...audit])).code).toBe(0);
    const stored = await new DynamoStateStore(emu.dynamo, physicalName(plan, 'StateTable')).listApiKeys();
    expect(stored[0]!.revokedAt).toBeGreaterThan(0);
    const { entries } = await new DynamoAuditLog(emu.dynamo, physicalName(plan, 'AuditTable')).list({ limit: 10 });
    expect(entries.map((e) => [e.system, e.action, e.target, e.result])).toEqual([
      ['keys-cli', 'key.revoke', keyId, 'ok'],
      ['keys-cli', 'key.create', keyId, 'ok'],
    ]);
  });
});
