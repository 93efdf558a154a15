/**
 * Loads past logged decisions into the log lake, so a new deployment's first retraining starts from history.
 *
 *   npm run import -- --format jsonl|obd FILE [--decision-point DP] [--lake DIR|s3://BUCKET] [--create-actions]
 *                     [--url URL] [--key KEY] [--context-dim N] [--action-dim M] [--window-seconds S]
 *                     [--end ISO] [--days 7]
 *
 * jsonl: the simulator's `--history` lines (no timestamps: decisions are spread evenly over the `--days` days before
 * `--end`, default the start of the last UTC day whose feedback a retraining run started now counts complete, so every
 * imported day is before its cutoff; just after midnight that is yesterday's start, not today's).
 * obd: an Open Bandit Dataset campaign CSV with `item_context.csv` beside it; its `timestamp` column is kept.
 *
 * Where the decision point's settings come from (one rule, so the lake never holds decisions retraining must drop):
 * - the decision point exists (asked through the admin API at `--url`): its contextDim, actionDim, attribution window
 *   and reward range are used; a flag that disagrees, a history wider than the dimensions or rewards outside the
 *   range are refused with what to change;
 * - it does not exist yet: the flags, else the history's own widths (dense: length + 1 for the bias; named: 16/8),
 *   and the command says how to create it with those dimensions;
 * - no engine answers: only with both --context-dim and --action-dim (e.g. importing before a deployment).
 * `--create-actions` creates (or updates) the history's actions through the API with the features the history logs.
 * Exit codes: 0 done, 2 bad input or a refused request, 1 other.
 */
import { createReadStream } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { FsBlobStore } from '../shared/adapters/lake/fs-blob-store.ts';
import { S3BlobStore } from '../shared/adapters/s3/blob-store.ts';
import { RetrainError } from '../shared/app/retrain/errors.ts';
import {
  type HistoryShape,
  historyShape,
  importHistory,
  propensityStatement,
  sourceIdOf,
} from '../shared/app/retrain/import-history.ts';
import type { BlobStore } from '../shared/app/retrain/ports.ts';
import { DEFAULT_LAKE_DELAY_SECONDS } from '../shared/app/retrain/run-context.ts';
import { BUCKET_MS } from '../shared/core/domain.ts';
import {
  EvaluationError,
  type LoggedData,
  readJsonlLog,
  readObdLog,
  splitLines,
} from '../shared/core/evaluation/index.ts';
import { defaultRewardBounds } from '../shared/core/feedback/reward.ts';
import { decisionPointIdSchema } from '../shared/core/schemas.ts';
import { parseNumberFlag, UsageError } from './lib/args.ts';
import { type CliStreams, failWith, processStreams, runIfEntry } from './lib/command.ts';
import { type EngineApi, EngineRefusedError, EngineUnreachableError, engineApi } from './lib/engine-api.ts';
import { localDataDir } from './lib/local.ts';
import { createProgressLine } from './lib/progress.ts';

const USAGE = `usage: npm run import -- --format jsonl|obd FILE [options]

  --format jsonl|obd     simulator --history JSONL, or an Open Bandit Dataset CSV (item_context.csv beside it)
  --decision-point DP    decision point the history belongs to (default: imported)
  --lake DIR|s3://B      where the lake lives: a folder holding lake/ (default NBA_DATA_DIR or .local-data) or an S3 bucket
  --create-actions       create the history's actions (with its features) in the decision point's catalog
  --url URL              the engine's API, asked for the decision point's settings (default NBA_API_URL, else
                         http://127.0.0.1:$PORT)
  --key KEY              an admin API key (default NBA_API_KEY, else .local-data/api-key)
  --context-dim N        only if the decision point does not exist yet (default: from the history, else 16)
  --action-dim M         only if the decision point does not exist yet (default: from the history, else 8)
  --window-seconds S     only if the decision point does not exist yet (default 3600)
  --end ISO, --days N    jsonl only: spread the decisions over N days (default 7) ending at END (default: the start of
                         the last day a retraining started now would train on: today 00:00Z once the attribution
                         window and 15 minutes have passed since midnight, else yesterday's)`;

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
    /** Each round's time: the OBD log's own; for jsonl, given the decision point's attribution window (below). */
    let timeOf: (i: number, windowSeconds: number) => number;
    // A line that updates itself on a terminal (nothing when piped): reading a large history takes a while.
    const progress = createProgressLine(streams.stderr);
    const onProgress = (p: { lines: number }) =>
      progress.update(`reading ${basename(path)}: ${p.lines.toLocaleString('en-US')} lines`);
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
        onProgress,
      });
      const times = await obdTimestamps(path);
      if (times.length !== data.rounds.length) throw new UsageError('timestamp column and rows disagree');
      timeOf = (i) => times[i] as number;
    } else {
      data = await readJsonlLog(createReadStream(path), { source: basename(path), onProgress });
      const span = v.days * BUCKET_MS;
      const n = Math.max(1, data.rounds.length);
      // Default end: the start of the last day a retraining run started now counts complete (its cutoff: now minus
      // the attribution window and the lake's delay, shared/app/retrain/plan.ts), so every imported day is trained on.
      const defaultEnd = (windowSeconds: number) =>
        Math.floor((Date.now() - windowSeconds * 1000 - DEFAULT_LAKE_DELAY_SECONDS * 1000) / BUCKET_MS) * BUCKET_MS;
      let end: number | undefined = v.end;
      timeOf = (i, windowSeconds) => {
        end ??= defaultEnd(windowSeconds);
        return end - span + (i * span) / n;
      };
    }
    progress.done();
    const shape = historyShape(data);
    const api = engineApi({ url: v.url, key: v.key });
    const target = await targetSettings(v, shape, api);
    const summary = await importHistory(data, blobStoreFor(v.lake), {
      decisionPoint: v.decisionPoint,
      contextDim: target.contextDim,
      actionDim: target.actionDim,
      attributionWindowSeconds: target.windowSeconds,
      rewardBounds: target.rewardBounds,
      sourceId: sourceIdOf(await readFile(path)),
      timeOf: (i) => timeOf(i, target.windowSeconds),
    });
    const iso = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());
    const ids = [...shape.actions.keys()];
    const lines = [
      `imported ${summary.decisions} decisions and ${summary.events} reward events of decision point ` +
        `"${v.decisionPoint}" into ${v.lake} (${summary.objects} lake objects)`,
      `settings: contextDim ${target.contextDim}, actionDim ${target.actionDim}, window ${target.windowSeconds} s, ` +
        `rewards in [${target.rewardBounds.min}, ${target.rewardBounds.max}] (${target.source})`,
      `decision times ${iso(summary.firstAt)} to ${iso(summary.lastAt)}`,
      `propensities: ${propensityStatement(summary)}`,
    ];
    if (target.source === 'the history; the decision point does not exist yet') {
      lines.push(
        `next: create the decision point with these dimensions: curl -X PUT ${api.url}/v1/decision-points/${v.decisionPoint} ` +
          `-H "x-api-key: KEY" -H 'content-type: application/json' ` +
          `-d '{"contextDim":${target.contextDim},"actionDim":${target.actionDim}}'`,
      );
    }
    if (v.createActions) {
      const out = await createActions(api, v.decisionPoint, shape.actions);
      lines.push(`actions: ${out.created} created, ${out.updated} updated, ${out.unchanged} already as logged`);
    } else {
      lines.push(
        `serving uses the catalog: create the ${ids.length} actions of this history (ids ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}) ` +
          `under /v1/decision-points/${v.decisionPoint}/actions (or rerun with --create-actions)`,
      );
    }
    lines.push(`then: npm run retrain -- --decision-point ${v.decisionPoint}`, '');
    streams.stdout.write(lines.join('\n'));
    return 0;
  } catch (error) {
    return failWith(
      'import',
      USAGE,
      error,
      streams,
      (e) =>
        e instanceof MismatchError ||
        e instanceof EvaluationError ||
        e instanceof RetrainError ||
        e instanceof EngineRefusedError ||
        e instanceof EngineUnreachableError,
    );
  }
}

/** The history and the decision point disagree: the message says what to change. */
class MismatchError extends Error {}

interface TargetSettings {
  contextDim: number;
  actionDim: number;
  windowSeconds: number;
  rewardBounds: { min: number; max: number };
  source: string;
}

interface DecisionPointView {
  settings: {
    contextDim: number;
    actionDim: number;
    attributionWindowSeconds: number;
    rewards: Record<string, number>;
    objectives: { events: Record<string, number> }[];
    rewardBounds?: { min: number; max: number };
  };
}

/** The decision point's settings the history is imported with (see the module header for the rule). */
async function targetSettings(v: ImportArgs, shape: HistoryShape, api: EngineApi): Promise<TargetSettings> {
  let dp: DecisionPointView | undefined;
  let reachable = true;
  try {
    dp = await api.call<DecisionPointView>('GET', `/v1/decision-points/${v.decisionPoint}`, undefined, {
      allowMissing: true,
    });
  } catch (error) {
    if (!(error instanceof EngineUnreachableError)) throw error;
    if (v.createActions || v.contextDim === undefined || v.actionDim === undefined) {
      throw new UsageError(
        `${error.message} The engine tells import the decision point's dimensions` +
          (v.createActions ? ' and creates the actions.' : '; without it, give both --context-dim and --action-dim.'),
      );
    }
    reachable = false;
  }
  const span = shape.rewards ?? { min: 0, max: 1 };
  if (dp) {
    const s = dp.settings;
    const disagree = (flag: string, given: number | undefined, actual: number) => {
      if (given !== undefined && given !== actual) {
        throw new MismatchError(
          `--${flag} ${given} disagrees with decision point ${v.decisionPoint} (${actual}): drop the flag (import takes ` +
            `the decision point's), or import into a decision point created with ${given}`,
        );
      }
    };
    disagree('context-dim', v.contextDim, s.contextDim);
    disagree('action-dim', v.actionDim, s.actionDim);
    disagree('window-seconds', v.windowSeconds, s.attributionWindowSeconds);
    const fits = (what: string, width: number | undefined, dim: number, setting: string) => {
      if (width !== undefined && width > dim - 1) {
        throw new MismatchError(
          `the history's ${what} have ${width} dense features, but decision point ${v.decisionPoint} has ${setting} ` +
            `${dim} (${dim - 1} slots after the bias): import into a decision point created with ${setting} ` +
            `${width + 1} or more (${setting} cannot change once a decision point has learned)`,
        );
      }
    };
    fits('contexts', shape.denseContext, s.contextDim, 'contextDim');
    fits('actions', shape.denseAction, s.actionDim, 'actionDim');
    const bounds = s.rewardBounds ?? defaultRewardBounds(s);
    if (span.min < bounds.min || span.max > bounds.max) {
      throw new MismatchError(
        `the history's rewards lie in [${span.min}, ${span.max}], outside decision point ${v.decisionPoint}'s reward ` +
          `range [${bounds.min}, ${bounds.max}]: declare "rewardBounds": {"min": ${Math.min(span.min, bounds.min)}, ` +
          `"max": ${Math.max(span.max, bounds.max)}} in its settings, or rescale the history`,
      );
    }
    return {
      contextDim: s.contextDim,
      actionDim: s.actionDim,
      windowSeconds: s.attributionWindowSeconds,
      rewardBounds: bounds,
      source: `decision point ${v.decisionPoint}`,
    };
  }
  const contextDim = v.contextDim ?? (shape.denseContext !== undefined ? Math.max(2, shape.denseContext + 1) : 16);
  const actionDim = v.actionDim ?? (shape.denseAction !== undefined ? shape.denseAction + 1 : 8);
  return {
    contextDim,
    actionDim,
    windowSeconds: v.windowSeconds ?? 3600,
    rewardBounds: { min: Math.min(0, span.min), max: Math.max(1, span.max) },
    source: reachable
      ? 'the history; the decision point does not exist yet'
      : `the flags: no engine at ${api.url} to check them against`,
  };
}

/** Puts each of the history's actions in the catalog with the features it logs; unchanged ones are left alone. */
async function createActions(
  api: EngineApi,
  decisionPoint: string,
  actions: HistoryShape['actions'],
): Promise<{ created: number; updated: number; unchanged: number }> {
  const out = { created: 0, updated: 0, unchanged: 0 };
  for (const [id, features] of actions) {
    const path = `/v1/decision-points/${decisionPoint}/actions/${encodeURIComponent(id)}`;
    const existing = await api.call<{ features: unknown; status: string }>('GET', path, undefined, {
      allowMissing: true,
    });
    if (existing && existing.status === 'live' && JSON.stringify(existing.features) === JSON.stringify(features)) {
      out.unchanged++;
      continue;
    }
    await api.call('PUT', path, { features });
    if (existing) out.updated++;
    else out.created++;
  }
  return out;
}

type ImportArgs = Exclude<ReturnType<typeof parseCliArgsWithFile>, 'help'>;

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
        'create-actions': { type: 'boolean', default: false },
        url: { type: 'string' },
        key: { type: 'string' },
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
  const v = parsed.values as Record<string, string | undefined> & { help?: boolean; 'create-actions'?: boolean };
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
    createActions: v['create-actions'] === true,
    url: v.url,
    key: v.key,
    contextDim:
      v['context-dim'] === undefined
        ? undefined
        : parseNumberFlag('context-dim', v['context-dim'], { integer: true, above: 1, below: 65 }),
    actionDim:
      v['action-dim'] === undefined
        ? undefined
        : parseNumberFlag('action-dim', v['action-dim'], { integer: true, above: 0, below: 33 }),
    windowSeconds:
      v['window-seconds'] === undefined
        ? undefined
        : parseNumberFlag('window-seconds', v['window-seconds'], { integer: true, above: 0, below: 30 * 86400 + 1 }),
    end,
    days: v.days === undefined ? 7 : parseNumberFlag('days', v.days, { integer: true, above: 0, below: 3651 }),
  };
}

await runIfEntry(import.meta.url, (argv) => runImport(argv));
