/** The local lake writer against the Kinesis emulator: layout, compression, unreadable records, checkpoints. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LakeWriter } from '../../local/lake-writer.ts';
import { physicalName } from '../../local/twin/template.ts';
import { KinesisEventStream } from '../../shared/adapters/kinesis/event-stream.ts';
import { FsBlobStore } from '../../shared/adapters/lake/fs-blob-store.ts';
import { decodeLakeObject, parseLakeObject } from '../../shared/app/retrain/lake.ts';
import { startTestStores, type TestStores } from '../support/emulators.ts';
import { decisionRecord, eventRecord } from '../support/records.ts';

const T = Date.UTC(2024, 2, 1, 5, 30);

async function until(check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('LakeWriter', () => {
  let stores: TestStores;
  let dir: string;
  let blobs: FsBlobStore;

  beforeAll(async () => {
    stores = await startTestStores();
    dir = mkdtempSync(join(tmpdir(), 'nba-lake-writer-'));
    blobs = new FsBlobStore(dir);
    const stream = new KinesisEventStream(stores.emulators.kinesis, physicalName(stores.plan, 'EventStream'));
    const failed = await stream.put([
      decisionRecord({ decisionId: 'd1', userId: 'u1', chosen: 'A', at: T }),
      decisionRecord({ decisionId: 'd2', userId: 'u2', chosen: 'B', at: T + 26 * 3_600_000 }),
      eventRecord({ eventId: 'e1', userId: 'u1', decisionId: 'd1', type: 'click' }, T + 40 * 60_000),
    ]);
    expect(failed).toEqual([]);
    await stores.emulators.kinesis.send(
      new PutRecordCommand({
        StreamName: physicalName(stores.plan, 'EventStream'),
        PartitionKey: 'x',
        Data: new TextEncoder().encode('not json'),
      }),
    );
  });

  afterAll(async () => {
    await stores?.emulators.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes each record, gzipped, under the partition of its own time, and unreadable ones under lake-errors/', async () => {
    const writer = new LakeWriter(stores.emulators.kinesis, physicalName(stores.plan, 'EventStream'), blobs, {
      checkpointFile: join(dir, 'checkpoints.json'),
      pollIntervalMs: 20,
    });
    await writer.start();
    await until(() => writer.counters.records === 3 && writer.counters.errors === 1);
    await writer.stop();

    const keys = (await blobs.list('')).map((e) => e.key).filter((k) => !k.endsWith('.json'));
    const folders = keys.map((k) => k.slice(0, k.lastIndexOf('/') + 1)).sort();
    expect(folders).toEqual([
      `lake-errors/dt=${new Date().toISOString().slice(0, 10)}/`,
      'lake/kind=decision/dt=2024-03-01/hour=05/',
      'lake/kind=decision/dt=2024-03-02/hour=07/',
      'lake/kind=event/dt=2024-03-01/hour=06/',
    ]);
    for (const k of keys) expect(k).toMatch(/\/shardId-\d+-\d+\.jsonl\.gz$/);
    const decisions = [];
    for (const k of keys.filter((k) => k.startsWith('lake/'))) {
      const bytes = (await blobs.get(k))!;
      expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
      decisions.push(...parseLakeObject(bytes).decisions.map((d) => d.decisionId));
    }
    expect(decisions.sort()).toEqual(['d1', 'd2']);
    const errorKey = keys.find((k) => k.startsWith('lake-errors/'))!;
    expect(decodeLakeObject((await blobs.get(errorKey))!)).toBe('not json\n');
    const checkpoints = JSON.parse(readFileSync(join(dir, 'checkpoints.json'), 'utf8')) as Record<string, string>;
    expect(Object.keys(checkpoints).length).toBeGreaterThan(0);
  });

  it('resumes after its checkpoints, and a redelivered batch replaces its objects instead of duplicating them', async () => {
    const before = (await blobs.list('')).map((e) => e.key).sort();
    const resumed = new LakeWriter(stores.emulators.kinesis, physicalName(stores.plan, 'EventStream'), blobs, {
      checkpointFile: join(dir, 'checkpoints.json'),
      pollIntervalMs: 20,
    });
    await resumed.start();
    await new Promise((r) => setTimeout(r, 300));
    await resumed.stop();
    expect(resumed.counters.batches).toBe(0);

    // A writer that lost its checkpoints (crash before saving them) reads everything again: same objects.
    const replay = new LakeWriter(stores.emulators.kinesis, physicalName(stores.plan, 'EventStream'), blobs, {
      pollIntervalMs: 20,
    });
    await replay.start();
    await until(() => replay.counters.records === 3);
    await replay.stop();
    expect((await blobs.list('')).map((e) => e.key).sort()).toEqual(before);
  });
});
