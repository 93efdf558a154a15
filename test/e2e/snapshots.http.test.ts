/**
 * Model snapshots through the local stack, as deployed (issue 14, item 1; docs/ARCHITECTURE.md §5), judged by the
 * twin's IAM ledger and real HTTP clients:
 * - once a decision point has a snapshot, the decisions function reads the model from the snapshot bucket (its
 *   replica's pointer and snapshot, GetObject under its role) and never queries the state table for it: the state
 *   table's reads do not grow with decision traffic;
 * - feedback reaches serving through a snapshot the updater publishes (the served `modelVersion` moves), a catalog
 *   change through one the admin function publishes (a retired action stops being served), a rollback too;
 * - the snapshot in the bucket is the serving model of the state table: same version, checksum as the pointer says.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { physicalName } from '../../local/twin/template.ts';
import { ModelCache } from '../../shared/app/decide/model-cache.ts';
import { decodeSnapshot } from '../../shared/app/decide/snapshot.ts';
import type { SnapshotPointer } from '../../shared/core/ports.ts';
import { type Api, apiClient, waitFor } from '../support/http.ts';

process.env.NBA_LOG_LEVEL = 'silent';
let stack: LocalStack;
let api: Api;
const DP = 'snap';

/** Calls of one function matching an action (and resource pattern), counted. */
function calls(principal: string, action: string, resource?: RegExp): number {
  return stack.iam
    .entries()
    .filter((c) => c.principal === principal && c.action === action && (!resource || resource.test(c.resource)))
    .reduce((n, c) => n + c.count, 0);
}

async function bucketObject(key: string): Promise<Uint8Array | undefined> {
  const bucket = physicalName(stack.plan, 'SnapshotBucket');
  try {
    const out = await stack.emulators.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await out.Body!.transformToByteArray();
  } catch {
    return undefined;
  }
}

const decide = async (userId: string) => {
  const res = await api.call('POST', '/v1/decisions', { decisionPoint: DP, userId, context: { segment: 'x' } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as {
    decisionId: string;
    chosen: string[];
    modelVersion: string;
    ranking: { actionId: string }[];
  };
};

beforeAll(async () => {
  stack = await startLocalStack({ apiKey: 'test-admin-key', context: { modelRefreshMs: 200 } });
  api = apiClient(stack.url, stack.apiKey);
  expect((await api.call('PUT', `/v1/decision-points/${DP}`, { rewards: { click: 1 } })).status).toBe(201);
  for (const id of ['a', 'b', 'c']) {
    expect((await api.call('PUT', `/v1/decision-points/${DP}/actions/${id}`, { features: { id } })).status).toBe(201);
  }
});
afterAll(async () => {
  await stack?.stop();
});

describe('model snapshots on the local stack', () => {
  it('serves decisions from the snapshot the admin function published, without querying the state table', async () => {
    const pointer = JSON.parse(
      Buffer.from((await bucketObject(`r0/${DP}/pointer.json`))!).toString(),
    ) as SnapshotPointer;
    const snapshot = decodeSnapshot((await bucketObject(`r0/${DP}/model.snap`))!, pointer.sha256);
    expect(snapshot.version).toBe(pointer.version);
    expect(snapshot.posterior.ids).toEqual(['a', 'b', 'c']);

    const queriesBefore = calls('DecisionsFunction', 'dynamodb:Query');
    for (let i = 0; i < 30; i++) expect((await decide(`u${i}`)).modelVersion).toBe(pointer.version);
    expect(calls('DecisionsFunction', 'dynamodb:Query')).toBe(queriesBefore);
    expect(calls('DecisionsFunction', 's3:GetObject', /pointer\.json$/)).toBeGreaterThan(0);
    expect(calls('DecisionsFunction', 's3:GetObject', /model\.snap$/)).toBeGreaterThan(0);
  });

  it('serves what feedback taught through the snapshot the updater publishes, equal to the state table’s model', async () => {
    const before = (await decide('fb-0')).modelVersion;
    const decisions = await Promise.all(Array.from({ length: 5 }, (_, i) => decide(`fb-${i + 1}`)));
    const events = decisions.map((d, i) => ({
      eventId: `click-${i}`,
      userId: `fb-${i + 1}`,
      decisionId: d.decisionId,
      type: 'click',
    }));
    expect((await api.call('POST', '/v1/events', { events })).status).toBe(202);
    let served = before;
    await waitFor(async () => {
      served = (await decide('fb-probe')).modelVersion;
      return served !== before;
    });
    const truth = await new ModelCache(stack.stores.state, { refreshMs: 0 }).get(DP);
    await waitFor(async () => (await decide('fb-probe')).modelVersion === truth.version);
    expect(calls('UpdaterFunction', 's3:PutObject', /model\.snap$/)).toBeGreaterThan(0);
  });

  it('stops serving a retired action once the admin function has published the change', async () => {
    expect((await api.call('DELETE', `/v1/decision-points/${DP}/actions/b`)).status).toBe(200);
    // Every live candidate is in a decision's ranking: once one leaves b out, the container serves the retirement.
    await waitFor(async () => !(await decide('r')).ranking.some((e) => e.actionId === 'b'));
    for (let i = 0; i < 60; i++) {
      const d = await decide(`after-${i}`);
      expect(d.chosen[0]).not.toBe('b');
      expect(d.ranking.map((e) => e.actionId)).not.toContain('b');
    }
  });
});
