/**
 * A model snapshot: a decision point's serving model, ready to score, as one immutable, checksummed byte string. The
 * updater that wins the publish lease builds the model once (snapshot-publisher.ts) and stores it; every decision
 * container fetches it and scores from it without building anything (snapshot-source.ts). So a decision made on a
 * decoded snapshot is the decision the publisher's own model would make: every number round-trips bit for bit
 * (float64), and the propensities are exact for the model that is logged as `modelVersion`.
 *
 * Layout: the 8-byte magic `NBASNAP1`, a little-endian uint32 header length, the header (UTF-8 JSON: the decision
 * point, its catalog, the scalar parts of each posterior and intent model, and where each array lies), zero padding to
 * a multiple of 8, then the float64 arrays back to back. The pointer that names a snapshot carries its SHA-256; a
 * snapshot whose bytes do not hash to it is refused (SnapshotIntegrityError), never served.
 *
 * The statistics behind the model (what GET …/model summarises) are not part of it: the admin API reads them from
 * the state table, where they are.
 */
import { createHash } from 'node:crypto';
import { type HybridPosterior, type Priors, sharedSketch } from '../../core/bandit/posterior.ts';
import type { CatalogAction, DecisionPoint, PromotedSettings } from '../../core/domain.ts';
import type { IntentModel } from '../../core/policy/serving-policy.ts';
import type { ServingModel } from './model-cache.ts';

const MAGIC = 'NBASNAP1';
const FORMAT = 1;

export class SnapshotIntegrityError extends Error {
  override readonly name = 'SnapshotIntegrityError';
}

interface ArrayRef {
  /** Offset in float64 elements from the start of the body. */
  at: number;
  length: number;
}

interface PosteriorHeader {
  objective: string;
  sigma2: number;
  eventValue: number;
  priors: Priors;
  w: ArrayRef;
  V: ArrayRef;
  explore: ArrayRef;
  beta: ArrayRef;
  n: ArrayRef;
}

interface Header {
  format: number;
  version: string;
  builtAt: number;
  decisionPoint: DecisionPoint;
  d: number;
  m: number;
  ids: string[];
  /** The actions behind the posterior ids, same order. */
  catalog: CatalogAction[];
  live: number[];
  features: ArrayRef;
  posteriors: PosteriorHeader[];
  intent: { objective: string; outcomes: number; decisions: number; valuePerOutcome: number; weights: ArrayRef }[];
  decisions: number;
  learned?: Pick<PromotedSettings, 'scale' | 'priorScale'> | undefined;
  fits?: [string, Priors & { n: number }][];
}

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The snapshot of a serving model. */
export function encodeSnapshot(model: ServingModel): Uint8Array {
  const parts: Float64Array[] = [];
  let at = 0;
  const ref = (a: Float64Array): ArrayRef => {
    parts.push(a);
    const r = { at, length: a.length };
    at += a.length;
    return r;
  };
  const post = model.posterior;
  const header: Header = {
    format: FORMAT,
    version: model.version,
    builtAt: model.builtAt,
    decisionPoint: model.decisionPoint,
    d: post.d,
    m: post.m,
    ids: [...post.ids],
    catalog: post.ids.map((id) => model.catalog.get(id)!),
    live: Array.from(model.live),
    features: ref(post.features),
    posteriors: [...model.posteriors].map(([objective, p]) => ({
      objective,
      sigma2: p.sigma2,
      eventValue: p.eventValue,
      priors: { ...p.priors },
      w: ref(p.w),
      V: ref(p.V),
      explore: ref(p.explore),
      beta: ref(p.beta),
      n: ref(p.n),
    })),
    intent: [...model.intent].map(([objective, i]) => ({
      objective,
      outcomes: i.outcomes,
      decisions: i.decisions,
      valuePerOutcome: i.valuePerOutcome,
      weights: ref(i.weights),
    })),
    decisions: model.decisions,
    ...(model.learned !== undefined && { learned: model.learned }),
    ...(model.fits !== undefined && { fits: [...model.fits] }),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const bodyStart = align8(MAGIC.length + 4 + json.length);
  const out = new Uint8Array(bodyStart + at * 8);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length, true);
  out.set(json, MAGIC.length + 4);
  const body = new Float64Array(out.buffer, bodyStart, at);
  let o = 0;
  for (const p of parts) {
    body.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * The serving model a snapshot holds. With `sha256`, the bytes must hash to it (the pointer's checksum); the arrays
 * are copied out of `bytes`, so the caller may reuse its buffer.
 */
export function decodeSnapshot(bytes: Uint8Array, sha256?: string): ServingModel {
  if (sha256 !== undefined && sha256Hex(bytes) !== sha256) {
    throw new SnapshotIntegrityError(`snapshot checksum mismatch: expected ${sha256}, got ${sha256Hex(bytes)}`);
  }
  if (bytes.length < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) {
    throw new SnapshotIntegrityError('not a model snapshot (bad magic)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(MAGIC.length, true);
  const bodyStart = align8(MAGIC.length + 4 + headerLength);
  if (bodyStart > bytes.length) throw new SnapshotIntegrityError('truncated snapshot header');
  const header = JSON.parse(
    new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + headerLength)),
  ) as Header;
  if (header.format !== FORMAT) throw new SnapshotIntegrityError(`unknown snapshot format ${header.format}`);
  // Copy the body once into an aligned buffer: `bytes` may start at any offset of a pooled buffer.
  const bodyBytes = bytes.length - bodyStart;
  if (bodyBytes % 8 !== 0) throw new SnapshotIntegrityError('truncated snapshot body');
  const body = new Float64Array(bodyBytes / 8);
  new Uint8Array(body.buffer).set(bytes.subarray(bodyStart));
  const arr = (r: ArrayRef): Float64Array => {
    if (r.at + r.length > body.length) throw new SnapshotIntegrityError('truncated snapshot body');
    return body.subarray(r.at, r.at + r.length);
  };
  const { d, m, ids } = header;
  const index = new Map(ids.map((id, i) => [id, i]));
  const features = arr(header.features);
  const sketch = sharedSketch(d, m);
  const posteriors = new Map<string, HybridPosterior>(
    header.posteriors.map((p) => [
      p.objective,
      {
        d,
        m,
        size: ids.length,
        ids,
        index,
        w: arr(p.w),
        V: arr(p.V),
        sigma2: p.sigma2,
        explore: arr(p.explore),
        eventValue: p.eventValue,
        beta: arr(p.beta),
        sketch,
        n: arr(p.n),
        features,
        priors: Object.freeze(p.priors),
        // Each posterior scores with its own scratch, as a freshly built one does.
        scratch: new Float64Array((d * (d + 1)) / 2),
      },
    ]),
  );
  const intent = new Map<string, IntentModel>(
    header.intent.map((i) => [
      i.objective,
      { weights: arr(i.weights), outcomes: i.outcomes, decisions: i.decisions, valuePerOutcome: i.valuePerOutcome },
    ]),
  );
  const posterior = posteriors.get('default');
  if (!posterior) throw new SnapshotIntegrityError('snapshot has no default posterior');
  return {
    decisionPoint: header.decisionPoint,
    posterior,
    posteriors,
    intent,
    decisions: header.decisions,
    ...(header.learned !== undefined && { learned: header.learned }),
    ...(header.fits !== undefined && { fits: new Map(header.fits) }),
    live: Int32Array.from(header.live),
    features: ids.map((_, i) => features.subarray(i * m, (i + 1) * m)),
    catalog: new Map(header.catalog.map((a) => [a.actionId, a])),
    version: header.version,
    builtAt: header.builtAt,
  };
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;
