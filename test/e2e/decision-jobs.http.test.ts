/**
 * Decision jobs through the local stack (issue 18, items 1–3), by a real HTTP client, with the state machine CDK
 * synthesises run by the twin's Step Functions and every step calling the job function under its role:
 * - `POST …/decision-jobs` with an input in the lake bucket → 202 and a job id; the job succeeds; its output has one
 *   line per good input line and its errors one line per bad one (number and reason); decided + rejected = lines;
 * - each output line's propensity is what `POST /v1/decisions` gives that action for the same request at the job's
 *   model version (the API's ranking is the reference);
 * - the job's decisions are learned like API decisions: their impressions once, feedback naming them once (sent
 *   twice), an unknown job decision id dead-lettered at once; the decisions' lake objects reach the lake folder;
 * - an input that is missing, empty or in a bucket the engine may not read is a 400 naming the problem.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { LAKE_BUCKET, physicalName } from '../../local/twin/template.ts';
import { type Api, apiClient, modelTotals, waitFor } from '../support/http.ts';

process.env.NBA_LOG_LEVEL = 'silent';
let stack: LocalStack;
let api: Api;
let lakeDir: string;
let bucket: string;
const DP = 'campaign';
const ACTIONS = ['spring', 'summer', 'autumn', 'winter'];
const LINES = 1200;

const totals = async () => {
  const { impressions, rewardEvents } = await modelTotals(api, DP);
  return { impressions, rewardEvents };
};

async function put(key: string, body: string) {
  await stack.emulators.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}
async function readFolder(url: string): Promise<Record<string, unknown>[]> {
  const prefix = url.replace(`s3://${bucket}/`, '');
  const listed = await stack.emulators.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  const out: Record<string, unknown>[] = [];
  for (const o of listed.Contents ?? []) {
    const got = await stack.emulators.s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }));
    const text = await got.Body!.transformToString();
    for (const line of text.split('\n')) if (line) out.push(JSON.parse(line));
  }
  return out;
}

beforeAll(async () => {
  lakeDir = mkdtempSync(join(tmpdir(), 'nba-jobs-lake-'));
  stack = await startLocalStack({ apiKey: 'jobs-admin-key', lakeDir, context: { modelRefreshMs: 100 } });
  api = apiClient(stack.url, stack.apiKey);
  bucket = physicalName(stack.plan, LAKE_BUCKET);
  expect((await api.call('PUT', `/v1/decision-points/${DP}`, { rewards: { click: 1 } })).status).toBe(201);
  for (const id of ACTIONS) {
    expect((await api.call('PUT', `/v1/decision-points/${DP}/actions/${id}`, { features: { id } })).status).toBe(201);
  }
  // A model that is not the prior: segment a clicks spring, segment b clicks winter.
  let clicks = 0;
  for (let i = 0; i < 40; i++) {
    const segment = i % 2 ? 'a' : 'b';
    const r = await api.call('POST', '/v1/decisions', { decisionPoint: DP, userId: `t${i}`, context: { segment } });
    if (r.body.chosen[0] === (segment === 'a' ? 'spring' : 'winter')) {
      clicks++;
      const ev = { eventId: `t${i}`, userId: `t${i}`, decisionId: r.body.decisionId, type: 'click' };
      expect((await api.call('POST', '/v1/events', { events: [ev] })).status).toBe(202);
    }
  }
  await waitFor(async () => {
    const t = await totals();
    return t.impressions === 40 && t.rewardEvents === clicks;
  }, 30_000);
}, 90_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(lakeDir, { recursive: true, force: true });
});

describe('decision jobs on the local stack', () => {
  it('decides every line of the input as the API would, and learns from them once', async () => {
    const lines: string[] = [];
    const bad = new Set<number>();
    for (let i = 1; i <= LINES; i++) {
      if (i % 97 === 0) {
        lines.push('{"userId": ');
        bad.add(i);
      } else if (i % 101 === 0) {
        lines.push(JSON.stringify({ userId: `c${i}`, candidates: ['spring', 'no-such-action'] }));
        bad.add(i);
      } else {
        lines.push(JSON.stringify({ userId: `c${i}`, context: { segment: i % 2 ? 'a' : 'b' } }));
      }
    }
    await put('decision-jobs/inputs/spring.jsonl', `${lines.join('\n')}\n`);
    const before = await totals();

    const created = await api.call('POST', `/v1/decision-points/${DP}/decision-jobs`, {
      input: `s3://${bucket}/decision-jobs/inputs/spring.jsonl`,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect(created.body.status).toBe('running');
    const { jobId } = created.body as { jobId: string };
    const execution = stack.executions.find((e) => e.name === jobId)!;
    const result = await execution.done;
    expect(result.status, result.error).toBe('SUCCEEDED');

    const job = (await api.call('GET', `/v1/decision-points/${DP}/decision-jobs/${jobId}`)).body;
    expect(job).toMatchObject({ status: 'succeeded', lines: LINES, decided: LINES - bad.size, rejected: bad.size });
    const output = (await readFolder(job.output)) as {
      line: number;
      userId: string;
      decisionId: string;
      chosen: string[];
      propensity: number;
      modelVersion: string;
    }[];
    const errors = (await readFolder(job.errors)) as { line: number; code: string; error: string }[];
    expect(output.length).toBe(LINES - bad.size);
    expect(new Set(errors.map((e) => e.line))).toEqual(bad);
    expect(errors.find((e) => e.line === 101)!.error).toMatch(/no-such-action/);
    expect(new Set([...output.map((o) => o.line), ...errors.map((e) => e.line)]).size).toBe(LINES);
    expect(new Set(output.map((o) => o.decisionId)).size).toBe(output.length);

    // The API's own ranking at the same model is the reference for every sampled line's propensity.
    for (const o of output.filter((_, i) => i % 60 === 0)) {
      const req = JSON.parse(lines[o.line - 1]!);
      const single = await api.call('POST', '/v1/decisions', { decisionPoint: DP, ...req, userId: `ref-${o.line}` });
      expect(single.body.modelVersion).toBe(o.modelVersion);
      const p = new Map(
        (single.body.ranking as { actionId: string; probability: number }[]).map((r) => [r.actionId, r.probability]),
      );
      expect(o.propensity, `line ${o.line}`).toBe(p.get(o.chosen[0]!));
    }
    const referenceCalls = output.filter((_, i) => i % 60 === 0).length;

    // Learned once: the job's impressions, and feedback naming its decisions (one sent twice).
    await waitFor(
      async () => (await totals()).impressions === before.impressions + output.length + referenceCalls,
      30_000,
    );
    const named = output.slice(0, 3);
    const events = named.map((o, i) => ({
      eventId: `job-click-${i}`,
      userId: o.userId,
      decisionId: o.decisionId,
      type: 'click',
    }));
    events.push({ ...events[0]! });
    events.push({ eventId: 'bogus', userId: 'c1', decisionId: `j-${jobId}-zz-0`, type: 'click' });
    expect((await api.call('POST', '/v1/events', { events })).status).toBe(202);
    await waitFor(async () => (await totals()).rewardEvents === before.rewardEvents + 3, 30_000);
    await waitFor(async () => {
      const dead = (await api.call('GET', '/v1/dead-letters?code=no-decision')).body.deadLetters as {
        reason: string;
      }[];
      return dead.some((d) => d.reason.includes(`j-${jobId}-zz-0`));
    });
    await new Promise((r) => setTimeout(r, 1000));
    expect((await totals()).rewardEvents).toBe(before.rewardEvents + 3);

    // The job's decisions are in the lake folder, for retraining (one object per chunk).
    const partitions = readdirSync(join(lakeDir, 'lake', 'kind=decision'), { recursive: true }) as string[];
    expect(partitions.filter((f) => f.includes(`job-${jobId}-`)).length).toBe(job.chunks);
  }, 120_000);

  it('refuses a missing, empty or unreadable input at once, naming it', async () => {
    await put('decision-jobs/inputs/empty.jsonl', '');
    const post = (input: string) => api.call('POST', `/v1/decision-points/${DP}/decision-jobs`, { input });
    const missing = await post(`s3://${bucket}/decision-jobs/inputs/nothing.jsonl`);
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/nothing\.jsonl does not exist/);
    const empty = await post(`s3://${bucket}/decision-jobs/inputs/empty.jsonl`);
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/is empty/);
    const elsewhere = await post('s3://someone-elses-bucket/users.jsonl');
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.error.message).toMatch(/someone-elses-bucket is not one this engine may read/);
    const noDp = await api.call('POST', '/v1/decision-points/nope/decision-jobs', { input: `s3://${bucket}/x` });
    expect(noDp.status).toBe(404);
  });
});
