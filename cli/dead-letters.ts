/**
 * Dead letters from the command line, through the engine's admin API (so it works the same against `npm start` and
 * a deployed stack):
 *
 *   npm run dead-letters -- list   [--decision-point DP] [--reason CODE] [--status dead|held|replayed] [--limit N]
 *   npm run dead-letters -- replay [--decision-point DP] [--reason CODE] [--limit N]
 *   npm run dead-letters -- replay-range --shard SHARD --from SEQ --to SEQ
 *
 * `replay` puts the matching dead letters back on the stream once their cause is gone; `replay-range` puts back a
 * batch the updater gave up on, as its on-failure queue names it (`KinesisBatchInfo`: shardId, startSequenceNumber,
 * endSequenceNumber), within the stream's retention (see `shared/app/learn/dead-letters.ts`). The updater's rules
 * make a replayed record count at most once.
 * Where: `--url` (default NBA_API_URL or http://127.0.0.1:3000) with an admin key (`--key`, default NBA_API_KEY or the
 * key `npm start` stored in the data folder, NBA_DATA_DIR or .local-data: local/api-key.ts).
 * Exit codes: 0 done, 2 bad arguments or a refused request, 1 anything unexpected.
 */
import { parseCliArgs, parseNumberFlag, UsageError } from './lib/args.ts';
import { type CliStreams, failWith, processStreams, runIfEntry } from './lib/command.ts';
import { EngineRefusedError, EngineUnreachableError, engineApi } from './lib/engine-api.ts';

const USAGE = `usage: npm run dead-letters -- list [filters] [options]
       npm run dead-letters -- replay [filters] [options]
       npm run dead-letters -- replay-range --shard SHARD --from SEQ --to SEQ [options]

  --decision-point DP   records that name this decision point
  --reason CODE         the rule that refused them: malformed, no-decision, another-user, action-not-chosen,
                        other-decision-point, held-full (or held)
  --status S            list only: dead, held or replayed (replay takes dead ones)
  --limit N             at most N entries (default 100)
  --shard, --from, --to replay-range: the shard and the first and last sequence numbers of the failed batch
  --url URL             the engine's API (default NBA_API_URL, else http://127.0.0.1:$PORT, PORT default 3000)
  --key KEY             an admin API key (default NBA_API_KEY, or the one npm start stored in .local-data/api-key)
  --json                print JSON instead of text`;

export async function main(argv: readonly string[], streams: CliStreams = processStreams()): Promise<number> {
  try {
    const [command, ...rest] = argv;
    if (command === '--help' || command === '-h' || command === 'help' || rest.includes('--help')) {
      streams.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (command !== 'list' && command !== 'replay' && command !== 'replay-range') {
      throw new UsageError(`unknown command ${command ?? '(none)'}`);
    }
    const v = parseCliArgs(rest, {
      'decision-point': { type: 'string' },
      reason: { type: 'string' },
      status: { type: 'string' },
      limit: { type: 'string' },
      url: { type: 'string' },
      key: { type: 'string' },
      json: { type: 'boolean' },
      shard: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
    });
    if (command === 'replay-range' && (v.shard === undefined || v.from === undefined || v.to === undefined)) {
      throw new UsageError('replay-range needs --shard, --from and --to');
    }
    if (command !== 'replay-range' && (v.shard ?? v.from ?? v.to) !== undefined) {
      throw new UsageError('--shard, --from and --to go with replay-range');
    }
    if (command === 'replay' && v.status !== undefined) throw new UsageError('--status goes with list');
    const filter = {
      ...(v['decision-point'] !== undefined ? { decisionPoint: v['decision-point'] } : {}),
      ...(v.reason !== undefined ? { code: v.reason } : {}),
      ...(v.status !== undefined ? { status: v.status } : {}),
      ...(v.limit !== undefined ? { limit: parseNumberFlag('limit', v.limit, { integer: true, above: 0 }) } : {}),
    };
    const api = engineApi({ url: v.url, key: v.key });
    const query = new URLSearchParams(Object.entries(filter).map(([k, x]): [string, string] => [k, String(x)]));
    const body = (
      command === 'list'
        ? await api.call('GET', `/v1/dead-letters?${query}`)
        : await api.call(
            'POST',
            `/v1/dead-letters/${command}`,
            command === 'replay' ? filter : { shardId: v.shard, from: v.from, to: v.to },
          )
    ) as Record<string, unknown>;
    if (v.json) {
      streams.stdout.write(`${JSON.stringify(body)}\n`);
      return 0;
    }
    if (command === 'list') {
      const letters = body.deadLetters as { id: string; status: string; code: string; reason: string; at: number }[];
      for (const d of letters) {
        streams.stdout.write(
          `${new Date(d.at).toISOString()}  ${d.status.padEnd(8)} ${d.code.padEnd(20)} ${d.id}  ${d.reason}\n`,
        );
      }
      streams.stdout.write(`${letters.length} dead letter${letters.length === 1 ? '' : 's'}\n`);
    } else {
      const r = body as { replayed: number; skipped: { id: string; why: string }[] };
      for (const s of r.skipped) streams.stdout.write(`skipped ${s.id}: ${s.why}\n`);
      streams.stdout.write(
        `replayed ${r.replayed} record${r.replayed === 1 ? '' : 's'}; the updater applies them as any record (each counts at most once)\n`,
      );
    }
    return 0;
  } catch (error) {
    return failWith(
      'dead-letters',
      USAGE,
      error,
      streams,
      (e) => e instanceof EngineRefusedError || e instanceof EngineUnreachableError,
    );
  }
}

await runIfEntry(import.meta.url, main);
