/**
 * The retraining pieces of the local stack over HTTP: the lake writer as a second stream consumer, the evaluations
 * list and the rollback route (serving follows at once).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { FsBlobStore } from '../../shared/adapters/lake/fs-blob-store.ts';
import { parseLakeObject } from '../../shared/app/retrain/lake.ts';
import { emptyStats } from '../../shared/core/bandit/stats.ts';
import { DEFAULT_OBJECTIVE } from '../../shared/core/domain.ts';
import type { EvaluationRecord } from '../../shared/core/retrain/evaluation-record.ts';
import { type Api, apiClient, waitFor } from '../support/http.ts';
import { pseudonymOf } from '../support/privacy.ts';

describe('local stack: lake and retraining routes', () => {
  let stack: LocalStack;
  let api: Api;
  let lakeDir: string;
  const dp = 'homepage';

  beforeAll(async () => {
    process.env.NBA_LOG_LEVEL ??= 'silent';
    lakeDir = mkdtempSync(join(tmpdir(), 'nba-stack-lake-'));
    stack = await startLocalStack({ apiKey: 'test-admin-key', context: { modelRefreshMs: 0 }, lakeDir });
    api = apiClient(stack.url, 'test-admin-key');
    expect((await api.call('PUT', `/v1/decision-points/${dp}`, { contextDim: 4, actionDim: 2 })).status).toBe(201);
    for (const id of ['A', 'B']) {
      expect(
        (await api.call('PUT', `/v1/decision-points/${dp}/actions/${id}`, { features: { kind: id } })).status,
      ).toBe(201);
    }
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(lakeDir, { recursive: true, force: true });
  });

  it('writes every decision served into the lake, next to the updater, under the user’s pseudonym', async () => {
    const res = await api.call('POST', '/v1/decisions', {
      decisionPoint: dp,
      userId: 'customer-4711@example.com',
      context: { device: 'mobile' },
    });
    expect(res.status).toBe(200);
    const blobs = new FsBlobStore(lakeDir);
    await waitFor(async () => (await blobs.list('lake/kind=decision/')).length > 0);
    const [entry] = await blobs.list('lake/kind=decision/');
    const [decision] = parseLakeObject((await blobs.get(entry!.key))!).decisions;
    const pseudonym = await pseudonymOf(stack, 'customer-4711@example.com');
    expect(decision).toMatchObject({ decisionId: res.body.decisionId, decisionPoint: dp, userId: pseudonym });
    expect(JSON.stringify(decision)).not.toContain('customer-4711');
  });

  it('lists retraining runs newest first, and rolls the active model back; serving follows at once', async () => {
    const { state } = stack.stores;
    const now = Date.now();
    const base = (version: string, n: number) =>
      ['A', 'B'].map((actionId) => {
        const stats = emptyStats(4);
        stats.n = n;
        stats.sxx[0] = n;
        return { decisionPoint: dp, version, objective: DEFAULT_OBJECTIVE, actionId, stats, updatedAt: now };
      });
    await state.putBaseStats([...base('m-old', 10), ...base('m-new', 20)]);
    await state.putActiveModel(
      {
        decisionPoint: dp,
        version: 'm-new',
        cutoffBucket: 20_000,
        promotedAt: now,
        // The Thompson scales their runs chose (the decision point's settings leave the scale out), and for the
        // newer one a multiplier on the learned λa.
        settings: { scale: 0.5, priorScale: { shared: 1, action: 10 } },
        history: [{ version: 'm-old', cutoffBucket: 19_990, promotedAt: now - 1000, settings: { scale: 2 } }],
        itemVersion: 2,
        updatedAt: now,
      },
      undefined,
    );
    const record = (runId: string, startedAt: number, outcome: EvaluationRecord['outcome']): EvaluationRecord => ({
      decisionPoint: dp,
      runId,
      version: `m-${runId}`,
      startedAt,
      finishedAt: startedAt + 1000,
      outcome,
      reasons: outcome === 'rejected' ? ['too low'] : [],
      warnings: [],
      cutoffBucket: 20_000,
      holdoutFromBucket: 19_999,
      rounds: 500,
      policies: [
        {
          name: 'candidate',
          estimator: 'dr',
          estimate: { value: 0.4, lower: 0.3, upper: 0.5 },
          lowerBound: 0.28,
          ess: 200,
        },
      ],
      exploration: {
        source: 'search',
        scale: 0.5,
        currentScale: 2,
        delta: 0.0125,
        grid: [0.005, 0.02, 0.1, 1].map((scale) => ({
          name: `candidate, scale ${scale}`,
          estimator: 'dr',
          estimate: { value: 0.4, lower: 0.3, upper: 0.5 },
          lowerBound: scale === 0.5 ? 0.29 : 0.27,
          ess: 200,
          scale,
        })),
        why: 'scale 0.5 has the highest lower bound',
      },
      reportKey: `retrain/${dp}/${runId}/report.json`,
      htmlKey: `retrain/${dp}/${runId}/report.html`,
    });
    await state.putEvaluation(record('first', now - 86_400_000, 'promoted'));
    await state.putEvaluation(record('second', now, 'rejected'));

    const list = await api.call('GET', `/v1/decision-points/${dp}/evaluations`);
    expect(list.status).toBe(200);
    expect(list.body.activeVersion).toBe('m-new');
    expect(list.body.evaluations.map((e: { runId: string }) => e.runId)).toEqual(['second', 'first']);
    expect(list.body.evaluations[0]).toMatchObject({
      outcome: 'rejected',
      reasons: ['too low'],
      report: { html: `retrain/${dp}/second/report.html` },
      exploration: { source: 'search', scale: 0.5, why: 'scale 0.5 has the highest lower bound' },
    });
    expect(list.body.evaluations[0].exploration.grid.map((g: { scale: number }) => g.scale)).toEqual([
      0.005, 0.02, 0.1, 1,
    ]);
    expect((await api.call('GET', `/v1/decision-points/${dp}/evaluations?limit=1`)).body.evaluations).toHaveLength(1);
    expect((await api.call('GET', `/v1/decision-points/${dp}/evaluations?limit=0`)).status).toBe(400);

    const servedBefore = (await api.call('GET', `/v1/decision-points/${dp}/model`)).body;
    expect(servedBefore.modelVersion).toMatch(/^m-new\+/);
    expect(servedBefore.learned.exploration.scale).toBe(0.5);
    expect(servedBefore.learned.priorScale).toEqual({ shared: 1, action: 10 });
    const stale = await api.call('POST', `/v1/decision-points/${dp}/model:rollback`, { from: 'm-old' });
    expect(stale.status).toBe(409);
    const rolled = await api.call('POST', `/v1/decision-points/${dp}/model:rollback`, { from: 'm-new' });
    expect(rolled.status).toBe(200);
    expect(rolled.body).toMatchObject({
      version: 'm-old',
      rolledBack: 'm-new',
      cutoffBucket: 19_990,
      remainingHistory: [],
    });
    const servedAfter = (await api.call('GET', `/v1/decision-points/${dp}/model`)).body;
    expect(servedAfter.modelVersion).toMatch(/^m-old\+/);
    expect(servedAfter.learned.exploration.scale).toBe(2); // its own scale came back with it
    expect(servedAfter.learned.priorScale).toEqual({ shared: 1, action: 1 }); // and no multiplier: it had none

    // As the README prints it, without a body: past the first model, back to online-only serving.
    const first = await fetch(`${stack.url}/v1/decision-points/${dp}/model:rollback`, {
      method: 'POST',
      headers: { 'x-api-key': 'test-admin-key' },
    });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ version: 'online', rolledBack: 'm-old', remainingHistory: [] });
    const online = (await api.call('GET', `/v1/decision-points/${dp}/model`)).body;
    expect(online.modelVersion).toMatch(/^online\+/);
    expect(online.learned.exploration.scale).toBe(0.02); // none chosen before the first promotion: the default
    expect((await api.call('GET', `/v1/decision-points/${dp}/evaluations`)).body.activeVersion).toBe('online');

    const again = await api.call('POST', `/v1/decision-points/${dp}/model:rollback`, {});
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/already serves its online statistics only/);
    expect((await api.call('POST', '/v1/decision-points/nowhere/model:rollback', {})).status).toBe(404);
    expect((await api.call('GET', '/v1/decision-points/nowhere/evaluations')).status).toBe(404);

    // Each rollback asked for is in the audit trail, done or refused (shared/core/audit.ts).
    const audit = await api.call('GET', '/v1/audit?action=model.rollback');
    expect(
      audit.body.entries.map((e: Record<string, unknown>) => [e.decisionPoint, e.result, e.status, e.target, e.detail]),
    ).toEqual([
      ['nowhere', 'refused', 404, undefined, undefined],
      [dp, 'refused', 409, undefined, undefined],
      [dp, 'ok', 200, 'online', { rolledBack: 'm-old' }],
      [dp, 'ok', 200, 'm-old', { rolledBack: 'm-new' }],
      [dp, 'refused', 409, undefined, undefined],
    ]);
  });
});
