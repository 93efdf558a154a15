/**
 * The in-memory adapters (`shared/adapters/memory/`) against the DynamoDB and Kinesis adapters on dynalite and
 * kinesalite: the same assertions run against both, then random operation sequences and a whole updater scenario run
 * on both and must give identical answers, so the memory adapters the simulator drives the engine with cannot drift
 * from the ones that run in AWS.
 */
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { physicalName } from '../../local/twin/template.ts';
import { KinesisEventStream } from '../../shared/adapters/kinesis/event-stream.ts';
import { MemoryDeadLetterStore } from '../../shared/adapters/memory/dead-letter-store.ts';
import { MemoryDecisionStore } from '../../shared/adapters/memory/decision-store.ts';
import { MemoryEventStream, shardIndexOf } from '../../shared/adapters/memory/event-stream.ts';
import { MemoryStateStore } from '../../shared/adapters/memory/state-store.ts';
import { applyBatch, type BatchOutcome } from '../../shared/app/learn/apply-batch.ts';
import { type ActionStats, addObservation, addReward, emptyStats, statsEqual } from '../../shared/core/bandit/stats.ts';
import type { CatalogAction, DeadLetter, DecisionPoint, StatsItem, StoredDecision } from '../../shared/core/domain.ts';
import { VersionConflictError } from '../../shared/core/errors.ts';
import { type EventClaim, pairKey, type UserJoinState } from '../../shared/core/feedback/join.ts';
import type { DeadLetterStore, DecisionStore, StateStore } from '../../shared/core/ports.ts';
import { createRng } from '../../shared/core/random.ts';
import type { EvaluationRecord } from '../../shared/core/retrain/evaluation-record.ts';
import {
  type DecisionPointSettings,
  type DecisionRecord,
  decisionPointSettingsSchema,
} from '../../shared/core/schemas.ts';
import { startTestStores, type TestStores, uniqueName } from '../support/emulators.ts';
import { decisionRecord, entries, eventRecord } from '../support/records.ts';

interface Stores {
  state: StateStore;
  decisions: DecisionStore;
  deadLetters: DeadLetterStore;
}

let dyn: TestStores;
beforeAll(async () => {
  dyn = await startTestStores();
});
afterAll(async () => {
  await dyn.emulators.close();
});

const memoryStores = (): Stores => ({
  state: new MemoryStateStore(),
  decisions: new MemoryDecisionStore(),
  deadLetters: new MemoryDeadLetterStore(),
});
const implementations: { name: string; stores: () => Stores }[] = [
  { name: 'memory', stores: memoryStores },
  { name: 'dynalite', stores: () => dyn },
];

const T0 = 1_700_000_000_000;
const settings = (over: Record<string, unknown> = {}): DecisionPointSettings =>
  decisionPointSettingsSchema.parse({ contextDim: 4, actionDim: 2, ...over });
const decisionPoint = (name: string, version: number, updatedAt = T0): DecisionPoint => ({
  decisionPoint: name,
  settings: settings(),
  createdAt: T0,
  updatedAt,
  version,
});
const action = (dp: string, id: string, version: number, over: Partial<CatalogAction> = {}): CatalogAction => ({
  decisionPoint: dp,
  actionId: id,
  features: { k: id, w: 0.5 },
  status: 'live',
  createdAt: T0,
  updatedAt: T0,
  version,
  ...over,
});
/** Statistics with values that do not survive a decimal round trip carelessly. */
function awkwardStats(seed: number): ActionStats {
  const rng = createRng(seed);
  const s = emptyStats(4);
  for (let i = 0; i < 7; i++) {
    const x = Float64Array.from([1, rng.normal() / 3, rng.next() * 1e-7, rng.normal() * 1e5]);
    addObservation(s, x, 0);
    addReward(s, x, rng.next() * 0.1 + 1 / 3);
  }
  return s;
}
const statsItem = (
  dp: string,
  actionId: string,
  version: number,
  updatedAt: number,
  over: Partial<StatsItem> = {},
): StatsItem => ({
  decisionPoint: dp,
  objective: 'default',
  actionId,
  bucket: 19_675,
  partition: 1,
  slot: 1,
  stats: awkwardStats(version),
  counters: { rewardEvents: version, lateEvents: 0 },
  highWaterMarks: { 'shardId-000000000000': `${1000 + version}` },
  version,
  updatedAt,
  lastLearnedAt: updatedAt,
  ...over,
});
const decision = (id: string, userId: string, claim: string, over: Partial<StoredDecision> = {}): StoredDecision => ({
  decisionId: id,
  decisionPoint: 'dp',
  userId,
  at: T0,
  chosen: ['a'],
  chosenFeatures: [[1, 0.5]],
  x: [1, 0.25, -1 / 3, 0],
  propensity: 0.4,
  modelVersion: 'online+1.1.0',
  attributionWindowSeconds: 3600,
  rewards: { click: 1 },
  objectives: [{ name: 'buy', events: { purchase: 20 }, attributionWindowSeconds: 600, weight: 1 }],
  claim,
  ...over,
});
const evaluation = (dp: string, runId: string, startedAt: number): EvaluationRecord => ({
  decisionPoint: dp,
  runId,
  version: `v-${runId}`,
  startedAt,
  finishedAt: startedAt + 1000,
  outcome: 'rejected',
  reasons: ['not better'],
  warnings: [],
  cutoffBucket: 10,
  holdoutFromBucket: 11,
  rounds: 100,
  policies: [],
  reportKey: 'r.json',
  htmlKey: 'r.html',
});

describe.each(implementations)('$name StateStore', ({ stores }) => {
  it('creates a decision point only once and replaces it only at the version it read', async () => {
    const { state } = stores();
    const dp = uniqueName();
    await state.putDecisionPoint(decisionPoint(dp, 1), undefined);
    await expect(state.putDecisionPoint(decisionPoint(dp, 1), undefined)).rejects.toBeInstanceOf(VersionConflictError);
    await expect(state.putDecisionPoint(decisionPoint(dp, 3), 2)).rejects.toBeInstanceOf(VersionConflictError);
    await state.putDecisionPoint(decisionPoint(dp, 2), 1);
    expect((await state.getDecisionPoint(dp))?.version).toBe(2);
    expect((await state.listDecisionPoints()).map((d) => d.decisionPoint)).toContain(dp);
    await expect(state.putDecisionPoint(decisionPoint(uniqueName(), 1), 1)).rejects.toBeInstanceOf(
      VersionConflictError,
    );
  });

  it('re-parses stored settings, so a decision point written without a field reads with its default', async () => {
    const { state } = stores();
    const dp = uniqueName();
    const partial = { contextDim: 4, actionDim: 2 } as unknown as DecisionPointSettings;
    await state.putDecisionPoint({ ...decisionPoint(dp, 1), settings: partial }, undefined);
    const read = await state.getDecisionPoint(dp);
    expect(read?.settings).toEqual(settings());
    expect(await state.getDecisionPoint(uniqueName())).toBeUndefined();
  });

  it('keeps actions conditional on their version, drops absent optional fields and lists them by id', async () => {
    const { state } = stores();
    const dp = uniqueName();
    await state.putAction(action(dp, 'b', 1, { metadata: { note: 'x', n: [1, 2] }, endsAt: T0 + 5 }), undefined);
    await state.putAction(action(dp, 'a', 1, { status: 'retired', metadata: undefined }), undefined);
    await expect(state.putAction(action(dp, 'a', 2), undefined)).rejects.toBeInstanceOf(VersionConflictError);
    await expect(state.putAction(action(dp, 'a', 2), 7)).rejects.toBeInstanceOf(VersionConflictError);
    await state.putAction(
      action(dp, 'a', 2, { eligibility: [{ attribute: 'context.segment', op: 'in', values: ['x'] }] }),
      1,
    );
    const listed = await state.listActions(dp);
    expect(listed.map((a) => [a.actionId, a.version, a.status])).toEqual([
      ['a', 2, 'live'],
      ['b', 1, 'live'],
    ]);
    expect(listed[1]).toEqual(action(dp, 'b', 1, { metadata: { note: 'x', n: [1, 2] }, endsAt: T0 + 5 }));
    expect(await state.getAction(dp, 'zz')).toBeUndefined();
  });

  it('stores statistics exactly, conditionally, and hands out copies', async () => {
    const { state } = stores();
    const dp = uniqueName();
    const first = statsItem(dp, 'a', 1, T0);
    await state.putStats(first, undefined);
    await expect(state.putStats(statsItem(dp, 'a', 2, T0), undefined)).rejects.toBeInstanceOf(VersionConflictError);
    const read = (await state.getStats(first))!;
    expect(statsEqual(read.stats, first.stats, 0)).toBe(true);
    expect(read.highWaterMarks).toEqual(first.highWaterMarks);
    // The updater adds to the statistics it read before writing them back: that must not touch the stored item.
    addObservation(read.stats, Float64Array.from([1, 1, 1, 1]), 5);
    expect(statsEqual((await state.getStats(first))!.stats, first.stats, 0)).toBe(true);
    await state.putStats(statsItem(dp, 'a', 2, T0 + 1), 1);
    await expect(state.putStats(statsItem(dp, 'a', 3, T0 + 2), 1)).rejects.toBeInstanceOf(VersionConflictError);
    await state.putStats(statsItem(dp, 'b', 1, T0, { objective: 'intent:buy', actionId: '*' }), undefined);
    expect((await state.listStats(dp)).map((s) => `${s.objective}/${s.actionId}/${s.version}`)).toEqual([
      'default/a/2',
      'intent:buy/*/1',
    ]);
  });

  it('loads exactly the items changed at or after `since`, of that decision point only', async () => {
    const { state } = stores();
    const dp = uniqueName();
    const other = uniqueName();
    await state.putDecisionPoint(decisionPoint(dp, 1, T0), undefined);
    await state.putAction(action(dp, 'old', 1, { updatedAt: T0 + 10 }), undefined);
    await state.putAction(action(dp, 'new', 1, { updatedAt: T0 + 20 }), undefined);
    await state.putStats(statsItem(dp, 'new', 1, T0 + 20), undefined);
    await state.putStats(statsItem(other, 'new', 1, T0 + 50), undefined);
    await state.putBaseStats([
      {
        decisionPoint: dp,
        version: 'm1',
        objective: 'default',
        actionId: 'new',
        stats: awkwardStats(9),
        updatedAt: T0 + 30,
      },
    ]);
    await state.putActiveModel(
      {
        decisionPoint: dp,
        version: 'm1',
        cutoffBucket: 3,
        promotedAt: T0,
        history: [],
        itemVersion: 1,
        updatedAt: T0 + 40,
      },
      undefined,
    );
    await state.putEvaluation(evaluation(dp, 'r1', T0 + 100)); // finishedAt T0 + 1100
    const changes = await state.loadChanges(dp, T0 + 20);
    expect(changes.decisionPoint).toBeUndefined();
    expect(changes.actions.map((a) => a.actionId)).toEqual(['new']);
    expect(changes.stats.map((s) => s.actionId)).toEqual(['new']);
    expect(statsEqual(changes.baseStats[0]!.stats, awkwardStats(9), 0)).toBe(true);
    expect(changes.activeModel).toMatchObject({ version: 'm1', itemVersion: 1, cutoffBucket: 3 });
    // The evaluation summary is not a model change, but it moves the high-water mark of what was read.
    expect(changes.maxUpdatedAt).toBe(T0 + 1100);
    const all = await state.loadChanges(dp, 0);
    expect(all.decisionPoint?.version).toBe(1);
    expect(all.actions.map((a) => a.actionId).sort()).toEqual(['new', 'old']);
    expect(await state.loadChanges(dp, T0 + 5000)).toEqual({
      decisionPoint: undefined,
      actions: [],
      stats: [],
      baseStats: [],
      activeModel: undefined,
      maxUpdatedAt: T0 + 5000,
    });
  });

  it('stores a catalog version once: a second write of it changes nothing, and model refreshes never read it', async () => {
    const { state } = stores();
    const dp = uniqueName();
    await state.putCatalogVersion(dp, 'AAAAAAAAAAAAAAAAAAAAAA', ['a', 'b', 'c']);
    await state.putCatalogVersion(dp, 'AAAAAAAAAAAAAAAAAAAAAA', ['x']);
    await state.putCatalogVersion(dp, 'BBBBBBBBBBBBBBBBBBBBBB', ['b']);
    await state.putCatalogVersion(uniqueName(), 'CCCCCCCCCCCCCCCCCCCCCC', ['c']);
    expect(await state.listCatalogVersions(dp)).toEqual(
      new Map([
        ['AAAAAAAAAAAAAAAAAAAAAA', ['a', 'b', 'c']],
        ['BBBBBBBBBBBBBBBBBBBBBB', ['b']],
      ]),
    );
    expect((await state.loadChanges(dp, 0)).maxUpdatedAt).toBe(0);
  });

  it('writes offline models idempotently, the active model conditionally, evaluations newest first', async () => {
    const { state } = stores();
    const dp = uniqueName();
    const base = {
      decisionPoint: dp,
      version: 'm1',
      objective: 'default',
      actionId: 'a',
      stats: awkwardStats(2),
      updatedAt: T0,
    };
    await state.putBaseStats([base]);
    await state.putBaseStats([base]);
    expect((await state.loadChanges(dp, 0)).baseStats).toHaveLength(1);
    const active = {
      decisionPoint: dp,
      version: 'm1',
      cutoffBucket: 3,
      promotedAt: T0,
      history: [],
      itemVersion: 1,
      updatedAt: T0,
    };
    await state.putActiveModel(active, undefined);
    await expect(state.putActiveModel({ ...active, itemVersion: 2 }, undefined)).rejects.toBeInstanceOf(
      VersionConflictError,
    );
    await state.putActiveModel(
      { ...active, version: 'm2', itemVersion: 2, history: [{ version: 'm1', cutoffBucket: 3, promotedAt: T0 }] },
      1,
    );
    expect(await state.getActiveModel(dp)).toMatchObject({
      version: 'm2',
      itemVersion: 2,
      history: [{ version: 'm1' }],
    });
    for (const [runId, at] of [
      ['r1', T0],
      ['r3', T0 + 3000],
      ['r2', T0 + 2000],
    ] as const) {
      await state.putEvaluation(evaluation(dp, runId, at));
    }
    expect((await state.listEvaluations(dp, 2)).map((e) => e.runId)).toEqual(['r3', 'r2']);
  });

  it('keeps the settings promoted with the active model and with each model of its history; items without them read', async () => {
    const { state } = stores();
    const dp = uniqueName();
    const plain = { decisionPoint: dp, version: 'm1', cutoffBucket: 3, promotedAt: T0, history: [], updatedAt: T0 };
    await state.putActiveModel({ ...plain, itemVersion: 1 }, undefined);
    // Written before settings existed: no attribute, and none invented on read.
    const old = await state.getActiveModel(dp);
    expect(old).toEqual({ ...plain, itemVersion: 1 });
    const promoted = {
      ...plain,
      version: 'm2',
      settings: { scale: 0.5 },
      history: [
        { version: 'm1', cutoffBucket: 3, promotedAt: T0, settings: { scale: 2 } },
        { version: 'm0', cutoffBucket: 1, promotedAt: T0 - 1 },
      ],
      itemVersion: 2,
    };
    await state.putActiveModel(promoted, 1);
    expect(await state.getActiveModel(dp)).toEqual(promoted);
    expect((await state.loadChanges(dp, 0)).activeModel?.settings).toEqual({ scale: 0.5 });
  });

  it('stores API keys without the fields left undefined', async () => {
    const { state } = stores();
    const hash = uniqueName('h');
    await state.putApiKey({ keyId: 'k1', hash, name: 'ci', scopes: ['decide'], createdAt: T0, revokedAt: undefined });
    expect(await state.getApiKey(hash)).toEqual({ keyId: 'k1', hash, name: 'ci', scopes: ['decide'], createdAt: T0 });
    expect((await state.listApiKeys()).map((k) => k.hash)).toContain(hash);
  });

  it('refuses an item over 400 KB and stores nothing', async () => {
    const { state } = stores();
    const dp = uniqueName();
    const big = action(dp, 'big', 1, { metadata: { blob: 'x'.repeat(420 * 1024) } });
    await expect(state.putAction(big, undefined)).rejects.toMatchObject({ name: 'ValidationException' });
    expect(await state.getAction(dp, 'big')).toBeUndefined();
  });
});

describe.each(implementations)('$name DecisionStore', ({ stores }) => {
  it('keeps the first writer of a decision and tells a later one whose claim stands', async () => {
    const { decisions } = stores();
    const id = uniqueName('d');
    const first = decision(id, 'u1', 'shard-0/1');
    expect(await decisions.claimDecision(first)).toEqual(first);
    expect(await decisions.claimDecision(decision(id, 'u2', 'shard-0/9'))).toEqual(first);
    const found = await decisions.getDecisions([id, id, uniqueName('missing')]);
    expect([...found.keys()]).toEqual([id]);
    expect(found.get(id)).toEqual(first);
  });

  it('keeps the first claim of each reached objective, and only on a decision that exists', async () => {
    const { decisions } = stores();
    const id = uniqueName('d');
    await decisions.claimDecision(decision(id, 'u1', 'c0'));
    expect(await decisions.claimReached(id, new Map([['buy', 'c1']]))).toEqual(new Map([['buy', 'c1']]));
    expect(
      await decisions.claimReached(
        id,
        new Map([
          ['buy', 'c2'],
          ['life', 'c2'],
        ]),
      ),
    ).toEqual(
      new Map([
        ['buy', 'c1'],
        ['life', 'c2'],
      ]),
    );
    expect(await decisions.claimReached(uniqueName('none'), new Map())).toEqual(new Map());
    await expect(decisions.claimReached(uniqueName('none'), new Map([['k', 'c']]))).rejects.toMatchObject({
      name: 'ConditionalCheckFailedException',
    });
  });

  it('keeps the first claim of an event, whatever a later record says', async () => {
    const { decisions } = stores();
    const userId = uniqueName('u');
    const first = { userId, eventId: 'e1', claim: 's/1', decisionId: 'd1', move: { from: undefined, to: 'lead' } };
    expect(await decisions.claimEvent(first)).toEqual(first);
    expect(await decisions.claimEvent({ userId, eventId: 'e1', claim: 's/2', decisionId: 'd2' })).toEqual(first);
    const held = { userId, eventId: 'e2', claim: 's/3', decisionId: 'd3', move: undefined, by: 's/9' };
    await decisions.claimEvent(held);
    // Ids that would collide if the key were a plain concatenation stay apart.
    await decisions.claimEvent({ userId: `${userId}e`, eventId: '1', claim: 's/4' });
    const found = await decisions.getEventClaims([
      { userId, eventId: 'e1' },
      { userId, eventId: 'e2' },
      { userId, eventId: 'e3' },
      { userId: `${userId}e`, eventId: '1' },
    ]);
    expect(found).toEqual(
      new Map<string, EventClaim>([
        [pairKey(userId, 'e1'), first],
        [pairKey(userId, 'e2'), held],
        [
          pairKey(`${userId}e`, '1'),
          { userId: `${userId}e`, eventId: '1', claim: 's/4', decisionId: undefined, move: undefined, by: undefined },
        ],
      ]),
    );
  });

  it('replaces a user only at the version it read, and serves the stage the decisions path reads', async () => {
    const { decisions } = stores();
    const userId = uniqueName('u');
    expect(await decisions.getUsers([userId])).toEqual(new Map());
    expect(await decisions.getUserStage(userId, 'dp')).toBeUndefined();
    const state: UserJoinState = {
      recent: [{ decisionId: 'd1', decisionPoint: 'dp', at: T0 }],
      stages: { dp: { stage: 'lead', at: T0 + 5 }, other: { stage: 'loyal', at: T0 } },
      held: [
        {
          claim: 's/7',
          record: eventRecord({ eventId: 'e1', userId, decisionId: 'd9', type: 'click' }),
          applied: { by: 's/8', outcome: 'counted', move: undefined },
        },
      ],
      through: { s: '8' },
    };
    await decisions.putUser({ userId, state, version: undefined }, undefined);
    await expect(decisions.putUser({ userId, state, version: undefined }, undefined)).rejects.toBeInstanceOf(
      VersionConflictError,
    );
    expect(await decisions.getUsers([userId, userId, uniqueName('u')])).toEqual(
      new Map([[userId, { userId, state, version: 1 }]]),
    );
    await decisions.putUser(
      { userId, state: { ...state, stages: { ...state.stages, dp: { stage: 'customer', at: T0 + 9 } } }, version: 1 },
      1,
    );
    await expect(decisions.putUser({ userId, state, version: 1 }, 1)).rejects.toBeInstanceOf(VersionConflictError);
    // Each decision point sees its own stage of the user (F6).
    expect(await decisions.getUserStage(userId, 'dp')).toBe('customer');
    expect(await decisions.getUserStage(userId, 'other')).toBe('loyal');
    expect(await decisions.getUserStage(userId, 'third')).toBeUndefined();
  });
});

describe.each(implementations)('$name DeadLetterStore', ({ stores }) => {
  const letter = (id: string, at: number, status: 'dead' | 'held' = 'dead'): DeadLetter => ({
    id,
    status,
    code: status === 'held' ? 'held' : 'malformed',
    reason: 'not JSON',
    data: '{',
    at,
  });
  it('stores a redelivered poison record once and refuses a batch naming one record twice', async () => {
    const { deadLetters } = stores();
    const id = `${uniqueName('shard')}/1`;
    await deadLetters.put([letter(id, T0, 'held')]);
    await deadLetters.put([letter(id, T0 + 1)]);
    const mine = (await deadLetters.list(1000)).filter((d) => d.id === id);
    expect(mine).toEqual([letter(id, T0 + 1)]);
    const dup = `${uniqueName('shard')}/2`;
    await expect(deadLetters.put([letter(dup, T0), letter(dup, T0)])).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });

  it('holds an entry only where none exists, so a resolved one is never brought back', async () => {
    const { deadLetters } = stores();
    const [a, b] = [`${uniqueName('shard')}/1`, `${uniqueName('shard')}/2`];
    await deadLetters.hold([letter(a, T0, 'held'), letter(b, T0, 'held')]);
    await deadLetters.put([{ ...letter(a, T0 + 1), status: 'applied', code: 'applied' }]);
    // A late or racing updater holds both again: the tombstone stays, the held entry keeps its first time.
    await deadLetters.hold([letter(a, T0 + 2, 'held'), letter(b, T0 + 2, 'held')]);
    const mine = new Map((await deadLetters.list(100_000)).map((d) => [d.id, [d.status, d.at]]));
    expect(mine.get(a)).toEqual(['applied', T0 + 1]);
    expect(mine.get(b)).toEqual(['held', T0]);
  });
});

/** Runs `op` on a store and records its answer, or the name of the error it threw. */
async function outcome(op: () => Promise<unknown>): Promise<unknown> {
  try {
    const v = await op();
    return v instanceof Map ? [...v.entries()].sort() : v;
  } catch (err) {
    return { error: err instanceof Error ? err.name : String(err) };
  }
}

describe('memory and DynamoDB adapters answer random operation sequences identically', () => {
  const decisionOp = fc.oneof(
    fc.record({ op: fc.constant('claimDecision'), d: fc.nat(3), u: fc.nat(2), c: fc.nat(3) }),
    fc.record({ op: fc.constant('getDecisions'), ids: fc.array(fc.nat(4), { maxLength: 3 }) }),
    fc.record({
      op: fc.constant('claimReached'),
      d: fc.nat(4),
      claims: fc.array(fc.tuple(fc.nat(3), fc.nat(5)), { maxLength: 3 }),
    }),
    fc.record({ op: fc.constant('claimEvent'), u: fc.nat(2), e: fc.nat(3), c: fc.nat(3), d: fc.option(fc.nat(3)) }),
    fc.record({
      op: fc.constant('getEventClaims'),
      pairs: fc.array(fc.tuple(fc.nat(2), fc.nat(3)), { maxLength: 4 }),
    }),
    fc.record({ op: fc.constant('putUser'), u: fc.nat(2), v: fc.option(fc.nat(3)), s: fc.nat(3), r: fc.nat(4) }),
    fc.record({ op: fc.constant('getUsers'), us: fc.array(fc.nat(3), { maxLength: 3 }) }),
    fc.record({ op: fc.constant('getUserStage'), u: fc.nat(3) }),
  );

  it('DecisionStore', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(decisionOp, { minLength: 5, maxLength: 30 }), async (ops) => {
        const ns = uniqueName('fz');
        const run = async (s: DecisionStore) => {
          const out: unknown[] = [];
          for (const o of ops) {
            const d = (i: number) => `${ns}-d${i}`;
            const u = (i: number) => `${ns}-u${i}`;
            out.push(
              await outcome(() => {
                switch (o.op) {
                  case 'claimDecision':
                    return s.claimDecision(decision(d(o.d), u(o.u), `c${o.c}`));
                  case 'getDecisions':
                    return s.getDecisions(o.ids.map(d));
                  case 'claimReached':
                    return s.claimReached(d(o.d), new Map(o.claims.map(([k, c]) => [`k${k}`, `c${c}`])));
                  case 'claimEvent':
                    return s.claimEvent({
                      userId: u(o.u),
                      eventId: `e${o.e}`,
                      claim: `c${o.c}`,
                      decisionId: o.d === null ? undefined : d(o.d),
                    });
                  case 'getEventClaims':
                    return s.getEventClaims(o.pairs.map(([x, e]) => ({ userId: u(x), eventId: `e${e}` })));
                  case 'putUser':
                    return s.putUser(
                      {
                        userId: u(o.u),
                        state: {
                          recent: Array.from({ length: o.r }, (_, i) => ({
                            decisionId: d(i),
                            decisionPoint: 'dp',
                            at: T0 + i,
                          })),
                          stages: { dp: { stage: `s${o.s}`, at: T0 + o.s } },
                          held: [],
                          through: { shard: String(o.r) },
                        },
                        version: undefined,
                      },
                      o.v ?? undefined,
                    );
                  case 'getUsers':
                    return s.getUsers(o.us.map(u));
                  case 'getUserStage':
                    return s.getUserStage(u(o.u), 'dp');
                }
              }),
            );
          }
          return out;
        };
        expect(await run(new MemoryDecisionStore())).toEqual(await run(dyn.decisions));
      }),
      { numRuns: 30 },
    );
  });

  const stateOp = fc.oneof(
    fc.record({ op: fc.constant('putStats'), a: fc.nat(2), v: fc.nat(3), expect: fc.option(fc.nat(3)), t: fc.nat(5) }),
    fc.record({ op: fc.constant('getStats'), a: fc.nat(2) }),
    fc.record({ op: fc.constant('putAction'), a: fc.nat(2), v: fc.nat(3), expect: fc.option(fc.nat(3)), t: fc.nat(5) }),
    fc.record({ op: fc.constant('loadChanges'), since: fc.nat(6) }),
    fc.record({ op: fc.constant('listStats') }),
  );

  it('StateStore', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stateOp, { minLength: 5, maxLength: 25 }), async (ops) => {
        const dp = uniqueName('fz');
        const run = async (s: StateStore) => {
          const out: unknown[] = [];
          for (const o of ops) {
            out.push(
              await outcome(async () => {
                switch (o.op) {
                  case 'putStats':
                    return s.putStats(statsItem(dp, `a${o.a}`, o.v, T0 + o.t), o.expect ?? undefined);
                  case 'getStats':
                    return s.getStats(statsItem(dp, `a${o.a}`, 0, 0));
                  case 'putAction':
                    return s.putAction(action(dp, `a${o.a}`, o.v, { updatedAt: T0 + o.t }), o.expect ?? undefined);
                  case 'loadChanges': {
                    const c = await s.loadChanges(dp, T0 + o.since);
                    // Items with the same updatedAt have no defined order in the index.
                    const order = (x: { actionId: string; objective?: string }) => `${x.objective ?? ''}/${x.actionId}`;
                    return {
                      ...c,
                      actions: c.actions.sort((x, y) => order(x).localeCompare(order(y))),
                      stats: c.stats.sort((x, y) => order(x).localeCompare(order(y))),
                    };
                  }
                  case 'listStats':
                    return s.listStats(dp);
                }
              }),
            );
          }
          return out;
        };
        expect(await run(new MemoryStateStore())).toEqual(await run(dyn.state));
      }),
      { numRuns: 25 },
    );
  });
});

describe('the updater core over memory and DynamoDB adapters', () => {
  it('leaves identical statistics, dead letters and outcomes after the same stream', async () => {
    const objectives: DecisionRecord['objectives'] = [
      { name: 'buy', events: { purchase: 20 }, attributionWindowSeconds: 600, weight: 1 },
      {
        name: 'life',
        events: {},
        stages: ['lead', 'customer'],
        stageValues: { customer: 5 },
        attributionWindowSeconds: 3600,
        weight: 2,
      },
    ];
    const run = async (s: Stores, dp: string, shard: string) => {
      const rng = createRng(11);
      const payloads: unknown[] = [];
      const decided: { id: string; user: string; at: number }[] = [];
      for (let i = 0; i < 400; i++) {
        const at = T0 + i * 1000;
        const r = rng.next();
        if (decided.length === 0 || r < 0.4) {
          const user = `u${rng.int(15)}`;
          const id = `${dp}-d${i}`;
          payloads.push(
            decisionRecord({
              decisionPoint: dp,
              decisionId: id,
              userId: user,
              chosen: `a${rng.int(4)}`,
              at,
              context: { seg: rng.next() < 0.5 ? 'x' : 'y', v: rng.normal() },
              objectives,
            }),
          );
          decided.push({ id, user, at });
        } else if (r < 0.95) {
          const d = decided[rng.int(decided.length)]!;
          const type = ['click', 'purchase', 'stage', 'view'][rng.int(4)]!;
          payloads.push(
            eventRecord(
              {
                eventId: `${dp}-e${rng.int(300)}`,
                userId: d.user,
                ...(rng.next() < 0.8 ? { decisionId: d.id } : {}),
                type,
                ...(type === 'stage' ? { stage: rng.next() < 0.5 ? 'lead' : 'customer' } : {}),
              },
              d.at + rng.int(900_000),
            ),
          );
        } else payloads.push(rng.next() < 0.5 ? '{not json' : { kind: 'event', v: 1 });
      }
      const stream = entries(shard, payloads);
      const outcomes: BatchOutcome[] = [];
      for (const [from, to] of [
        [0, 150],
        [100, 300],
        [300, 400],
        [0, 400],
      ] as const) {
        outcomes.push(
          await applyBatch(stream.slice(from, to), {
            state: s.state,
            decisions: s.decisions,
            deadLetters: s.deadLetters,
            statsPartitions: 2,
            now: () => T0,
          }),
        );
      }
      const stats = (await s.state.listStats(dp)).map((i) => ({ ...i, decisionPoint: 'dp' }));
      const series = [
        ...(await s.state.listSeries(dp, 'minute', 0, Number.MAX_SAFE_INTEGER)),
        ...(await s.state.listSeries(dp, 'hour', 0, Number.MAX_SAFE_INTEGER)),
      ].map((i) => ({ ...i, decisionPoint: 'dp' }));
      const dead = (await s.deadLetters.list(1000))
        .filter((d) => d.id.startsWith(`${shard}/`))
        .map((d) => d.id)
        .sort();
      return { outcomes, stats, series, dead };
    };
    const dp = uniqueName('same');
    const shard = `shard-${dp}`;
    // Different decision point names on the two sides would make different payloads; the same name is safe because
    // the stores are separate.
    const memory = await run(memoryStores(), dp, shard);
    const dynamo = await run(dyn, dp, shard);
    expect(memory.outcomes).toEqual(dynamo.outcomes);
    expect(memory.outcomes[0]!.rewards).toBeGreaterThan(10);
    expect(memory.outcomes[0]!.deadLettered).toBeGreaterThan(0);
    expect(memory.dead).toEqual(dynamo.dead);
    // The learning series: the same items, counters and marks (ADD and SET on DynamoDB, their emulation in memory).
    expect(memory.series.length).toBeGreaterThan(0);
    expect(memory.series).toEqual(dynamo.series);
    expect(memory.stats.length).toBe(dynamo.stats.length);
    memory.stats.forEach((m, i) => {
      const d = dynamo.stats[i]!;
      expect({ ...m, stats: undefined }).toEqual({ ...d, stats: undefined });
      expect(statsEqual(m.stats, d.stats, 0)).toBe(true);
    });
  });
});

describe('MemoryEventStream against the Kinesis adapter on kinesalite', () => {
  it('puts each user on the same shard as Kinesis, in order, and redelivers from a failed record', async () => {
    const { kinesis } = dyn.emulators;
    const streamName = physicalName(dyn.plan, 'EventStream');
    const records = Array.from({ length: 120 }, (_, i) =>
      eventRecord({ eventId: `e${i}`, userId: `user-${i % 37}`, type: 'click' }, T0 + i),
    );
    await new KinesisEventStream(kinesis, streamName).put(records);
    const onKinesis = new Map<string, string[]>();
    const shards = await kinesis.send(new ListShardsCommand({ StreamName: streamName }));
    for (const shard of shards.Shards ?? []) {
      const it = await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: streamName,
          ShardId: shard.ShardId!,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator!, Limit: 10_000 }));
      onKinesis.set(
        shard.ShardId!,
        (out.Records ?? []).map((r) => new TextDecoder().decode(r.Data)),
      );
    }
    const memory = new MemoryEventStream({
      shardCount: dyn.plan.streams.find((x) => x.name === streamName)!.shardCount,
      now: () => T0,
    });
    expect(await memory.put(records)).toEqual([]);
    const onMemory = new Map(memory.shardIds.map((id) => [id, memory.poll(id, 10_000).map((e) => e.data)]));
    expect(onMemory).toEqual(onKinesis);
    expect([...onMemory.values()].every((list) => list.length > 0)).toBe(true);

    // Lambda's partial batch response: the next poll starts at the failed record.
    const shard = memory.shardIds[0]!;
    const batch = memory.poll(shard, 10);
    expect(batch.map((e) => BigInt(e.sequenceNumber))).toEqual([...batch.map((e) => BigInt(e.sequenceNumber))].sort());
    memory.commit(shard, batch, batch[4]!.sequenceNumber);
    expect(memory.poll(shard, 1)[0]).toEqual(batch[4]);
    memory.commit(shard, memory.poll(shard, 6), undefined);
    expect(memory.poll(shard, 1)[0]?.sequenceNumber).not.toBe(batch[9]!.sequenceNumber);
    expect(shardIndexOf('user-1', 1)).toBe(0);
  });
});

describe('DynamoDB limits dynalite does not enforce (memory adapters only)', () => {
  // DynamoDB caps an expression at 4 KB and an item at 400 KB: a decision answered by many distinct events in one
  // batch is still learned in full (each event claim is its own item).
  it('learns every event of a decision answered by 100 distinct events in one batch', async () => {
    const s = memoryStores();
    const payloads = [
      decisionRecord({ decisionPoint: 'dp', decisionId: 'd1', userId: 'u1', chosen: 'a' }),
      ...Array.from({ length: 100 }, (_, i) =>
        eventRecord({ eventId: `e${i}`, userId: 'u1', decisionId: 'd1', type: i === 0 ? 'click' : 'view' }),
      ),
    ];
    const out = await applyBatch(entries('shardId-000000000000', payloads), {
      state: s.state,
      decisions: s.decisions,
      deadLetters: s.deadLetters,
      statsPartitions: 1,
    });
    expect(out.failedFrom).toBeUndefined();
  });
});
