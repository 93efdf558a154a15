/** `npm run import`: history (JSONL and Open Bandit Dataset CSV) into the lake, as the engine would have logged it. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runImport } from '../../cli/import.ts';
import { FsBlobStore } from '../../shared/adapters/lake/fs-blob-store.ts';
import { aggregateRecords } from '../../shared/app/retrain/join-bucket.ts';
import { type LakeDecision, type LakeEvent, parseLakeKey, parseLakeObject } from '../../shared/app/retrain/lake.ts';
import { DEFAULT_OBJECTIVE } from '../../shared/core/domain.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { runCli } from '../support/cli.ts';
import { runParams } from './support.ts';

/** No engine answers at this URL: imports take their dimensions from the flags (as before a deployment). */
const run = (...argv: string[]) => runCli(runImport, [...argv, '--url', 'http://127.0.0.1:9']);
const offline = ['--context-dim', '16', '--action-dim', '8'];

async function readLake(root: string) {
  const blobs = new FsBlobStore(root);
  const entries = await blobs.list('lake/');
  const decisions: LakeDecision[] = [];
  const events: LakeEvent[] = [];
  for (const e of entries) {
    const p = parseLakeObject((await blobs.get(e.key))!);
    expect(p.invalid).toBe(0);
    decisions.push(...p.decisions);
    events.push(...p.events);
  }
  return { keys: entries.map((e) => e.key), decisions, events };
}

describe('import', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'nba-import-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const history = (withPropensity: boolean) =>
    Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({
        context: { segment: i % 2 === 0 ? 'new' : 'loyal', visits: i % 5 },
        actions: [
          { id: 'spring-sale', features: { category: 'promo' } },
          { id: 'loyalty-club', features: { category: 'membership' } },
        ],
        chosen: i % 3 === 0 ? 'loyalty-club' : 'spring-sale',
        ...(withPropensity && { propensity: i % 3 === 0 ? 0.25 : 0.75 }),
        reward: i % 4 === 0 ? 1 : 0,
      }),
    ).join('\n');

  it('loads a JSONL history into the lake layout, spread over the days before --end, with its propensities', async () => {
    const file = join(work, 'history.jsonl');
    writeFileSync(file, `${history(true)}\n`);
    const lake = join(work, 'lake-jsonl');
    const args = ['--format', 'jsonl', file, '--lake', lake, '--decision-point', 'homepage'];
    const dims = ['--context-dim', '4', '--action-dim', '2', '--end', '2024-03-08T00:00:00Z', '--days', '7'];
    const { code, out, err } = await run(...args, ...dims);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/imported 40 decisions and 10 reward events of decision point "homepage"/);
    expect(out).toMatch(/all 40 decisions carry the logging policy's propensity/);

    const { keys, decisions, events } = await readLake(lake);
    const days = new Set(keys.map((k) => new Date(parseLakeKey(k)!.hourStart).toISOString().slice(0, 10)));
    expect([...days].sort()).toEqual([
      '2024-03-01',
      '2024-03-02',
      '2024-03-03',
      '2024-03-04',
      '2024-03-05',
      '2024-03-06',
      '2024-03-07',
    ]);
    expect(decisions).toHaveLength(40);
    const first = decisions.find((d) => d.decisionId.endsWith('-0'))!;
    expect(first).toMatchObject({
      decisionPoint: 'homepage',
      candidates: ['spring-sale', 'loyalty-club'],
      chosen: ['loyalty-club'],
      propensity: 0.25,
      x: Array.from(encodeFeatures({ segment: 'new', visits: 0 }, 4)),
      chosenFeatures: [Array.from(encodeFeatures({ category: 'membership' }, 2))],
    });
    expect(events.every((e) => e.event.type === 'reward' && e.event.value === 1)).toBe(true);

    // The imported history is what the offline pass reads: every decision and reward is used.
    const a = aggregateRecords(
      runParams({ decisionPoint: 'homepage', cutoffBucket: 19_800, holdoutFromBucket: 19_799, actionDim: 2 }),
      { decisions, events },
    );
    expect(a.counters).toMatchObject({ decisionsUsed: 40, rewardEvents: 10 });
    let rewards = 0;
    for (const s of a.segments.train.get(DEFAULT_OBJECTIVE)!.values()) rewards += s.rewardEvents;
    expect(rewards).toBe(10);

    // Importing the same file again replaces its objects: history is not doubled.
    await run(...args, ...dims);
    expect((await readLake(lake)).decisions).toHaveLength(40);
  });

  it('says what estimates can and cannot claim when the history has no propensities', async () => {
    const file = join(work, 'no-propensity.jsonl');
    writeFileSync(file, history(false));
    const lake = join(work, 'lake-nop');
    const { code, out } = await run(
      '--format',
      'jsonl',
      file,
      '--lake',
      lake,
      '--context-dim',
      '4',
      '--action-dim',
      '2',
    );
    expect(code).toBe(0);
    expect(out).toMatch(/40 of 40 decisions \(100\.0%\) carry no propensity/);
    expect(out).toMatch(/cannot correct the logging policy's skew/);
    expect(out).toMatch(/cannot pass the promotion gate/);
    expect((await readLake(lake)).decisions.every((d) => d.propensity === 0)).toBe(true);
  });

  it('loads an Open Bandit Dataset campaign CSV, keeping its timestamps, positions as separate decisions', async () => {
    const dir = join(work, 'obd', 'bts');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'item_context.csv'),
      ',item_id,item_feature_0,item_feature_1\n0,0,-0.5,c82d\n1,1,0.7,7749\n2,2,0.1,c82d\n',
    );
    writeFileSync(
      join(dir, 'men.csv'),
      [
        ',timestamp,item_id,position,click,propensity_score,user_feature_0,user-item_affinity_0,user-item_affinity_1,user-item_affinity_2',
        '0,2019-11-24 00:01:03.979311+00:00,2,1,0,0.045525,cef3,0.0,1.0,0.0',
        '1,2019-11-24 00:01:03.979311+00:00,0,2,1,0.5,cef3,0.0,1.0,0.0',
        '2,2019-11-24 13:45:10.000000+00:00,1,1,0,0.25,a1b2,2.0,0.0,0.0',
      ].join('\n'),
    );
    const lake = join(work, 'lake-obd');
    const { code, out, err } = await run(
      '--format',
      'obd',
      join(dir, 'men.csv'),
      '--lake',
      lake,
      '--decision-point',
      'obd-men',
      ...offline,
    );
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/imported 3 decisions and 1 reward events/);
    const { keys, decisions, events } = await readLake(lake);
    expect(keys.map((k) => k.slice(0, k.lastIndexOf('/'))).sort()).toEqual([
      'lake/kind=decision/dt=2019-11-24/hour=00',
      'lake/kind=decision/dt=2019-11-24/hour=13',
      'lake/kind=event/dt=2019-11-24/hour=00',
    ]);
    const second = decisions.find((d) => d.decisionId.endsWith('-1'))!;
    expect(second).toMatchObject({
      at: Date.parse('2019-11-24T00:01:03.979Z'),
      candidates: ['0', '1', '2'],
      chosen: ['0'],
      propensity: 0.5,
      x: Array.from(
        encodeFeatures(
          { user_feature_0: 'cef3', 'user-item_affinity_0': 0, 'user-item_affinity_1': 1, 'user-item_affinity_2': 0 },
          16,
        ),
      ),
    });
    expect(events).toHaveLength(1);
    expect(events[0]!.event).toMatchObject({ decisionId: second.decisionId, actionId: '0', value: 1 });
  });

  it('exits 2 naming the line of a malformed history, and on a missing format', async () => {
    const file = join(work, 'bad.jsonl');
    writeFileSync(
      file,
      `${history(true).split('\n')[0]}\n{"context":{},"actions":[{"id":"a"}],"chosen":"zz","reward":0}\n`,
    );
    const bad = await run('--format', 'jsonl', file, '--lake', join(work, 'lake-bad'));
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('import: bad.jsonl: line 2: chosen "zz" is not among actions\n');
    const usage = await run(file);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/--format jsonl\|obd is required/);
  });
});

describe('import without an engine to ask', () => {
  it('needs both dimensions, and says so instead of guessing defaults the decision point may not have', async () => {
    const work = mkdtempSync(join(tmpdir(), 'nba-import-offline-'));
    try {
      const file = join(work, 'h.jsonl');
      writeFileSync(file, '{"context":[1,2],"actions":[{"id":"a","features":[1]}],"chosen":"a","reward":1}\n');
      const r = await runCli(runImport, [
        '--format',
        'jsonl',
        file,
        '--lake',
        work,
        '--url',
        'http://127.0.0.1:9',
        '--key',
        'k',
      ]);
      expect(r.code).toBe(2);
      expect(r.err).toContain('cannot reach the engine at http://127.0.0.1:9');
      expect(r.err).toContain('give both --context-dim and --action-dim');
      expect(await new FsBlobStore(work).list('lake/')).toEqual([]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
