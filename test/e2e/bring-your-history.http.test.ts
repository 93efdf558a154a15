/**
 * A newcomer's main reason to import (README "Bring your own history"), as they would do it against the local stack:
 * create a decision point, import a dense-array history of several thousand decisions without repeating its
 * dimensions, create its actions with the history's own features, retrain (a clear promote or reject, trained on the
 * history), and decide with a context shaped like the history's.
 *
 * The expectations come from the history file itself (its rounds, its actions and their features, its widths), never
 * from the tools' code.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEvaluate } from '../../cli/evaluate.ts';
import { runImport } from '../../cli/import.ts';
import { runRetrainCli } from '../../cli/retrain.ts';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { FsBlobStore } from '../../shared/adapters/lake/fs-blob-store.ts';
import { World, worldSettings } from '../../sim/world.ts';
import { runCli } from '../support/cli.ts';
import { type Api, apiClient } from '../support/http.ts';

const KEY = 'history-admin-key';
const ROUNDS = 3000;

describe('bring your own history: import → actions → retrain → decide', () => {
  let stack: LocalStack;
  let api: Api;
  let dir: string;
  let historyFile: string;
  let lines: { context: number[]; actions: { id: string; features: number[] }[]; reward: number }[];

  beforeAll(async () => {
    process.env.NBA_LOG_LEVEL ??= 'silent';
    dir = mkdtempSync(join(tmpdir(), 'nba-history-'));
    const world = new World({ seed: 7, rounds: 10, historyRounds: ROUNDS });
    historyFile = join(dir, 'history.jsonl');
    const text = [...world.history()].map((l) => JSON.stringify(l)).join('\n');
    await import('node:fs/promises').then((fs) => fs.writeFile(historyFile, `${text}\n`));
    lines = readFileSync(historyFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    stack = await startLocalStack({ apiKey: KEY, dataDir: dir, context: { modelRefreshMs: 0 } });
    api = apiClient(stack.url, KEY);
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `npm run retrain` of a decision point on the test's data folder (the one the stack runs on). */
  const retrain = (dp: string, ...extra: string[]) =>
    runCli(runRetrainCli, ['--decision-point', dp, '--data-dir', dir, ...extra]);

  const importArgs = (dp: string, ...extra: string[]) => [
    '--format',
    'jsonl',
    historyFile,
    '--decision-point',
    dp,
    '--lake',
    dir,
    '--url',
    stack.url,
    '--key',
    KEY,
    ...extra,
  ];

  it('refuses a decision point too narrow for the history, saying which setting to change, and imports nothing', async () => {
    const width = Math.max(...lines.map((l) => l.context.length));
    expect((await api.call('PUT', '/v1/decision-points/narrow', { contextDim: width, actionDim: 7 })).status).toBe(201);
    const r = await runCli(runImport, importArgs('narrow'));
    expect(r.code).toBe(2);
    expect(r.err).toContain(`contexts have ${width} dense features`);
    expect(r.err).toContain(`contextDim ${width + 1} or more`);
    expect(await new FsBlobStore(dir).list('lake/')).toEqual([]);
    // A flag that contradicts an existing decision point is refused too, instead of silently winning.
    const flagged = await runCli(runImport, importArgs('narrow', '--context-dim', '16'));
    expect(flagged.code).toBe(2);
    expect(flagged.err).toMatch(/--context-dim 16 disagrees with decision point narrow \(\d+\)/);
  });

  it('imports with the decision point’s dimensions, creates its actions with the history’s features, retrains on it and serves a history-shaped context', async () => {
    expect((await api.call('PUT', '/v1/decision-points/world', worldSettings())).status).toBe(201);

    const imported = await runCli(runImport, importArgs('world', '--create-actions'));
    expect(imported.err).toBe('');
    expect(imported.code).toBe(0);
    expect(imported.out).toContain(`imported ${ROUNDS} decisions`);
    expect(imported.out).toContain('contextDim 10, actionDim 7');

    // Every action of the history is in the catalog, live, with the features the history logs.
    const logged = new Map<string, number[]>();
    for (const l of lines) for (const a of l.actions) if (!logged.has(a.id)) logged.set(a.id, a.features);
    const catalog = await api.call('GET', '/v1/decision-points/world/actions');
    expect(catalog.status).toBe(200);
    const served = new Map<string, unknown>(
      (catalog.body.actions as { actionId: string; features: unknown; status: string }[])
        .filter((a) => a.status === 'live')
        .map((a) => [a.actionId, a.features]),
    );
    expect(new Map([...served].filter(([id]) => logged.has(id)))).toEqual(logged);
    // Importing again changes nothing: the same objects, the same actions.
    const again = await runCli(runImport, importArgs('world', '--create-actions'));
    expect(again.code).toBe(0);
    expect(again.out).toContain(`0 created, 0 updated, ${logged.size} already as logged`);

    const trained = await retrain('world', '--json');
    expect(trained.code).toBe(0);
    // Progress on stderr, a line per step as the run reaches it; stdout stays one JSON document (parsed below).
    const steps = trained.err.split('\n').filter((l) => /^retrain: .+ \(\d+\.\d s\)$/.test(l));
    expect(steps.length).toBeGreaterThanOrEqual(5);
    const run = JSON.parse(trained.out) as {
      status: string;
      fit: { trainDecisions: number; holdoutDecisions: number };
      reduce: { counters: Record<string, number> };
      report: { outcome: string };
    };
    expect(run.status).toBe('SUCCEEDED');
    // Trained on the whole history (all of it before today's cutoff): nothing dropped for its shape.
    expect(run.fit.trainDecisions + run.fit.holdoutDecisions).toBe(ROUNDS);
    expect(run.fit.holdoutDecisions).toBeGreaterThan(0);
    expect(run.reduce.counters.dimensionMismatch ?? 0).toBe(0);
    expect(['promoted', 'rejected']).toContain(run.report.outcome);

    const context = lines[0]!.context;
    const decision = await api.call('POST', '/v1/decisions', { decisionPoint: 'world', userId: 'newcomer', context });
    expect(decision.status).toBe(200);
    expect(logged.has((decision.body.chosen as string[])[0]!)).toBe(true);
    // A context wider than the decision point is refused with the reason, not served from a truncated vector.
    const wide = await api.call('POST', '/v1/decisions', {
      decisionPoint: 'world',
      userId: 'newcomer',
      context: Array.from({ length: 10 }, () => 0.5),
    });
    expect(wide.status).toBe(400);
    expect(JSON.stringify(wide.body)).toContain('10 dense features do not fit in dim − 1 = 9 slots');
  }, 240_000);

  it('trains a history of one day with a held-out share instead of days; --force cannot promote an empty model; as-of in the future is refused', async () => {
    expect((await api.call('PUT', '/v1/decision-points/short', worldSettings())).status).toBe(201);
    const imported = await runCli(runImport, importArgs('short', '--create-actions', '--days', '1'));
    expect(imported.code).toBe(0);

    // One day of history and the default hold-out of one day: nothing left to learn from, and the answer says what to do.
    const byDay = await retrain('short');
    expect(byDay.code).toBe(0);
    expect(byDay.out).toMatch(/^retraining short: rejected/);
    expect(byDay.out).toContain('--holdout-fraction');

    const share = 0.25;
    const r = await retrain('short', '--holdout-fraction', String(share), '--json');
    expect(r.code).toBe(0);
    const run = JSON.parse(r.out) as {
      fit: { trainDecisions: number; holdoutDecisions: number };
      evaluation: { rounds: number; warnings: string[] };
    };
    expect(run.fit.trainDecisions + run.fit.holdoutDecisions).toBe(ROUNDS);
    // A hash of the decision id picks the share: binomial, sd = sqrt(3000 · 0.25 · 0.75) ≈ 24, so ±5 sd is ±120.
    expect(Math.abs(run.fit.holdoutDecisions - share * ROUNDS)).toBeLessThan(120);
    expect(run.evaluation.rounds).toBe(run.fit.holdoutDecisions);
    expect(run.evaluation.warnings.join(' ')).toContain('in-sample');

    // Promoted (by the gate, or past it with --force), the model is then evaluated on the very log it learned from:
    // the estimate comes with a warning that it is in-sample.
    const promoted = await retrain('short', '--holdout-fraction', String(share), '--force');
    expect(promoted.out).toMatch(/^retraining short: promoted/);
    // The settings give the Thompson scale and both λs: the run says it searched nothing.
    expect(promoted.out).toContain(
      "\n  serving settings: the decision point's settings give exploration.scale = 0.25, λs and λa: nothing was searched",
    );
    const evaluated = await runCli(runEvaluate, [
      '--log',
      historyFile,
      '--target',
      'model:active',
      '--decision-point',
      'short',
      '--data-dir',
      dir,
      '--json',
    ]);
    expect(evaluated.code, evaluated.err).toBe(0);
    expect((JSON.parse(evaluated.out) as { warnings: string[] }).warnings.join(' ')).toContain('in-sample');

    expect((await api.call('PUT', '/v1/decision-points/empty', {})).status).toBe(201);
    const forced = await retrain('empty', '--force');
    expect(forced.code).toBe(0);
    expect(forced.out).toMatch(/^retraining empty: rejected/);
    expect(forced.out).toContain('empty model, which no --force can promote');
    expect((await api.call('GET', '/v1/decision-points/empty/evaluations')).body.activeVersion).toBeNull();

    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    const future = await retrain('short', '--as-of', tomorrow);
    expect(future.code).toBe(1);
    expect(future.err).toContain('after the run started: a run trains only on days whose feedback is complete');
  }, 240_000);
});
