/**
 * API keys from the command line: create (prints the secret once), list (never secrets), revoke.
 *
 *   npm run keys -- create --name NAME --scopes decide,feedback[,admin] [--decision-points a,b]
 *                          [--expires-at ISO-8601] [--rate-limit RPS[/BURST]] [--json]
 *   npm run keys -- list [--json]
 *   npm run keys -- revoke KEY_ID [--json]
 *
 * Where: by default the local engine's data (`NBA_DATA_DIR`, default `.local-data`, as `npm start` uses it; stop the
 * engine first, or use its admin API `/v1/keys` while it runs). With `--table NAME [--region R]`, the deployed state
 * table in AWS, with credentials from the usual AWS chain (environment, profile, SSO).
 *
 * Like the admin API, every create and revoke is in the audit trail (shared/core/audit.ts), made by `system`
 * `keys-cli`: the entry is written before the change (no entry, no change) and its outcome after. On AWS that needs
 * `--audit-table` (the stack's `AuditTableName` output) for create and revoke.
 *
 * Exit codes: 0 done, 2 bad arguments or input, 1 anything unexpected (e.g. AWS unreachable).
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { Emulators } from '../local/emulators.ts';
import { startEmulatorsWithResources } from '../local/twin/resources.ts';
import { physicalName, type TwinPlan } from '../local/twin/template.ts';
import { createDynamoClient } from '../shared/adapters/aws-clients.ts';
import { DynamoAuditLog } from '../shared/adapters/dynamodb/audit-log.ts';
import { DynamoStateStore } from '../shared/adapters/dynamodb/state-store.ts';
import { AuditTrail } from '../shared/app/audit/audit-trail.ts';
import { ApiKeyService, type ApiKeyView, keyIdSchema } from '../shared/app/keys/keys.ts';
import type { AuditAction } from '../shared/core/audit.ts';
import { EngineError } from '../shared/core/errors.ts';
import { parseCliArgs, UsageError } from './lib/args.ts';
import { type CliStreams, failWith, runIfEntry } from './lib/command.ts';
import { localDataDir } from './lib/local.ts';

const USAGE = `usage: npm run keys -- create --name NAME --scopes SCOPES [--decision-points DPS] [options]
       npm run keys -- list [options]
       npm run keys -- revoke KEY_ID [options]

  --name NAME              who or what the key is for (shown in lists)
  --scopes SCOPES          comma-separated: decide, feedback, admin
  --decision-points DPS    comma-separated; the key works only for these decision points
  --expires-at ISO         the key stops working then (ISO-8601 with an offset, e.g. 2027-01-01T00:00:00Z)
  --rate-limit RPS[/BURST] the key's own request limit per container (default burst: twice RPS)
  --table NAME             the deployed state table (AWS); default: the local engine's data
  --audit-table NAME       the deployed audit table (AWS; create and revoke are recorded there)
  --region R               AWS region of --table (default: from the environment)
  --data-dir DIR           local data folder (default: NBA_DATA_DIR or .local-data)
  --json                   print JSON instead of text`;

const list = (v: string | undefined) =>
  v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);

/**
 * Opens the state store and the audit trail the flags point at (no audit trail: a listing on AWS without
 * --audit-table); `close` releases the local emulators.
 */
async function openStore(v: {
  table?: string | undefined;
  'audit-table'?: string | undefined;
  region?: string | undefined;
  'data-dir'?: string | undefined;
}) {
  if (v.table !== undefined) {
    const client = createDynamoClient(v.region !== undefined ? { region: v.region } : {});
    const auditTable = v['audit-table'];
    return {
      store: new DynamoStateStore(client, v.table),
      audit: auditTable === undefined ? undefined : new AuditTrail(new DynamoAuditLog(client, auditTable)),
      close: async () => client.destroy(),
    };
  }
  if (v.region !== undefined) throw new UsageError('--region goes with --table');
  if (v['audit-table'] !== undefined) throw new UsageError('--audit-table goes with --table');
  const dataDir = resolve(v['data-dir'] ?? localDataDir());
  let emulators: Emulators;
  let plan: TwinPlan;
  try {
    ({ emulators, plan } = await startEmulatorsWithResources({ dataDir }));
  } catch (cause) {
    throw new UsageError(
      `cannot open the local data in ${dataDir} (${(cause as Error).message}); if the engine is running, stop it or use its admin API (POST /v1/keys)`,
    );
  }
  return {
    store: new DynamoStateStore(emulators.dynamo, physicalName(plan, 'StateTable')),
    audit: new AuditTrail(new DynamoAuditLog(emulators.dynamo, physicalName(plan, 'AuditTable'))),
    close: () => emulators.close(),
  };
}

/** Runs a key change inside its audit entry: written pending first (no entry, no change), settled with the outcome. */
async function audited<T>(
  audit: AuditTrail,
  change: { action: AuditAction; command: string; target?: string | undefined },
  run: () => Promise<{ result: T; status: number; target: string }>,
): Promise<T> {
  const pending = await audit.begin({
    id: `keys-cli.${randomUUID()}`,
    system: 'keys-cli',
    action: change.action,
    route: `npm run keys ${change.command}`,
    target: change.target,
  });
  try {
    const { result, status, target } = await run();
    await audit.settle(pending, { status, target });
    return result;
  } catch (err) {
    const known = err instanceof EngineError;
    await audit.settle(pending, { status: known ? err.status : 500, code: known ? err.code : 'internal_error' });
    throw err;
  }
}

/** `20` or `20/40`: requests per second, and the burst (default twice the rate, at least 1). */
function parseRateLimit(raw: string): { ratePerSecond: number; burst: number } {
  const m = /^(\d+(?:\.\d+)?)(?:\/(\d+))?$/.exec(raw.trim());
  if (!m) throw new UsageError(`--rate-limit expects RPS or RPS/BURST, e.g. 20 or 20/40, got "${raw}"`);
  const ratePerSecond = Number(m[1]);
  return { ratePerSecond, burst: m[2] !== undefined ? Number(m[2]) : Math.max(1, Math.ceil(2 * ratePerSecond)) };
}

function text(k: ApiKeyView): string {
  const where = k.decisionPoints ? ` decision points: ${k.decisionPoints.join(',')}` : '';
  const revoked = k.revokedAt ? ` (revoked ${k.revokedAt})` : '';
  const expires = k.expiresAt && !k.revokedAt ? ` expires ${k.expiresAt}` : '';
  const limit = k.rateLimit ? ` limit ${k.rateLimit.ratePerSecond}/s burst ${k.rateLimit.burst}` : '';
  return `${k.keyId}  ${k.status.padEnd(7)}  ${k.scopes.join(',').padEnd(22)} ${k.name}${where}  created ${k.createdAt}${expires}${limit}${revoked}\n`;
}

export async function runKeys(argv: readonly string[], streams: CliStreams = process): Promise<number> {
  try {
    const [command, ...rest] = argv;
    if (command === undefined || command === '--help' || command === '-h') {
      streams.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    if (command !== 'create' && command !== 'list' && command !== 'revoke') {
      throw new UsageError(`unknown command "${command}" (create, list or revoke)`);
    }
    // `revoke KEY_ID`: the one positional argument.
    const keyId = command === 'revoke' && rest[0] !== undefined && !rest[0].startsWith('-') ? rest.shift() : undefined;
    const v = parseCliArgs(rest, {
      name: { type: 'string' },
      scopes: { type: 'string' },
      'decision-points': { type: 'string' },
      'expires-at': { type: 'string' },
      'rate-limit': { type: 'string' },
      table: { type: 'string' },
      'audit-table': { type: 'string' },
      region: { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    if (
      command !== 'create' &&
      (v.name ?? v.scopes ?? v['decision-points'] ?? v['expires-at'] ?? v['rate-limit']) !== undefined
    ) {
      throw new UsageError(
        `--name, --scopes, --decision-points, --expires-at and --rate-limit belong to create, not ${command}`,
      );
    }
    const rateLimit = v['rate-limit'] === undefined ? undefined : parseRateLimit(v['rate-limit']);
    if (command === 'revoke' && keyId === undefined) throw new UsageError('revoke needs the KEY_ID to revoke');
    if (command === 'create' && (v.name === undefined || v.scopes === undefined)) {
      throw new UsageError('create needs --name and --scopes');
    }

    if (command !== 'list' && v.table !== undefined && v['audit-table'] === undefined) {
      throw new UsageError(
        `${command} with --table needs --audit-table (the stack's AuditTableName output): every key change is recorded`,
      );
    }

    const { store, audit, close } = await openStore(v);
    try {
      const keys = new ApiKeyService(store);
      if (command === 'create') {
        const decisionPoints = list(v['decision-points']);
        const { key, secret } = await audited(audit!, { action: 'key.create', command }, async () => {
          const r = await keys.create({
            name: v.name,
            scopes: list(v.scopes),
            ...(decisionPoints ? { decisionPoints } : {}),
            ...(v['expires-at'] !== undefined ? { expiresAt: v['expires-at'] } : {}),
            ...(rateLimit ? { rateLimit } : {}),
          });
          return { result: r, status: 201, target: r.key.keyId };
        });
        if (v.json) streams.stdout.write(`${JSON.stringify({ ...key, secret })}\n`);
        else {
          streams.stdout.write(text(key));
          streams.stdout.write(`secret: ${secret}\n`);
          streams.stderr.write('Store the secret now: it is not kept anywhere and cannot be shown again.\n');
        }
      } else if (command === 'list') {
        const all = await keys.list();
        streams.stdout.write(v.json ? `${JSON.stringify({ keys: all })}\n` : all.map(text).join('') || 'no keys\n');
      } else {
        const key = await audited(
          audit!,
          { action: 'key.revoke', command, target: keyIdSchema.safeParse(keyId).success ? keyId : undefined },
          async () => {
            const r = await keys.revoke(keyId!);
            return { result: r, status: 200, target: r.keyId };
          },
        );
        streams.stdout.write(v.json ? `${JSON.stringify(key)}\n` : text(key));
      }
      return 0;
    } finally {
      await close();
    }
  } catch (error) {
    return failWith('keys', USAGE, error, streams, (e) => e instanceof EngineError && e.status < 500);
  }
}

await runIfEntry(import.meta.url, (argv) => runKeys(argv));
