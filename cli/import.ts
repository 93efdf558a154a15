/**
 * Loads past logged decisions into the log lake, so a new deployment's first retraining starts from history.
 *
 *   npm run import -- --format jsonl|obd FILE [--decision-point DP] [--lake DIR|s3://BUCKET]
 *                     [--context-dim 16] [--action-dim 8] [--window-seconds 3600] [--end ISO] [--days 7]
 *
 * jsonl: the simulator's `--history` lines (no timestamps: decisions are spread evenly over the `--days` days before
 * `--end`, default the start of today, UTC, so every imported day is before the next retraining's cutoff).
 * obd: an Open Bandit Dataset campaign CSV with `item_context.csv` beside it; its `timestamp` column is kept.
 * The dimensions must be the decision point's `contextDim`/`actionDim`. Exit codes: 0 done, 2 bad input, 1 other.
 */
import { createReadStream } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { FsBlobStore } from '../shared/adapters/lake/fs-blob-store.ts';
import { S3BlobStore } from '../shared/adapters/s3/blob-store.ts';
import { RetrainError } from '../shared/app/retrain/errors.ts';
import { importHistory, propensityStatement, sourceIdOf } from '../shared/app/retrain/import-history.ts';
import type { BlobStore } from '../shared/app/retrain/ports.ts';
import { BUCKET_MS } from '../shared/core/domain.ts';
import {
  EvaluationError,
  type LoggedData,
  readJsonlLog,
  readObdLog,
  splitLines,
} from '../shared/core/evaluation/index.ts';
import { decisionPointIdSchema } from '../shared/core/schemas.ts';
import { parseNumberFlag, UsageError } from './lib/args.ts';
import { type CliStreams, failWith, processStreams, runIfEntry } from './lib/command.ts';
import { localDataDir } from './lib/local.ts';

const USAGE = `usage: npm run import -- --format jsonl|obd FILE [options]

  --format jsonl|obd     simulator --history JSONL, or an Open Bandit Dataset CSV (item_context.csv beside it)
  --decision-point DP    decision point the history belongs to (default: imported)
  --lake DIR|s3://B      where the lake lives: a folder holding lake/ (default NBA_DATA_DIR or .local-data) or an S3 bucket
  --context-dim N        the decision point's contextDim (default 16)
  --action-dim M         the decision point's actionDim (default 8)
  --window-seconds S     attribution window recorded with each decision (default 3600)
  --end ISO, --days N    jsonl only: spread the decisions over N days (default 7) ending at END (default today 00:00Z)`;

function blobStoreFor(lake: string): BlobStore {
  const s3 = /^s3:\/\/([^/]+)\/?$/.exec(lake);
  return s3 ? new S3BlobStore(new S3Client({}), s3[1] as string) : new FsBlobStore(resolve(lake));
}

/** OBD rows' `timestamp` column, in row order (the reader keeps rows in file order and skips blank lines alike). */
async function obdTimestamps(path: string): Promise<number[]> {
  const out: number[] = [];
  let col = -1;
  for await (const { text, line } of splitLines(createReadStream(path), { source: basename(path) })) {
    if (text.trim() === '') continue;
    const fields = text.split(',');
    if (col < 0) {
      col = fields.indexOf('timestamp');
      if (col < 0) throw new UsageError(`${basename(path)} has no timestamp column`);
      continue;
    }
    const t = Date.parse(fields[col] ?? '');
    if (!Number.isFinite(t)) throw new UsageError(`${basename(path)} line ${line}: unreadable timestamp`);
    out.push(t);
  }
  return out;
}

export async function runImport(argv: readonly string[], streams: CliStreams = processStreams()): Promise<number> {
  try {
    const v = parseCliArgsWithFile(argv);
    if (v === 'help') {
      streams.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const path = resolve(v.file);
    try {
      await access(path);
    } catch {
      throw new UsageError(`cannot read ${v.file}`);
    }
    let data: LoggedData;
    let timeOf: (i: number) => number;
    if (v.format === 'obd') {
      const itemContext = join(dirname(path), 'item_context.csv');
      try {
        await access(itemContext);
      } catch {
        throw new UsageError(`cannot read ${itemContext} (the OBD item context is expected beside the log)`);
      }
      data = await readObdLog({
        log: createReadStream(path),
        itemContext: createReadStream(itemContext),
        logName: basename(path),
        itemContextName: 'item_context.csv',
      });
      const times = await obdTimestamps(path);
      if (times.length !== data.rounds.length) throw new UsageError('timestamp column and rows disagree');
      timeOf = (i) => times[i] as number;
    } else {
      data = await readJsonlLog(createReadStream(path), { source: basename(path) });
      const end = v.end ?? Math.floor(Date.now() / BUCKET_MS) * BUCKET_MS;
      const span = v.days * BUCKET_MS;
      const n = Math.max(1, data.rounds.length);
      timeOf = (i) => end - span + (i * span) / n;
    }
    const summary = await importHistory(data, blobStoreFor(v.lake), {
      decisionPoint: v.decisionPoint,
      contextDim: v.contextDim,
      actionDim: v.actionDim,
      attributionWindowSeconds: v.windowSeconds,
      sourceId: sourceIdOf(await readFile(path)),
      timeOf,
    });
    const iso = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());
    const actions = new Set(data.rounds.flatMap((r) => r.candidates.map((c) => c.id)));
    streams.stdout.write(
      [
        `imported ${summary.decisions} decisions and ${summary.events} reward events of decision point ` +
          `"${v.decisionPoint}" into ${v.lake} (${summary.objects} lake objects)`,
        `decision times ${iso(summary.firstAt)} to ${iso(summary.lastAt)}`,
        `propensities: ${propensityStatement(summary)}`,
        `serving uses the catalog: create the ${actions.size} actions of this history (ids ${[...actions].slice(0, 5).join(', ')}${actions.size > 5 ? ', …' : ''}) ` +
          `under /v1/decision-points/${v.decisionPoint}/actions, then run \`npm run retrain -- --decision-point ${v.decisionPoint}\`.`,
        '',
      ].join('\n'),
    );
    return 0;
  } catch (error) {
    return failWith('import', USAGE, error, streams, (e) => e instanceof EvaluationError || e instanceof RetrainError);
  }
}

function parseCliArgsWithFile(argv: readonly string[]) {
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    // The log file is the one positional argument (the shared parser rejects positionals).
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        format: { type: 'string' },
        'decision-point': { type: 'string' },
        lake: { type: 'string' },
        'context-dim': { type: 'string' },
        'action-dim': { type: 'string' },
        'window-seconds': { type: 'string' },
        end: { type: 'string' },
        days: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (cause) {
    throw new UsageError((cause as Error).message);
  }
  const v = parsed.values as Record<string, string | undefined> & { help?: boolean };
  const positional = parsed.positionals;
  if (v.help) return 'help' as const;
  if (positional.length !== 1) throw new UsageError('expected exactly one FILE');
  if (v.format !== 'jsonl' && v.format !== 'obd') throw new UsageError('--format jsonl|obd is required');
  const dp = decisionPointIdSchema.safeParse(v['decision-point'] ?? 'imported');
  if (!dp.success) throw new UsageError(`--decision-point: ${dp.error.issues[0]?.message ?? 'invalid'}`);
  const end = v.end === undefined ? undefined : Date.parse(v.end);
  if (end !== undefined && !Number.isFinite(end))
    throw new UsageError(`--end expects an ISO-8601 time, got "${v.end}"`);
  return {
    file: positional[0] as string,
    format: v.format,
    decisionPoint: dp.data,
    lake: v.lake ?? localDataDir(),
    contextDim:
      v['context-dim'] === undefined
        ? 16
        : parseNumberFlag('context-dim', v['context-dim'], { integer: true, above: 1, below: 65 }),
    actionDim:
      v['action-dim'] === undefined
        ? 8
        : parseNumberFlag('action-dim', v['action-dim'], { integer: true, above: 0, below: 33 }),
    windowSeconds:
      v['window-seconds'] === undefined
        ? 3600
        : parseNumberFlag('window-seconds', v['window-seconds'], { integer: true, above: 0, below: 30 * 86400 + 1 }),
    end,
    days: v.days === undefined ? 7 : parseNumberFlag('days', v.days, { integer: true, above: 0, below: 3651 }),
  };
}

await runIfEntry(import.meta.url, (argv) => runImport(argv));
