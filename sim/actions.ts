import { encodeFeatures } from '../shared/core/features/encode.ts';
import type { FeatureInput } from './formats.ts';

/**
 * Every action the simulation has seen, numbered in order of first sight. Learners keep per-action state in arrays
 * indexed by this number, and the hybrid posterior is built over the actions in this order, so an action's table
 * index is also its posterior index. Features are encoded once, when the action is first seen: like the engine's
 * hybrid model, the simulator treats an action's features as fixed (later rows may omit them; differing later
 * values are ignored).
 */
export class ActionTable {
  readonly ids: string[] = [];
  readonly index = new Map<string, number>();
  /** Encoded features c_a (length m, slot 0 the bias), by table index. */
  readonly encoded: Float64Array[] = [];
  /** Features as given, by table index (the HTTP driver sends them to the engine). */
  readonly raw: FeatureInput[] = [];

  constructor(readonly actionDim: number) {}

  get size(): number {
    return this.ids.length;
  }

  /**
   * The table index of `id`, registering it on first sight. Returns −1 for an unknown id given without features.
   * Throws `FeatureEncodingError` when the features do not fit `actionDim`.
   */
  resolve(id: string, features: FeatureInput | undefined): number {
    const known = this.index.get(id);
    if (known !== undefined) return known;
    if (features === undefined) return -1;
    const encoded = encodeFeatures(features, this.actionDim);
    const i = this.ids.length;
    this.ids.push(id);
    this.index.set(id, i);
    this.encoded.push(encoded);
    this.raw.push(features);
    return i;
  }
}
