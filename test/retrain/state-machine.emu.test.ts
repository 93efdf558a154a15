/**
 * The retraining state machine as CDK synthesises it: assertions on the definition and the resources around it, then
 * end-to-end runs of that very definition through aws-local-stepfunctions, against the DynamoDB emulator and a lake
 * folder: a degraded candidate is rejected, a better one promoted, a later one rolled back, a broken lake recorded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticActionFeatures, syntheticActionIds, syntheticLog } from '../../bench/retrain/synthetic-log.ts';
import { parseStackConfig } from '../../cdk/config.ts';
import { RETRAIN_STATES as S } from '../../cdk/constructs/retraining.ts';
import { NbaEngineStack } from '../../cdk/nba-engine-stack.ts';
import {
  extractRetrainDefinition,
  type LocalRetrainResult,
  localizeDefinition,
  type Resources,
  runLocalRetrain,
  type SynthesizedRetrain,
} from '../../local/retrain.ts';
import { FsBlobStore } from '../../shared/adapters/lake/fs-blob-store.ts';
import { AuditTrail } from '../../shared/app/audit/audit-trail.ts';
import { DecisionService } from '../../shared/app/decide/decide.ts';
import { ModelCache } from '../../shared/app/decide/model-cache.ts';
import { NothingToRollBackError } from '../../shared/app/retrain/errors.ts';
import { writeLakeBatch } from '../../shared/app/retrain/lake.ts';
import { rollbackModel } from '../../shared/app/retrain/promote.ts';
import type { RunInput } from '../../shared/app/retrain/run-context.ts';
import { emptyStats } from '../../shared/core/bandit/stats.ts';
import { DEFAULT_OBJECTIVE, type PriorScale } from '../../shared/core/domain.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import {
  DEFAULT_EXPLORATION_SCALE,
  ServingScores,
  scoreServingPolicy,
} from '../../shared/core/policy/serving-policy.ts';
import { createRng } from '../../shared/core/random.ts';
import { type DecisionRecord, decisionPointSettingsSchema } from '../../shared/core/schemas.ts';
import { catalogResolver } from '../support/catalog-resolver.ts';
import { startTestStores, type TestStores } from '../support/emulators.ts';
import { recordingStream, statsItemOf } from '../support/records.ts';
import { DAY, T0 } from './support.ts';

const D0 = T0 / DAY;
const PER_DAY = 4000;
const iso = (ms: number) => new Date(ms).toISOString();

type StatesMap = Record<string, Record<string, unknown>>;
function allStates(states: StatesMap, out: [string, Record<string, unknown>][] = []) {
  for (const [name, state] of Object.entries(states)) {
    out.push([name, state]);
    const inner = state.ItemProcessor as { States?: StatesMap } | undefined;
    if (inner?.States) allStates(inner.States, out);
  }
  return out;
}

describe('retraining state machine', () => {
  let outdir: string;
  let lakeDir: string;
  let stack: NbaEngineStack;
  let template: Template;
  let synth: SynthesizedRetrain;
  let stores: TestStores;
  let blobs: FsBlobStore;
  const states = () => synth.definition.States as unknown as StatesMap;

  beforeAll(async () => {
    outdir = mkdtempSync(join(tmpdir(), 'nba-retrain-cdk-'));
    lakeDir = mkdtempSync(join(tmpdir(), 'nba-retrain-lake-'));
    const app = new App({
      outdir,
      context: { 'aws:cdk:bundling-stacks': [], retrainDecisionPoints: 'homepage,checkout' },
    });
    stack = new NbaEngineStack(
      app,
      'NbaEngine',
      parseStackConfig((key) => app.node.tryGetContext(key)),
    );
    template = Template.fromStack(stack);
    synth = extractRetrainDefinition(stack, template.toJSON().Resources as Resources);
    stores = await startTestStores();
    blobs = new FsBlobStore(lakeDir);
  });

  afterAll(async () => {
    await stores?.emulators.close();
    rmSync(outdir, { recursive: true, force: true });
    rmSync(lakeDir, { recursive: true, force: true });
  });

  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as CfnElement);

  describe('the synthesised definition', () => {
    it('maps the partitions with a DISTRIBUTED Map reading the plan’s S3 manifest, tolerating a share of failed items', () => {
      const map = states()[S.map]!;
      expect(map).toMatchObject({
        Type: 'Map',
        ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'EXPRESS' } },
        ToleratedFailurePercentage: 10,
        MaxConcurrency: 100,
        ItemReader: {
          Resource: 'arn:aws:states:::s3:getObject',
          ReaderConfig: { InputType: 'JSON' },
          Parameters: { 'Key.$': '$.plan.manifestKey' },
        },
        ItemSelector: { 'run.$': '$.run', 'item.$': '$$.Map.Item.Value' },
        ResultWriter: expect.anything(),
        ResultPath: null,
      });
      expect(synth.definition.StartAt).toBe(S.plan);
      expect(states()[S.plan]!.Next).toBe(S.map);
      expect(map.Next).toBe(S.joinMap);
    });

    it('then joins each user bucket with a DISTRIBUTED Map over the plan’s buckets, before Reduce', () => {
      expect(states()[S.joinMap]).toMatchObject({
        Type: 'Map',
        ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'EXPRESS' } },
        ToleratedFailurePercentage: 10,
        ItemsPath: '$.plan.buckets',
        ItemSelector: { 'run.$': '$.run', 'bucket.$': '$$.Map.Item.Value' },
        ResultPath: null,
        Next: S.reduce,
      });
    });

    it('retries every task on transient and Lambda service errors, and routes each failure after the plan to Record', () => {
      const tasks = allStates(states()).filter(([, s]) => s.Type === 'Task');
      expect(tasks.map(([n]) => n).sort()).toEqual(
        [S.plan, S.worker, S.joinWorker, S.reduce, S.fit, S.evaluate, S.promote, S.record].sort(),
      );
      for (const [name, task] of tasks) {
        const errors = (task.Retry as { ErrorEquals: string[] }[]).flatMap((r) => r.ErrorEquals);
        expect(errors, name).toEqual(expect.arrayContaining(['RetrainTransientError', 'Lambda.ServiceException']));
        expect(task.Resource, name).toBe('arn:aws:states:::lambda:invoke');
      }
      for (const name of [S.map, S.joinMap, S.reduce, S.fit, S.evaluate, S.promote]) {
        expect(states()[name]!.Catch, name).toEqual([
          { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: S.record },
        ]);
      }
      expect(states()[S.gate]).toMatchObject({
        Type: 'Choice',
        Choices: [{ Variable: '$.evaluation.promote', BooleanEquals: true, Next: S.promote }],
        Default: S.record,
      });
      expect(states()[S.outcome]).toMatchObject({
        Choices: [{ Variable: '$.error', IsPresent: true, Next: S.failed }],
      });
    });

    it('locally, only the map’s reader and writer change: items come inline from the plan', () => {
      const local = localizeDefinition(synth.definition);
      const map = (local.States as unknown as StatesMap)[S.map]!;
      expect(map.ItemReader).toBeUndefined();
      expect(map.ResultWriter).toBeUndefined();
      expect(map.ItemsPath).toBe('$.plan.localItems');
      const { ItemReader: _r, ResultWriter: _w, ...rest } = states()[S.map]!;
      expect({ ...map, ItemsPath: undefined }).toEqual({ ...rest, ItemsPath: undefined });
    });

    it('writes the lake with Firehose: GZIP JSON lines, partitioned by kind and record hour, into a TLS-only bucket', () => {
      template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
        DeliveryStreamType: 'KinesisStreamAsSource',
        KinesisStreamSourceConfiguration: { KinesisStreamARN: { 'Fn::GetAtt': [id(stack.eventStream), 'Arn'] } },
        ExtendedS3DestinationConfiguration: {
          CompressionFormat: 'GZIP',
          Prefix:
            'lake/kind=!{partitionKeyFromQuery:kind}/dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/',
          DynamicPartitioningConfiguration: { Enabled: true },
          ProcessingConfiguration: {
            Enabled: true,
            Processors: [
              Match.objectLike({ Type: 'MetadataExtraction' }),
              Match.objectLike({ Type: 'AppendDelimiterToRecord' }),
            ],
          },
        },
      });
      template.hasResource('AWS::S3::Bucket', {
        DeletionPolicy: 'Retain',
        Properties: Match.objectLike({
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
          },
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            BlockPublicPolicy: true,
            IgnorePublicAcls: true,
            RestrictPublicBuckets: true,
          },
        }),
      });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id(stack.retraining.lakeBucket) },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    });

    it('starts one run per scheduled decision point with that decision point as input', () => {
      const rules = Object.values(template.findResources('AWS::Events::Rule'));
      expect(rules).toHaveLength(2);
      const inputs = rules.map((r) => JSON.parse(r.Properties.Targets[0].Input));
      expect(inputs).toEqual(expect.arrayContaining([{ decisionPoint: 'homepage' }, { decisionPoint: 'checkout' }]));
      for (const r of rules) {
        expect(r.Properties.ScheduleExpression).toBe('rate(1 day)');
        expect(r.Properties.Targets[0].Arn).toEqual({ Ref: id(stack.retraining.stateMachine) });
      }
    });

    it('lets only the steps function write the state table; the map worker never touches it', () => {
      const policies = Object.values(template.findResources('AWS::IAM::Policy'));
      const statementsOf = (fn: typeof stack.retraining.workerFunction) => {
        const role = stack.getLogicalId(fn.role?.node.defaultChild as CfnElement);
        return policies
          .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${role}"`))
          .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
      };
      const onTable = (fn: typeof stack.retraining.workerFunction) =>
        statementsOf(fn)
          .filter((s) => JSON.stringify(s.Resource).includes(`"${id(stack.stateTable)}"`))
          .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
      expect(onTable(stack.retraining.workerFunction)).toEqual([]);
      expect(onTable(stack.retraining.stepsFunction)).toEqual(expect.arrayContaining(['dynamodb:PutItem']));
    });
  });

  describe('run locally through that definition', () => {
    const dp = 'homepage';
    const input = (over: Partial<RunInput> = {}): RunInput => ({ decisionPoint: dp, ...over });
    const run = (i: RunInput, name: string, asOfDay: number): Promise<LocalRetrainResult> =>
      runLocalRetrain(
        { asOf: iso(asOfDay * DAY + 2 * 3_600_000), ...i },
        { blobs, state: stores.state, erasures: stores.erasures, audit: new AuditTrail(stores.audit) },
        { executionName: name, synth },
      );
    const writeDays = async (from: number, days: number, seed: number, store = blobs) => {
      for (const { hourStart, lines } of syntheticLog({
        decisionPoint: dp,
        startMs: from * DAY,
        days,
        perDay: PER_DAY,
        contextDim: 4,
        actionDim: 2,
        skew: 0.8,
        seed,
        duplicateShare: 0.02,
      })) {
        await writeLakeBatch(store, lines, `synthetic-${seed}-${hourStart}`);
      }
    };
    const serving = () => new ModelCache(stores.state, { refreshMs: 0 }).get(dp);
    const meanContext = () => {
      const sum = [0, 0, 0, 0];
      let n = 0;
      for (const { lines } of syntheticLog({
        decisionPoint: dp,
        startMs: T0,
        days: 1,
        perDay: PER_DAY,
        contextDim: 4,
        actionDim: 2,
        skew: 0.8,
        seed: 1,
      })) {
        for (const line of lines) {
          const r = JSON.parse(line) as { kind: string; x?: number[] };
          if (r.kind !== 'decision') continue;
          r.x!.forEach((v, i) => {
            sum[i]! += v;
          });
          n++;
        }
      }
      return sum.map((v) => v / n);
    };
    /**
     * Days D0..D2 logged over A and B at random, C shown on three decisions only; day D3 (held out) logged uniformly
     * over A, B and C. Clicks: A 0.3, B 0.2, C 0.6, whatever the context.
     */
    const scaleWorldLog = (decisionPoint: string): string[] => {
      const rng = createRng(21);
      const ids = ['A', 'B', 'C'];
      const click: Record<string, number> = { A: 0.3, B: 0.2, C: 0.6 };
      const lines: string[] = [];
      const devices = ['mobile', 'desktop', 'tablet'];
      for (let day = 0; day < 4; day++) {
        for (let i = 0; i < 1000; i++) {
          const heldOut = day === 3;
          const chosen = heldOut ? rng.int(3) : i < 3 && day === 0 ? 2 : rng.int(2);
          const id = ids[chosen]!;
          const at = (D0 + day) * DAY + 60_000 * (i + 1);
          const context = { device: devices[rng.int(3)]!, region: `r${rng.int(5)}`, score: rng.next() };
          const decisionId = `s${day}-${i}`;
          lines.push(
            JSON.stringify({
              kind: 'decision',
              v: 1,
              decisionId,
              decisionPoint,
              userId: `u-${decisionId}`,
              at,
              context,
              x: Array.from(encodeFeatures(context, 4)),
              candidates: ids,
              chosen: [id],
              chosenFeatures: [Array.from(encodeFeatures({ kind: id }, 2))],
              // The training days' logger: C on three fixed decisions, else A or B at random (1/2 each).
              propensity: heldOut ? 1 / 3 : chosen === 2 ? 1 : 0.5,
              modelVersion: 'logger',
              attributionWindowSeconds: 3600,
              rewards: {},
            }),
          );
          if (rng.next() < click[id]!) {
            lines.push(
              JSON.stringify({
                kind: 'event',
                v: 1,
                event: { eventId: `e-${decisionId}`, userId: `u-${decisionId}`, decisionId, type: 'click' },
                receivedAt: at + 1000,
              }),
            );
          }
        }
      }
      return lines;
    };
    let v1 = '';
    let scale1 = Number.NaN;
    let prior1: PriorScale | undefined;

    /**
     * A new decision's logged propensity is the serving policy's probability of its slot-1 action under `scale`
     * (given explicitly here, so the check does not rest on how the cache passes the learned scale on), and the
     * serving model carries that scale as learned.
     */
    const expectDecisionsServedWith = async (scale: number | undefined, at = dp, notAt?: number) => {
      const models = new ModelCache(stores.state, { refreshMs: 0 });
      const model = await models.get(at);
      expect(model.learned?.scale).toBe(scale);
      const { records, stream } = recordingStream();
      const service = new DecisionService({
        models,
        stream,
        rng: createRng(5),
      });
      const settings = model.decisionPoint.settings;
      const scores = new ServingScores();
      const candidatesOf = catalogResolver();
      const probabilityAt = (r: DecisionRecord, s: number) => {
        const candidates = candidatesOf(r);
        const idx = Int32Array.from(candidates, (id) => model.posterior.index.get(id)!);
        const served = { ...settings, exploration: { ...settings.exploration, scale: s } };
        scoreServingPolicy(model, served, Float64Array.from(r.x), idx, scores);
        return scores.probability[candidates.indexOf(r.chosen[0]!)]!;
      };
      const devices = ['mobile', 'desktop', 'tablet'];
      for (let i = 0; i < 10; i++) {
        // Contexts like the synthetic log's, so the model is neither sure nor blind about them.
        const context = { device: devices[i % 3]!, region: `r${i % 5}`, age: 20 + 4 * i, score: i / 10 };
        await service.decide({ decisionPoint: at, userId: `u-scale-${i}`, context, slots: 1 });
      }
      expect(records).toHaveLength(10);
      for (const r of records)
        expect(r.propensity).toBeCloseTo(probabilityAt(r, scale ?? DEFAULT_EXPLORATION_SCALE), 9);
      // And not the propensities of another scale: the check tells the two apart.
      if (notAt !== undefined) {
        expect(Math.max(...records.map((r) => Math.abs(r.propensity - probabilityAt(r, notAt))))).toBeGreaterThan(1e-4);
      }
    };

    beforeAll(async () => {
      const now = Date.now();
      await stores.state.putDecisionPoint(
        {
          decisionPoint: dp,
          settings: decisionPointSettingsSchema.parse({ contextDim: 4, actionDim: 2 }),
          createdAt: now,
          updatedAt: now,
          version: 1,
        },
        undefined,
      );
      for (const actionId of syntheticActionIds()) {
        await stores.state.putAction(
          {
            decisionPoint: dp,
            actionId,
            features: syntheticActionFeatures(actionId),
            status: 'live',
            createdAt: now,
            updatedAt: now,
            version: 1,
          },
          undefined,
        );
      }
      // Days D0..D3 are trainable as of D4 02:00; D4 is "today" and already in the lake, but after the cutoff.
      await writeDays(D0, 5, 1);
    });

    it('rejects a degraded candidate (no importance weighting on a confounded log) and leaves serving as it was', async () => {
      const r = await run(input({ weighting: 'none' }), 'degraded', D0 + 4);
      expect(r.status).toBe('SUCCEEDED');
      const ctx = r.output!;
      expect(ctx.report?.outcome).toBe('rejected');
      expect(r.states).not.toContain(S.promote);
      expect(r.states).toEqual(
        expect.arrayContaining([S.plan, S.map, S.worker, S.reduce, S.fit, S.evaluate, S.record]),
      );
      // Cutoff: only D0..D3 were fitted (D4 is left to the online statistics), duplicates counted once.
      expect(ctx.run.cutoffBucket).toBe(D0 + 4);
      expect(ctx.fit!.trainDecisions + ctx.fit!.holdoutDecisions).toBe(4 * PER_DAY);
      expect(ctx.fit!.holdoutDecisions).toBe(PER_DAY);
      expect(ctx.reduce!.counters.duplicateDecisions).toBeGreaterThan(0);
      expect(ctx.evaluation!.candidate.lowerBound!).toBeLessThan(ctx.evaluation!.current.estimate!.value);
      expect(ctx.evaluation!.reasons.join(' ')).toMatch(/lower bound .* is below the current model's estimated value/);
      expect(await stores.state.getActiveModel(dp)).toBeUndefined();
      const [summary] = await stores.state.listEvaluations(dp, 10);
      expect(summary).toMatchObject({ runId: 'degraded', outcome: 'rejected' });
      const html = Buffer.from((await blobs.get(summary!.htmlKey))!).toString('utf8');
      expect(html).toContain('<svg');
      expect(html).toContain('rejected');
    });

    it('promotes the importance-weighted candidate: base statistics under a new version, ACTIVE cut at the first untrained day', async () => {
      const r = await run(input(), 'weighted', D0 + 4);
      expect(r.status).toBe('SUCCEEDED');
      const ctx = r.output!;
      expect(ctx.report?.outcome).toBe('promoted');
      expect(r.states).toContain(S.promote);
      expect(ctx.evaluation!.candidate.lowerBound!).toBeGreaterThanOrEqual(ctx.evaluation!.current.estimate!.value);
      v1 = ctx.run.version;
      const active = await stores.state.getActiveModel(dp);
      expect(active).toMatchObject({ version: v1, cutoffBucket: D0 + 4, history: [] });
      // The audit trail has the promotion (and only it: the rejected run changed nothing), made by the retraining.
      expect((await stores.audit.list({ limit: 10, decisionPoint: dp })).entries).toEqual([
        {
          id: `retrain.${ctx.run.runId}`,
          at: active!.promotedAt,
          system: 'retraining',
          action: 'model.promote',
          route: 'retraining promote',
          decisionPoint: dp,
          target: v1,
          result: 'ok',
          status: 200,
          settledAt: expect.any(Number),
        },
      ]);
      const base = (await stores.state.loadChanges(dp, 0)).baseStats.filter((b) => b.version === v1);
      expect(base.map((b) => `${b.objective}/${b.actionId}`).sort()).toEqual(['default/A', 'default/B']);

      // The settings leave the scale and both λs out: the run searched a cross through what served (the default
      // scale, the learned λs): every other scale, then every other multiplier pair on the learned λs (each λ alone
      // ×1/10 and ×10), and promoted the point it certified.
      const choice = ctx.evaluation!.exploration!;
      expect(choice).toMatchObject({
        source: 'search',
        currentScale: DEFAULT_EXPLORATION_SCALE,
        currentPriorScale: { shared: 1, action: 1 },
      });
      expect(choice.grid.map((g) => [g.priorScale!.shared, g.priorScale!.action, g.scale])).toEqual([
        [1, 1, 0.02],
        [1, 1, 0.005],
        [1, 1, 0.1],
        [1, 1, 1],
        [0.1, 1, 0.02],
        [10, 1, 0.02],
        [1, 0.1, 0.02],
        [1, 10, 0.02],
      ]);
      // Promoted with the scale and multipliers it was certified at and the λs the run learned on its statistics.
      expect(active!.settings).toEqual({
        scale: choice.scale,
        priorScale: choice.priorScale,
        priors: ctx.evaluation!.fits,
      });
      scale1 = choice.scale;
      prior1 = choice.priorScale;
      const [recorded] = await stores.state.listEvaluations(dp, 1);
      expect(recorded!.exploration).toEqual(choice);
      const page = Buffer.from((await blobs.get(recorded!.htmlKey))!).toString('utf8');
      expect(page).toContain('Serving settings chosen offline');
      expect(page).toContain('(chosen)');
      await expectDecisionsServedWith(scale1);

      // Serving = the promoted base + online statistics from its cutoff on; earlier online days are the base's.
      const onlineItem = (bucket: number, n: number) => {
        const stats = emptyStats(4);
        stats.n = n;
        stats.sxx[0] = n;
        return statsItemOf({ decisionPoint: dp, actionId: 'A', bucket, stats, at: Date.now() });
      };
      await stores.state.putStats(onlineItem(D0 + 3, 1000), undefined);
      await stores.state.putStats(onlineItem(D0 + 4, 7), undefined);
      const model = await serving();
      expect(model.version.startsWith(`${v1}+`)).toBe(true);
      const baseA = base.find((b) => b.actionId === 'A')!.stats.n;
      expect(model.stats.get('A')!.stats.n).toBeCloseTo(baseA + 7, 9);
      // The ranking the confounded log hides: over the population's average context, B scores above A.
      const post = model.posterior;
      const xbar = meanContext();
      const score = (a: string) => xbar.reduce((s, v, i) => s + v * post.w[post.index.get(a)! * 4 + i]!, 0);
      expect(score('B')).toBeGreaterThan(score('A'));
    });

    it('rollback restores the previous version, and the serving model follows', async () => {
      await writeDays(D0 + 5, 1, 2);
      const r = await run(input({ tolerance: 0.5 }), 'next-day', D0 + 5);
      expect(r.output?.report?.outcome).toBe('promoted');
      const v2 = r.output!.run.version;
      expect((await stores.audit.list({ limit: 1, action: 'model.promote' })).entries).toMatchObject([
        { target: v2, detail: { previousVersion: v1 }, result: 'ok' },
      ]);
      const scale2 = r.output!.evaluation!.exploration!.scale;
      const prior2 = r.output!.evaluation!.exploration!.priorScale;
      expect(r.output!.evaluation!.exploration!.currentScale).toBe(scale1); // judged against what served
      expect(r.output!.evaluation!.exploration!.currentPriorScale).toEqual(prior1);
      expect(await stores.state.getActiveModel(dp)).toMatchObject({
        version: v2,
        cutoffBucket: D0 + 5,
        settings: { scale: scale2, priorScale: prior2 },
        history: [{ version: v1, cutoffBucket: D0 + 4, settings: { scale: scale1, priorScale: prior1 } }],
      });
      const before = await serving();
      expect(before.version.startsWith(`${v2}+`)).toBe(true);
      await expectDecisionsServedWith(scale2);

      const { active, rolledBack } = await rollbackModel(stores.state, dp);
      expect(rolledBack).toBe(v2);
      expect(active).toMatchObject({
        version: v1,
        cutoffBucket: D0 + 4,
        settings: { scale: scale1, priorScale: prior1 },
        history: [],
      });
      const after = await serving();
      expect(after.version.startsWith(`${v1}+`)).toBe(true);
      await expectDecisionsServedWith(scale1);
      const baseA = (await stores.state.loadChanges(dp, 0)).baseStats.find(
        (b) => b.version === v1 && b.actionId === 'A',
      )!;
      // Back to v1's base plus the online statistics from v1's cutoff (the 7 impressions of day D0+4).
      expect(after.stats.get('A')!.stats.n).toBeCloseTo(baseA.stats.n + 7, 9);
      expect(after.stats.get('A')!.stats.n).not.toBeCloseTo(before.stats.get('A')!.stats.n, 3);

      // Past the first promoted model: online-only serving, i.e. no base and the online statistics of every day
      // (1000 impressions of day D0+3 and 7 of D0+4, as written above), as before any promotion.
      const online = (await stores.state.listStats(dp))
        .filter((s) => s.actionId === 'A' && s.objective === DEFAULT_OBJECTIVE)
        .reduce((n, s) => n + s.stats.n, 0);
      expect(online).toBe(1007);
      const back = await rollbackModel(stores.state, dp);
      expect(back).toMatchObject({ rolledBack: v1, active: { version: 'online', cutoffBucket: 0, history: [] } });
      expect(back.active.settings).toBeUndefined();
      const onlineOnly = await serving();
      expect(onlineOnly.version.startsWith('online+')).toBe(true);
      await expectDecisionsServedWith(undefined); // no scale chosen yet: 1, as before any promotion
      expect(onlineOnly.stats.get('A')!.stats.n).toBeCloseTo(online, 9);
      await expect(rollbackModel(stores.state, dp)).rejects.toBeInstanceOf(NothingToRollBackError);
    });

    // A world where the settings matter: A and B were shown to everyone (covered: a quarter of their variance), C,
    // the best, only three times before the held-out day (too few to be covered, its posterior wide), so how often C
    // is tried depends on the Thompson scale and on how far C's own effect may stray from the shared prediction
    // (λa). Each variant leaves one axis to the search, so the point it promotes differs from what served on that
    // axis, and each check can tell the promoted setting from the default.
    for (const variant of [
      // The λs given, λa strong (C's own effect shrunk towards the shared prediction, so C looks like A and B and
      // only wider draws try it): the scale is searched.
      { axis: 'scale', at: 'checkout', settings: { priors: { lambdaShared: 1.7, lambdaAction: 1000 } } },
      // The scale given (the default's value): the multipliers on the learned λs are searched. The evidence's λa
      // (about 13 here) shrinks C, seen three times, too hard for these held-out days: λa × 1/10 nearly doubles the
      // estimated value (0.35 → 0.62), which the search finds.
      { axis: 'priors', at: 'checkout-priors', settings: { exploration: { scale: DEFAULT_EXPLORATION_SCALE } } },
    ] as const) {
      it(`settings chosen offline serve (${variant.axis}): promoted with their model, used by decide, undone by rollback`, async () => {
        const { at } = variant;
        const lake = new FsBlobStore(mkdtempSync(join(tmpdir(), 'nba-retrain-scale-')));
        try {
          const now = Date.now();
          const settings = decisionPointSettingsSchema.parse({ contextDim: 4, actionDim: 2, ...variant.settings });
          await stores.state.putDecisionPoint(
            { decisionPoint: at, settings, createdAt: now, updatedAt: now, version: 1 },
            undefined,
          );
          for (const actionId of ['A', 'B', 'C']) {
            await stores.state.putAction(
              {
                decisionPoint: at,
                actionId,
                features: { kind: actionId },
                status: 'live',
                createdAt: now,
                updatedAt: now,
                version: 1,
              },
              undefined,
            );
          }
          await writeLakeBatch(lake, scaleWorldLog(at), 'scale-world');
          // A container that served (and fitted its λs) before the promotion.
          const warm = new ModelCache(stores.state, { refreshMs: 0 });
          await warm.get(at);
          const r = await runLocalRetrain(
            // A tolerance, as a thousand held-out decisions cannot certify the gain over uniform serving at δ/4: the
            // gate's power is another test's subject, this one follows the scale.
            { decisionPoint: at, asOf: iso((D0 + 4) * DAY + 7_200_000), tolerance: 0.1 },
            { blobs: lake, state: stores.state, erasures: stores.erasures },
            { executionName: 'scale', synth },
          );
          expect(r.output?.report?.outcome).toBe('promoted');
          const choice = r.output!.evaluation!.exploration!;
          const bounds = choice.grid.map((g) => g.lowerBound!);
          const top = choice.grid[bounds.indexOf(Math.max(...bounds))]!;
          expect([choice.scale, choice.priorScale]).toEqual([top.scale, top.priorScale]);
          // The search moved along its axis, away from what served before any run.
          if (variant.axis === 'scale') expect(choice.scale).not.toBe(DEFAULT_EXPLORATION_SCALE);
          else expect(choice.priorScale).not.toEqual({ shared: 1, action: 1 });
          // The gate judged the candidate at that point.
          expect(r.output!.evaluation!.candidate.lowerBound).toBe(Math.max(...bounds));
          // Promoted with what was searched only: a setting the decision point gives is not stored.
          const stored = (await stores.state.getActiveModel(at))!.settings!;
          if (variant.axis === 'scale') expect([stored.scale, stored.priorScale]).toEqual([choice.scale, undefined]);
          else expect([stored.scale, stored.priorScale]).toEqual([undefined, choice.priorScale]);
          // The λs the run learned on the model's statistics are promoted with it, and every container serves them at
          // once, times the promoted multipliers, whatever it held before: the served model does not depend on a
          // container's history.
          const promoted = (await stores.state.getActiveModel(at))!.settings!.priors!.default!;
          expect(promoted).toEqual(r.output!.evaluation!.fits!.default);
          expect(promoted.n).toBeGreaterThan(0);
          const cold = await new ModelCache(stores.state, { refreshMs: 0 }).get(at);
          const warmAfter = await warm.get(at);
          for (const served of [cold, warmAfter]) {
            expect(served.fits!.get(DEFAULT_OBJECTIVE)).toMatchObject(promoted);
            if (variant.axis === 'priors') {
              expect(served.posterior.priors.lambdaShared).toBe(promoted.lambdaShared * choice.priorScale!.shared);
              expect(served.posterior.priors.lambdaAction).toBe(promoted.lambdaAction * choice.priorScale!.action);
            }
          }
          // The promoted model learned C from the held-out day too; a new action is cold, never covered, its
          // posterior wide, so how often it is tried, and with it every propensity, depends clearly on the scale.
          await stores.state.putAction(
            {
              decisionPoint: at,
              actionId: 'N',
              features: { kind: 'N' },
              status: 'live',
              createdAt: now,
              updatedAt: Date.now(),
              version: 1,
            },
            undefined,
          );
          if (variant.axis === 'scale') await expectDecisionsServedWith(choice.scale, at, DEFAULT_EXPLORATION_SCALE);
          else await expectDecisionsServedWith(undefined, at); // the settings' scale, with the multiplied λs checked above

          // Rolled back past it: online-only serving, no scale chosen, so the default (0.02, one objective) again. The online learner is given what the
          // model learned, so the two scales serve differently and the check can tell them apart.
          const version = r.output!.run.version;
          for (const b of (await stores.state.loadChanges(at, 0)).baseStats.filter((x) => x.version === version)) {
            const item = {
              decisionPoint: at,
              objective: b.objective,
              actionId: b.actionId,
              bucket: D0 + 3,
              partition: 0,
              slot: 1,
            };
            await stores.state.putStats(
              {
                ...item,
                stats: b.stats,
                counters: { rewardEvents: 0, lateEvents: 0 },
                highWaterMarks: {},
                version: 1,
                updatedAt: Date.now(),
                lastLearnedAt: Date.now(),
              },
              undefined,
            );
          }
          const back = await rollbackModel(stores.state, at);
          expect(back.active.settings).toBeUndefined();
          if (variant.axis === 'scale') await expectDecisionsServedWith(undefined, at, choice.scale);
          else {
            // The learned λs as they are again: the posterior is built with the fits, not multiplied.
            const after = await new ModelCache(stores.state, { refreshMs: 0 }).get(at);
            const fit = after.fits!.get(DEFAULT_OBJECTIVE)!;
            expect(after.learned?.priorScale).toBeUndefined();
            expect([after.posterior.priors.lambdaShared, after.posterior.priors.lambdaAction]).toEqual([
              fit.lambdaShared,
              fit.lambdaAction,
            ]);
          }
        } finally {
          rmSync(lake.root, { recursive: true, force: true });
        }
      });
    }

    it('retries a worker that keeps failing, then records the failed run and fails', async () => {
      const broken = new FsBlobStore(mkdtempSync(join(tmpdir(), 'nba-retrain-broken-')));
      try {
        await writeDays(D0, 1, 3, broken);
        await broken.put(
          `lake/kind=decision/dt=${iso(T0).slice(0, 10)}/hour=05/corrupt.jsonl.gz`,
          new Uint8Array([0x1f, 0x8b, 1, 2, 3]),
        );
        const activeBefore = await stores.state.getActiveModel(dp);
        const r = await runLocalRetrain(
          { decisionPoint: dp, asOf: iso((D0 + 2) * DAY + 7_200_000) },
          { blobs: broken, state: stores.state, erasures: stores.erasures },
          { executionName: 'broken-lake', synth },
        );
        expect(r.status).toBe('FAILED');
        expect(r.retries[S.worker]).toBe(3);
        expect(r.states.slice(-3)).toEqual([S.record, S.outcome, S.failed]);
        const [summary] = await stores.state.listEvaluations(dp, 1);
        expect(summary).toMatchObject({ runId: 'broken-lake', outcome: 'failed' });
        expect(summary!.reasons.join(' ')).toMatch(/the run failed: RetrainTransientError/);
        expect(await stores.state.getActiveModel(dp)).toEqual(activeBefore);
      } finally {
        rmSync(broken.root, { recursive: true, force: true });
      }
    });
  });
});
