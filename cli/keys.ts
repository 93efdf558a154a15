/**
 * API keys from the command line: create (prints the secret once), list (never secrets), revoke.
 *
 *   npm run keys -- create --name NAME --scopes decide,feedback[,admin] [--decision-points a,b] [--json]
 *   npm run keys -- list [--json]
 *   npm run keys -- revoke KEY_ID [--json]
 *
 * Where: by default the local engine's data (`NBA_DATA_DIR`, default `.local-data`, as `npm start` uses it; stop the
 * engine first, or use its admin API `/v1/keys` while it runs). With `--table NAME [--region R]`, the deployed state
 * table in AWS, with credentials from the usual AWS chain (environment, profile, SSO).
 *
 * Exit codes: 0 done, 2 bad arguments or input, 1 anything unexpected (e.g. AWS unreachable).
 */
import { resolve } from 'node:path';
import type { Emulators } from '../local/emulators.ts';
import { startEmulatorsWithResources } from '../local/twin/resources.ts';
import { physicalName, type TwinPlan } from '../local/twin/template.ts';
import { createDynamoClient } from '../shared/adapters/aws-clients.ts';
import { DynamoStateStore } from '../shared/adapters/dynamodb/state-store.ts';
import { ApiKeyService, type ApiKeyView } from '../shared/app/keys/keys.ts';
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
  --table NAME             the deployed state table (AWS); default: the local engine's data
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

/** Opens the state store the flags point at; `close` releases the local emulators. */
async function openStore(v: {
  table?: string | undefined;
  region?: string | undefined;
  'data-dir'?: string | undefined;
}) {
  if (v.table !== undefined) {
    const client = createDynamoClient(v.region !== undefined ? { region: v.region } : {});
    return { store: new DynamoStateStore(client, v.table), close: async () => client.destroy() };
  }
  if (v.region !== undefined) throw new UsageError('--region goes with --table');
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
    close: () => emulators.close(),
  };
}

function text(k: ApiKeyView): string {
  const where = k.decisionPoints ? ` decision points: ${k.decisionPoints.join(',')}` : '';
  const revoked = k.revokedAt ? ` (revoked ${k.revokedAt})` : '';
  return `${k.keyId}  ${k.status.padEnd(7)}  ${k.scopes.join(',').padEnd(22)} ${k.name}${where}  created ${k.createdAt}${revoked}\n`;
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
      table: { type: 'string' },
      region: { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    if (command !== 'create' && (v.name ?? v.scopes ?? v['decision-points']) !== undefined) {
      throw new UsageError(`--name, --scopes and --decision-points belong to create, not ${command}`);
    }
    if (command === 'revoke' && keyId === undefined) throw new UsageError('revoke needs the KEY_ID to revoke');
    if (command === 'create' && (v.name === undefined || v.scopes === undefined)) {
      throw new UsageError('create needs --name and --scopes');
    }

    const { store, close } = await openStore(v);
    try {
      const keys = new ApiKeyService(store);
      if (command === 'create') {
        const decisionPoints = list(v['decision-points']);
        const { key, secret } = await keys.create({
          name: v.name,
          scopes: list(v.scopes),
          ...(decisionPoints ? { decisionPoints } : {}),
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
        const key = await keys.revoke(keyId!);
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
