/**
 * How a decision record names its candidates without listing them (docs/ARCHITECTURE.md §6.1, rules C1–C5). At
 * K = 1,000 live actions an explicit candidate list is ≈ 12 KB of a decision record; the stream, the lake and the
 * decision job's chunks carry it for every decision. A reference to the live catalog is ≈ 40 bytes.
 *
 * - C1 (catalog version). A catalog version is content-addressed: the first 128 bits of the SHA-256 of the ordered
 *   action ids joined by "\n", base64url (22 characters). The same list has the same version in every container, job
 *   and run; a different list has a different one.
 * - C2 (a reference). A record names its candidates either as `candidates` (the ids) or as `catalog: { version,
 *   omitted? }` with `candidateCount`: the candidates are the version's ids, in its order, without `omitted`. A
 *   decision uses a reference when its candidates came from the live catalog (the request named none), at most as many
 *   are omitted as kept, and the ids fit a catalog item (`MAX_CATALOG_BYTES`); otherwise it lists them.
 * - C3 (declared before referenced). A record may also carry the version's ids (`catalog.ids`): it declares the
 *   version. A writer (a decision container, a job chunk) declares a version in its records until one declaring
 *   record of it has been accepted by the log (a stream put that succeeded, a chunk's stored catalog); only then do its
 *   records carry the bare reference. An accepted record is never lost, so every referenced version has been declared
 *   by a record the log holds.
 * - C4 (stored once). The updater stores every declared version it applies (decision point, version → ids; writing the
 *   same version again changes nothing, so order, redelivery and racing updaters do not matter); a decision job stores
 *   its chunk's version before it writes the chunk's records.
 * - C5 (resolved). The updater needs only `candidateCount`. Retraining resolves every reference from the stored
 *   versions (or the record's own declaration); a reference it cannot resolve is counted and the decision is left out.
 */
import { createHash } from 'node:crypto';

/** Ids of a stored catalog version, joined by "\n", at most this many bytes (a DynamoDB item holds 400 KB). */
export const MAX_CATALOG_BYTES = 300_000;

/** C1: the version of an ordered id list. */
export function catalogVersion(ids: readonly string[]): string {
  return createHash('sha256').update(ids.join('\n')).digest('base64url').slice(0, 22);
}

/** What a record carries instead of its candidate list (C2, C3). */
export interface CatalogRef {
  version: string;
  /** The version's ids: present on a record that declares the version (C3). */
  ids?: string[] | undefined;
  /** Ids of the version that were not candidates (absent: none). */
  omitted?: string[] | undefined;
}

/** A catalog version the serving side may reference: its ids and where each sits in the list. */
export interface LiveCatalog {
  version: string;
  ids: readonly string[];
  /** False when the ids are too many bytes for a catalog item: decisions list their candidates (C2). */
  referable: boolean;
}

export function liveCatalog(ids: readonly string[]): LiveCatalog {
  let bytes = Math.max(0, ids.length - 1);
  for (const id of ids) bytes += id.length;
  return { version: catalogVersion(ids), ids, referable: bytes <= MAX_CATALOG_BYTES };
}

/**
 * C2: how a decision names its candidates, a subsequence of `live.ids` given as positions into it (ascending;
 * undefined: all of them), or undefined when they must be listed. `declare` adds the version's ids (C3).
 */
export function referenceOf(
  live: LiveCatalog,
  positions: ArrayLike<number> | undefined,
  declare: boolean,
): { catalog: CatalogRef; candidateCount: number } | undefined {
  const kept = positions?.length ?? live.ids.length;
  const omittedCount = live.ids.length - kept;
  if (!live.referable || omittedCount > kept) return undefined;
  const omitted: string[] = [];
  if (omittedCount > 0) {
    let p = 0;
    for (let i = 0; i < live.ids.length; i++) {
      if (p < kept && positions![p] === i) p++;
      else omitted.push(live.ids[i]!);
    }
  }
  return {
    catalog: {
      version: live.version,
      ...(declare && { ids: [...live.ids] }),
      ...(omitted.length > 0 && { omitted }),
    },
    candidateCount: kept,
  };
}

/** C5: the candidates a reference names, given the version's ids. */
export function resolveCandidates(ref: Pick<CatalogRef, 'omitted'>, ids: readonly string[]): string[] {
  if (!ref.omitted || ref.omitted.length === 0) return [...ids];
  const omitted = new Set(ref.omitted);
  return ids.filter((id) => !omitted.has(id));
}

/**
 * Why a declaring reference is inconsistent (the ids do not hash to the version, an omitted id is not among them, or
 * the count disagrees), or undefined when it is sound. A bare reference is checked where it is resolved.
 */
export function declarationProblem(ref: CatalogRef, candidateCount: number): string | undefined {
  if (!ref.ids) return undefined;
  if (catalogVersion(ref.ids) !== ref.version) return `catalog.ids do not hash to version ${ref.version}`;
  const ids = new Set(ref.ids);
  if (ids.size !== ref.ids.length) return 'catalog.ids repeat an id';
  const omitted = new Set(ref.omitted ?? []);
  for (const id of omitted) if (!ids.has(id)) return `catalog.omitted names ${id}, which is not in catalog.ids`;
  if (ref.ids.length - omitted.size !== candidateCount) {
    return `candidateCount ${candidateCount} is not catalog.ids less catalog.omitted (${ref.ids.length - omitted.size})`;
  }
  return undefined;
}
