/**
 * Specification: core/catalog/catalog-version.ts, rules C1–C2 and C5 (docs/ARCHITECTURE.md §6.1). A catalog version
 * names an ordered id list by its content; a reference (version, omitted ids) names exactly the candidates it was
 * made for; it is used only where it is no bigger than the list it replaces.
 */
import { describe, expect, it } from 'vitest';
import {
  catalogVersion,
  declarationProblem,
  liveCatalog,
  MAX_CATALOG_BYTES,
  referenceOf,
  resolveCandidates,
} from '../../shared/core/catalog/catalog-version.ts';
import { createRng } from '../../shared/core/random.ts';
import { decisionRecordSchema } from '../../shared/core/schemas.ts';
import { decisionRecord } from '../support/records.ts';

describe('catalog versions and references', () => {
  it('C1: the version is the content: same list, same version; another order or another id, another version', () => {
    const ids = ['a', 'b', 'c'];
    expect(catalogVersion(ids)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(catalogVersion([...ids])).toBe(catalogVersion(ids));
    expect(catalogVersion(['b', 'a', 'c'])).not.toBe(catalogVersion(ids));
    expect(catalogVersion(['a', 'b', 'd'])).not.toBe(catalogVersion(ids));
  });

  it('C2/C5: resolving a reference gives back exactly the candidates it was made for, over random subsets', () => {
    const rng = createRng(7);
    for (let trial = 0; trial < 2000; trial++) {
      const k = 1 + rng.int(60);
      const ids = Array.from({ length: k }, (_, i) => `act-${i}-${rng.int(1000)}`);
      const live = liveCatalog(ids);
      const keep = rng.next();
      const positions = ids.flatMap((_, i) => (rng.next() < keep ? [i] : []));
      if (positions.length === 0) continue;
      const ref = referenceOf(live, Int32Array.from(positions), rng.next() < 0.5);
      const omitted = k - positions.length;
      // Used exactly when at most as many are omitted as kept (else the list is the smaller record).
      expect(ref !== undefined, `k=${k} kept=${positions.length}`).toBe(omitted <= positions.length);
      if (!ref) continue;
      expect(ref.candidateCount).toBe(positions.length);
      expect(resolveCandidates(ref.catalog, ids)).toEqual(positions.map((i) => ids[i]));
      expect(declarationProblem(ref.catalog, ref.candidateCount)).toBeUndefined();
    }
  });

  it('C2: a catalog whose ids would not fit a stored item is never referenced', () => {
    const long = Array.from({ length: Math.ceil(MAX_CATALOG_BYTES / 100) + 1 }, (_, i) => `${'x'.repeat(96)}${i}`);
    const live = liveCatalog(long);
    expect(live.referable).toBe(false);
    expect(referenceOf(live, Int32Array.from(long.keys()), false)).toBeUndefined();
  });

  it('a decision record names its candidates exactly one way, and a declaration must be consistent', () => {
    const base = decisionRecord({ decisionId: 'd1', userId: 'u', chosen: 'a' });
    const { candidates: _, ...bare } = base;
    const ids = ['a', 'b', 'c'];
    const version = catalogVersion(ids);
    const ok = (r: object) => decisionRecordSchema.safeParse(r).success;
    expect(ok(base)).toBe(true);
    expect(ok({ ...bare, catalog: { version }, candidateCount: 3 })).toBe(true);
    expect(ok({ ...bare, catalog: { version, ids, omitted: ['b'] }, candidateCount: 2 })).toBe(true);
    expect(ok(bare)).toBe(false);
    expect(ok({ ...base, catalog: { version }, candidateCount: 3 })).toBe(false);
    expect(ok({ ...bare, catalog: { version } })).toBe(false);
    expect(ok({ ...base, candidateCount: 1 })).toBe(false);
    // The ids must hash to the version, the omitted be among them, the count agree.
    expect(ok({ ...bare, catalog: { version, ids: ['a', 'b'] }, candidateCount: 2 })).toBe(false);
    expect(ok({ ...bare, catalog: { version, ids, omitted: ['z'] }, candidateCount: 3 })).toBe(false);
    expect(ok({ ...bare, catalog: { version, ids }, candidateCount: 2 })).toBe(false);
  });
});
