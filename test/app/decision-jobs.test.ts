/**
 * Specification: the worker of a decision job (shared/app/decision-jobs/decide-chunk.ts, rules 1–5), checked against
 * the API's own decision path as the reference and by invariance:
 * - every decided line's propensity is the probability `POST /v1/decisions` gives its slot-1 action for the same
 *   request at the same model (the API's ranking), its chosen actions have positive probability, and its
 *   `modelVersion` is the pinned model's;
 * - every input line is exactly one output or error line (with its number and reason), whatever the chunk size;
 * - a retried chunk writes the same output, the same lake object and no impression twice, even when something
 *   outside the model (a stage read) would now decide differently: the first attempt's decisions are kept.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBlobStore } from '../../shared/adapters/lake/memory-blob-store.ts';
import { MemoryStateStore } from '../../shared/adapters/memory/state-store.ts';
import { CatalogService } from '../../shared/app/catalog/catalog.ts';
import { DecisionService } from '../../shared/app/decide/decide.ts';
import { ModelCache, type ServingModel } from '../../shared/app/decide/model-cache.ts';
import { decideChunk, type JobErrorLine, type JobOutputLine } from '../../shared/app/decision-jobs/decide-chunk.ts';
import {
  jobKeys,
  jobLakeKey,
  newJobId,
  parseJobDecisionId,
  planChunks,
  readJobLakeObject,
} from '../../shared/app/decision-jobs/job.ts';
import { DecisionJobs } from '../../shared/app/decision-jobs/steps.ts';
import { addObservation, emptyStats } from '../../shared/core/bandit/stats.ts';
import { bucketOf } from '../../shared/core/domain.ts';
import { DependencyError } from '../../shared/core/errors.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { createRng } from '../../shared/core/random.ts';
import { candidatesOf } from '../../shared/core/schemas.ts';
import { recordingStream, statsItemOf } from '../support/records.ts';

const NOW = 1_700_000_000_000;
const ACTIONS = ['a', 'b', 'c', 'd', 'e'];

async function trainedModel(
  retired: readonly string[] = [],
): Promise<{ state: MemoryStateStore; model: ServingModel }> {
  const state = new MemoryStateStore();
  const cache = new ModelCache(state, { refreshMs: Number.POSITIVE_INFINITY, now: () => NOW });
  const catalog = new CatalogService(state, cache, () => NOW);
  await catalog.putDecisionPoint('dp', { contextDim: 8, actionDim: 4 });
  for (const id of ACTIONS) await catalog.putAction('dp', id, { features: { id } });
  const { contextDim: d } = (await state.getDecisionPoint('dp'))!.settings;
  const rng = createRng(3);
  for (const [k, id] of ACTIONS.entries()) {
    const s = emptyStats(d);
    for (let i = 0; i < 40; i++) {
      const f = rng.int(3);
      addObservation(s, encodeFeatures({ f }, d), rng.next() < (f === k % 3 ? 0.6 : 0.1) ? 1 : 0);
    }
    await state.putStats(
      statsItemOf({ actionId: id, bucket: bucketOf(NOW - 86_400_000), stats: s, at: NOW }),
      undefined,
    );
  }
  for (const id of retired) await catalog.retireAction('dp', id);
  return { state, model: await cache.get('dp') };
}

/** An input with good and bad lines; returns the text and, per line number, what it is. */
function input(rows: number): { text: string; bad: Map<number, JobErrorLine['code']> } {
  const rng = createRng(5);
  const lines: string[] = [];
  const bad = new Map<number, JobErrorLine['code']>();
  for (let i = 1; i <= rows; i++) {
    const roll = rng.next();
    if (roll < 0.04) {
      lines.push('{"userId": "broken"');
      bad.set(i, 'invalid');
    } else if (roll < 0.06) {
      lines.push(JSON.stringify({ userId: `u${i}`, candidates: ['a', 'nope'] }));
      bad.set(i, 'invalid');
    } else if (roll < 0.08) {
      lines.push(JSON.stringify({ userId: `u${i}`, exclude: ACTIONS }));
      bad.set(i, 'unprocessable');
    } else if (roll < 0.09) {
      lines.push(
        JSON.stringify({
          userId: `u${i}`,
          context: Object.fromEntries(Array.from({ length: 600 }, (_, k) => [`k${k}`, k])),
        }),
      );
      bad.set(i, 'invalid');
    } else if (roll < 0.1) {
      lines.push('');
      bad.set(i, 'invalid');
    } else {
      const slots = rng.next() < 0.2 ? 2 : 1;
      lines.push(JSON.stringify({ userId: `u${i}`, context: { f: rng.int(3) }, ...(slots > 1 ? { slots } : {}) }));
    }
  }
  return { text: `${lines.join('\n')}\n`, bad };
}

async function runJob(text: string, model: ServingModel, state: MemoryStateStore, minLines: number, jobId: string) {
  const blobs = new MemoryBlobStore();
  const bytes = Buffer.from(text);
  const { chunks, lines } = planChunks(bytes, minLines);
  const job = { jobId, decisionPoint: 'dp' };
  const deps = { blobs, state, pseudonymise: (u: string) => `p:${u}`, statsPartitions: 2, now: () => NOW };
  for (const c of chunks) {
    await decideChunk(job, c, bytes.subarray(c.start, c.end).toString(), model, deps);
  }
  const read = async (key: string) => Buffer.from((await blobs.get(key)) ?? new Uint8Array()).toString();
  const keys = jobKeys('dp', jobId);
  const output: JobOutputLine[] = [];
  const errors: JobErrorLine[] = [];
  for (const c of chunks) {
    for (const l of (await read(keys.outputPart(c.index))).split('\n').filter(Boolean)) output.push(JSON.parse(l));
    for (const l of (await read(keys.errorsPart(c.index))).split('\n').filter(Boolean)) errors.push(JSON.parse(l));
  }
  return { blobs, chunks, lines, output, errors, deps, job, bytes, read, keys };
}

describe('a decision job decides each line as the API would, once', () => {
  it('propensities are the API’s for the same request and model, and every line is one output or error line', async () => {
    const { state, model } = await trainedModel();
    const { text, bad } = input(400);
    const requests = text.split('\n');
    for (const minLines of [400, 37, 1]) {
      const { output, errors, lines, chunks } = await runJob(text, model, state, minLines, newJobId(NOW));
      expect(lines).toBe(400);
      expect(chunks.length).toBe(Math.ceil(400 / minLines));
      expect([...output.map((o) => o.line), ...errors.map((e) => e.line)].sort((a, b) => a - b)).toEqual(
        Array.from({ length: 400 }, (_, i) => i + 1),
      );
      expect(new Map(errors.map((e) => [e.line, e.code]))).toEqual(bad);
      // The reference: the API's decision path on the same model and request.
      const api = new DecisionService({
        models: { get: async () => model },
        stream: recordingStream().stream,
        rng: createRng(1),
      });
      for (const o of output) {
        const req = JSON.parse(requests[o.line - 1]!);
        expect(o.userId).toBe(req.userId);
        expect(o.modelVersion).toBe(model.version);
        expect(o.chosen.length).toBe(req.slots ?? 1);
        const reference = await api.decide({ decisionPoint: 'dp', context: {}, slots: 1, ...req });
        const p = new Map(reference.ranking.map((r) => [r.actionId, r.probability]));
        expect(o.propensity, `line ${o.line}`).toBe(p.get(o.chosen[0]!));
        // Several slots: the API's per-slot propensities for the same slate (a fresh draw per slot; the slate the
        // job drew may differ from the API's, so compare where the API chose the same slots).
        if (o.chosen.length > 1 && reference.chosen.join() === o.chosen.join())
          expect(o.slots).toEqual(reference.slots);
        expect(o.slots?.length).toBe(o.chosen.length > 1 ? o.chosen.length : undefined);
        for (const a of o.chosen) expect(p.get(a)).toBeGreaterThan(0);
        expect(parseJobDecisionId(o.decisionId)).toBeDefined();
      }
      // Not a constant answer: the learned model serves contexts differently.
      expect(new Set(output.map((o) => o.chosen[0])).size).toBeGreaterThan(2);
    }
  });

  it('its lake records name the live catalog, stored before them: each reads back with the candidates the API ranks (C4)', async () => {
    const { state, model } = await trainedModel();
    const { text } = input(200);
    const requests = text.split('\n');
    const run = await runJob(text, model, state, 50, newJobId(NOW));
    const lineOf = new Map(run.output.map((o) => [o.decisionId, o.line]));
    // Only what retraining has: the stored versions (a record's own declaration is not used here).
    const stored = await state.listCatalogVersions('dp');
    const api = new DecisionService({
      models: { get: async () => model },
      stream: recordingStream().stream,
      rng: createRng(1),
    });
    let referenced = 0;
    for (const c of run.chunks) {
      for (const r of readJobLakeObject((await run.blobs.get(jobLakeKey(run.job.jobId, c.index)))!)) {
        if (r.catalog) referenced++;
        const bare = r.catalog ? { ...r, catalog: { ...r.catalog, ids: undefined } } : r;
        const candidates = candidatesOf(bare, (dp, version) => (dp === 'dp' ? stored.get(version) : undefined));
        const req = JSON.parse(requests[lineOf.get(r.decisionId)! - 1]!);
        const reference = await api.decide({ decisionPoint: 'dp', context: {}, slots: 1, ...req });
        expect(candidates?.sort(), r.decisionId).toEqual(reference.ranking.map((e) => e.actionId).sort());
      }
    }
    expect(referenced).toBeGreaterThan(run.output.length / 2);
  });

  it('a retried chunk writes the same output and lake object and counts no impression twice', async () => {
    const { state, model } = await trainedModel();
    const { text } = input(120);
    const before = await state.listStats('dp');
    const impressions = async () =>
      (await state.listStats('dp')).reduce((n, s) => n + s.stats.n, 0) - before.reduce((n, s) => n + s.stats.n, 0);
    const run = await runJob(text, model, state, 50, newJobId(NOW));
    const first = await Promise.all(run.chunks.map((c) => run.read(run.keys.outputPart(c.index))));
    const lake = await Promise.all(run.chunks.map((c) => run.blobs.get(jobLakeKey(run.job.jobId, c.index))));
    const shown = run.output.reduce((n, o) => n + o.chosen.length, 0);
    expect(await impressions()).toBe(shown);
    // Retries; one of them where no row could be decided any more (a model with every action retired stands for
    // anything read per row that changed since, e.g. a user's stage): the first attempt's decisions stay.
    const other = (await trainedModel(ACTIONS)).model;
    for (const retryModel of [model, other]) {
      for (const c of run.chunks) {
        await decideChunk(run.job, c, run.bytes.subarray(c.start, c.end).toString(), retryModel, run.deps);
      }
    }
    expect(await Promise.all(run.chunks.map((c) => run.read(run.keys.outputPart(c.index))))).toEqual(first);
    expect(await Promise.all(run.chunks.map((c) => run.blobs.get(jobLakeKey(run.job.jobId, c.index))))).toEqual(lake);
    expect((await run.blobs.list('lake/')).length).toBe(run.chunks.length);
    expect(await impressions()).toBe(shown);
  });
});

describe('starting a decision job', () => {
  it('leaves no job running when its execution could not be started', async () => {
    const { state, model } = await trainedModel();
    const blobs = new MemoryBlobStore();
    const jobs = new DecisionJobs({
      blobs,
      bucket: 'lake',
      inputs: { size: async () => 100, read: async () => new Uint8Array() },
      models: { get: async () => model },
      state,
      pseudonymise: async () => (u: string) => u,
      statsPartitions: 1,
      executions: {
        starter: {
          start: async () => {
            throw new DependencyError('Step Functions is unavailable');
          },
        },
        stateMachineArn: 'arn:jobs',
      },
      now: () => NOW,
    });
    await expect(jobs.create('dp', 's3://lake/users.jsonl')).rejects.toThrow(/unavailable/);
    const [status] = await blobs.list('decision-jobs/dp/');
    const job = JSON.parse(Buffer.from((await blobs.get(status!.key))!).toString());
    expect(job).toMatchObject({ status: 'failed', error: 'the job could not be started' });
  });
});
