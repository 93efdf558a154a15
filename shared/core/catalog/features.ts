/** Feature comparison for catalog changes: whether an update can leave the model's posteriors as they are. */
import type { Features } from '../schemas.ts';

/** True when both feature maps have the same keys with the same values (key order does not matter). */
export function sameFeatures(a: Features, b: Features): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => v === b[i]);
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (!Object.hasOwn(b, k) || a[k] !== b[k]) return false;
  return true;
}
