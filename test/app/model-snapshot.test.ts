/**
 * Specification (shared/app/decide/snapshot.ts): a decision made on a decoded snapshot is the decision the
 * publisher's own model makes — same chosen actions, same probabilities to the last bit, same model version — for
 * every serving mode (one objective; weighted and intent objectives), with wide contexts (the count-sketched shared
 * part) and retired actions; and a snapshot whose bytes are not the ones the pointer names is refused, never served.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../shared/adapters/memory/state-store.ts';
import { CatalogService } from '../../shared/app/catalog/catalog.ts';
import { DecisionService } from '../../shared/app/decide/decide.ts';
import { ModelCache, type ServingModel } from '../../shared/app/decide/model-cache.ts';
import { decodeSnapshot, encodeSnapshot, SnapshotIntegrityError, sha256Hex } from '../../shared/app/decide/snapshot.ts';
import { addObservation, emptyStats } from '../../shared/core/bandit/stats.ts';
import { bucketOf, DEFAULT_OBJECTIVE, INTENT_ACTION, intentObjective } from '../../shared/core/domain.ts';
import { encodeFeatures } from '../../shared/core/features/encode.ts';
import { createRng } from '../../shared/core/random.ts';
import type { DecisionPointSettingsInput } from '../../shared/core/schemas.ts';
import { recordingStream } from '../support/records.ts';

const NOW = 1_700_000_000_000;

async function servedModel(settings: DecisionPointSettingsInput, actions: number, seed: number) {
  const state = new MemoryStateStore();
  const cache = new ModelCache(state, { refreshMs: Number.POSITIVE_INFINITY, now: () => NOW });
  const catalog = new CatalogService(state, cache, () => NOW);
  await catalog.putDecisionPoint('dp', settings);
  const ids = Array.from({ length: actions }, (_, i) => `a${i}`);
  for (const id of ids) await catalog.putAction('dp', id, { features: { kind: id.length % 3, id } });
  await catalog.retireAction('dp', 'a1');
  const { contextDim: d } = (await state.getDecisionPoint('dp'))!.settings;
  const rng = createRng(seed);
  const objectives = [DEFAULT_OBJECTIVE, ...(settings.objectives ?? []).map((o) => o.name)];
  const stats = (objective: string, actionId: string, n: number) => {
    const s = emptyStats(d);
    for (let i = 0; i < n; i++) {
      const x = encodeFeatures({ f: Math.floor(rng.next() * 5), g: rng.next() }, d);
      addObservation(s, x, rng.next() < 0.3 ? 1 : 0);
    }
    return state.putStats(
      {
        decisionPoint: 'dp',
        objective,
        actionId,
        bucket: bucketOf(NOW),
        partition: 0,
        slot: 1,
        stats: s,
        counters: { rewardEvents: n, lateEvents: 0 },
        highWaterMarks: {},
        version: 1,
        updatedAt: NOW,
        lastLearnedAt: NOW,
      },
      undefined,
    );
  };
  for (const objective of objectives) {
    for (const id of ids.slice(0, -2)) await stats(objective, id, 5 + Math.floor(rng.next() * 40));
    if (objective !== DEFAULT_OBJECTIVE) await stats(intentObjective(objective), INTENT_ACTION, 60);
  }
  return cache.get('dp');
}

/** The decisions of one seeded sampler on `model` for the same requests. */
async function decisions(model: ServingModel, requests: number) {
  const service = new DecisionService({
    models: { get: async () => model },
    stream: recordingStream().stream,
    rng: createRng(7),
    now: () => NOW,
    newId: (() => {
      let i = 0;
      return () => `d${i++}`;
    })(),
  });
  const rng = createRng(11);
  const out = [];
  for (let i = 0; i < requests; i++) {
    const answer = await service.decide({
      decisionPoint: 'dp',
      userId: `u${i}`,
      context: { f: Math.floor(rng.next() * 5), g: rng.next() },
      slots: 2,
    });
    out.push(answer);
  }
  return out;
}

const cases: [string, DecisionPointSettingsInput, number][] = [
  ['one objective, learned scale and ε', { contextDim: 8, actionDim: 4 }, 12],
  [
    'weighted objectives',
    {
      contextDim: 8,
      actionDim: 4,
      objectives: [
        { name: 'buy', events: { purchase: 20 } },
        { name: 'click', events: { click: 1 } },
      ],
    },
    9,
  ],
  [
    'intent objectives',
    {
      contextDim: 8,
      actionDim: 4,
      objectives: [
        { name: 'buy', events: { purchase: 20 } },
        { name: 'click', events: { click: 1 } },
      ],
      combine: { mode: 'intent', minOutcomes: 1 },
    },
    9,
  ],
  ['a wide context (sketched shared part)', { contextDim: 128, actionDim: 8 }, 6],
];

describe('model snapshots', () => {
  it.each(cases)(
    '%s: decisions on the decoded snapshot are the publisher model’s, bit for bit',
    async (_, settings, k) => {
      const model = await servedModel(settings, k, 3);
      const bytes = encodeSnapshot(model);
      const decoded = decodeSnapshot(bytes, sha256Hex(bytes));
      expect(decoded.version).toBe(model.version);
      expect(await decisions(decoded, 60)).toEqual(await decisions(model, 60));
      // The retired action is in the posterior (its history teaches the shared part) but never live.
      expect(decoded.posterior.index.has('a1')).toBe(true);
      expect([...decoded.live].map((i) => decoded.posterior.ids[i])).not.toContain('a1');
    },
  );

  it('decodes from a buffer at any offset, as a network read may hand it over', async () => {
    const model = await servedModel(cases[0]![1], 5, 4);
    const bytes = encodeSnapshot(model);
    const pooled = new Uint8Array(bytes.length + 3);
    pooled.set(bytes, 3);
    const decoded = decodeSnapshot(pooled.subarray(3), sha256Hex(bytes));
    expect(await decisions(decoded, 10)).toEqual(await decisions(model, 10));
  });

  it('refuses bytes that are not the ones the pointer names, and anything that is not a snapshot', async () => {
    const model = await servedModel(cases[1]![1], 5, 5);
    const bytes = encodeSnapshot(model);
    const sha = sha256Hex(bytes);
    const flipped = bytes.slice();
    flipped[flipped.length - 3]! ^= 1;
    expect(() => decodeSnapshot(flipped, sha)).toThrow(SnapshotIntegrityError);
    expect(() => decodeSnapshot(bytes.subarray(0, bytes.length - 8), sha)).toThrow(/checksum/);
    expect(() => decodeSnapshot(new TextEncoder().encode('{"not":"a snapshot"}'))).toThrow(/magic/);
    expect(() => decodeSnapshot(bytes.subarray(0, bytes.length - 4))).toThrow(/truncated/);
  });
});
