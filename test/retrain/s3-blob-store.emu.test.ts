/**
 * The S3 adapter of the lake and the run artifacts, against s3rver (the S3 REST protocol, in process). Listing past
 * one page is not exercised: s3rver builds its continuation tokens with a cipher today's OpenSSL refuses.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../../shared/adapters/s3/blob-store.ts';
import { parseLakeObject, writeLakeBatch } from '../../shared/app/retrain/lake.ts';
import { decisionRecord } from '../support/records.ts';

describe('S3BlobStore', () => {
  let dir: string;
  let server: S3rver;
  let client: S3Client;
  let blobs: S3BlobStore;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nba-s3rver-'));
    server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir });
    const { port } = await server.run();
    client = new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    await client.send(new CreateBucketCommand({ Bucket: 'nba-lake' }));
    blobs = new S3BlobStore(client, 'nba-lake');
  });

  afterAll(async () => {
    client?.destroy();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('puts, gets and lists objects by prefix in key order; a missing key is undefined, not an error', async () => {
    await writeLakeBatch(
      blobs,
      [
        JSON.stringify(decisionRecord({ decisionId: 'd1', userId: 'u', chosen: 'A', at: Date.UTC(2024, 2, 1, 9) })),
        JSON.stringify(decisionRecord({ decisionId: 'd2', userId: 'u', chosen: 'A', at: Date.UTC(2024, 2, 1, 10) })),
      ],
      'batch-1',
    );
    await blobs.put('retrain/dp/run/report.json', '{"ok":true}', 'application/json');
    const listed = await blobs.list('lake/');
    expect(listed.map((e) => e.key)).toEqual([
      'lake/kind=decision/dt=2024-03-01/hour=09/batch-1.jsonl.gz',
      'lake/kind=decision/dt=2024-03-01/hour=10/batch-1.jsonl.gz',
    ]);
    expect(listed[0]!.size).toBeGreaterThan(0);
    const parsed = parseLakeObject((await blobs.get(listed[0]!.key))!);
    expect(parsed.decisions.map((d) => d.decisionId)).toEqual(['d1']);
    expect(Buffer.from((await blobs.get('retrain/dp/run/report.json'))!).toString()).toBe('{"ok":true}');
    expect(await blobs.get('retrain/dp/run/absent.json')).toBeUndefined();
  });
});
