/** `npm run evaluate -- --target model:VERSION`: a stored offline model evaluated off-policy on a logged history. */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEvaluate } from '../../cli/evaluate.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.ts';
import { physicalName } from '../../local/twin/template.ts';
import { addObservation, emptyStats } from '../../shared/core/bandit/stats.ts';
import { DEFAULT_OBJECTIVE } from '../../shared/core/domain.ts';
import { createRng } from '../../shared/core/random.ts';
import { decisionPointSettingsSchema } from '../../shared/core/schemas.ts';
import { runCli } from '../support/cli.ts';
import { startTestStores, type TestStores } from '../support/emulators.ts';

describe('evaluate --target model:VERSION', () => {
  let stores: TestStores;
  let work: string;
  let log: string;
  const dp = 'checkout';

  beforeAll(async () => {
    stores = await startTestStores();
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_DYNAMODB: stores.emulators.dynamoEndpoint,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    });
    const now = Date.now();
    const { state } = stores;
    await state.putDecisionPoint(
      {
        decisionPoint: dp,
        settings: decisionPointSettingsSchema.parse({ contextDim: 4, actionDim: 2 }),
        createdAt: now,
        updatedAt: now,
        version: 1,
      },
      undefined,
    );
    // Model m1 learned that B pays 0.8 and A 0.2 (bias-only contexts).
    const learned = (mean: number) => {
      const s = emptyStats(4);
      for (let i = 0; i < 200; i++) addObservation(s, Float64Array.of(1, 0, 0, 0), i < 200 * mean ? 1 : 0);
      return s;
    };
    await state.putBaseStats([
      {
        decisionPoint: dp,
        version: 'm1',
        objective: DEFAULT_OBJECTIVE,
        actionId: 'A',
        stats: learned(0.2),
        updatedAt: now,
      },
      {
        decisionPoint: dp,
        version: 'm1',
        objective: DEFAULT_OBJECTIVE,
        actionId: 'B',
        stats: learned(0.8),
        updatedAt: now,
      },
    ]);
    await state.putActiveModel(
      {
        decisionPoint: dp,
        version: 'm1',
        cutoffBucket: 1,
        promotedAt: now,
        history: [],
        itemVersion: 1,
        updatedAt: now,
      },
      undefined,
    );
    // A uniformly logged history in which B indeed pays more.
    const rng = createRng(5);
    const lines = Array.from({ length: 2000 }, () => {
      const chosen = rng.next() < 0.5 ? 'A' : 'B';
      return JSON.stringify({
        context: {},
        actions: [{ id: 'A' }, { id: 'B' }],
        chosen,
        propensity: 0.5,
        reward: rng.next() < (chosen === 'B' ? 0.8 : 0.2) ? 1 : 0,
      });
    });
    work = mkdtempSync(join(tmpdir(), 'nba-model-target-'));
    log = join(work, 'history.jsonl');
    writeFileSync(log, `${lines.join('\n')}\n`);
  });

  afterAll(async () => {
    await stores?.emulators.close();
    rmSync(work, { recursive: true, force: true });
  });

  async function evaluate(target: string) {
    const { code, out, err } = await runCli(runEvaluate, [
      '--log',
      log,
      '--target',
      target,
      '--decision-point',
      dp,
      '--table',
      physicalName(stores.plan, 'StateTable'),
      '--json',
    ]);
    return {
      code,
      err,
      report: out ? (JSON.parse(out) as { target: string; estimates: { dr: { value: number } } }) : undefined,
    };
  }

  it('estimates the stored model’s Thompson policy, which beats uniform on this log', async () => {
    const model = await evaluate('model:m1');
    expect(model.err).toBe('');
    expect(model.code).toBe(0);
    expect(model.report!.target).toBe('model:m1');
    const uniform = await evaluate('uniform');
    expect(model.report!.estimates.dr.value).toBeGreaterThan(uniform.report!.estimates.dr.value + 0.2);
    expect(model.report!.estimates.dr.value).toBeGreaterThan(0.7);
    expect((await evaluate('model:active')).report!.target).toBe('model:m1');
  });

  it('exits 2 for a version the decision point does not have', async () => {
    const missing = await evaluate('model:m9');
    expect(missing.code).toBe(2);
    expect(missing.err).toBe(`evaluate: decision point ${dp} has no model m9\n`);
  });
});
