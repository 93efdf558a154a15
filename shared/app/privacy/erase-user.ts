/**
 * Erasure of a user (DELETE /v1/users/{userId}), by pseudonym: the API has already turned the user id into it.
 *
 * 1. The erasure is recorded first (pseudonym and time), so that whatever happens next, the next retraining ignores
 *    the user's lake records up to that time (shared/app/retrain/split.ts), and a retried request finishes the job.
 * 2. The user's join items go: the user item (stage, recent decisions, held events), their decisions and their event
 *    claims (decisions table), and the dead letters whose records name them.
 *
 * What this cannot reach, by design (README, "Privacy and retention"): records already on the stream when the
 * erasure is made are applied after it and start a new history online (retraining still ignores them, their time is
 * before the erasure); records sent later are a new history everywhere; the lake keeps the erased user's records,
 * ignored, until its lifecycle rule deletes them; the per-action statistics are sums over all users, from which the
 * user's contribution leaves at the first promotion trained after the erasure.
 */
import { z } from 'zod';
import type { ErasureLog, UserDataEraser } from '../../core/ports.ts';
import { pseudonymSchema } from '../../core/privacy.ts';

export interface ErasureDeps {
  erasures: ErasureLog;
  /** The decisions table (user item, decisions, event claims) and the dead letters. */
  stores: readonly UserDataEraser[];
  now?: () => number;
}

/** The answer of DELETE /v1/users/{userId} (also its OpenAPI description). */
export const erasureResultSchema = z.object({
  /** The pseudonym the user's data was kept under (how operators find the user in logs and dead letters). */
  pseudonym: pseudonymSchema,
  /** Retraining ignores the user's lake records up to this time (ISO-8601). */
  erasedAt: z.iso.datetime(),
  /** Items deleted, by kind: `users` (user items), `decisions`, `eventClaims`, `deadLetters`. */
  deleted: z.record(z.string(), z.number().int().nonnegative()),
});
export type ErasureResult = z.infer<typeof erasureResultSchema>;

export async function eraseUser(pseudonym: string, deps: ErasureDeps): Promise<ErasureResult> {
  const recorded = await deps.erasures.record({ userId: pseudonym, erasedAt: (deps.now ?? Date.now)() });
  const deleted: Record<string, number> = {};
  for (const store of deps.stores) {
    for (const [kind, n] of Object.entries(await store.eraseUser(pseudonym))) deleted[kind] = (deleted[kind] ?? 0) + n;
  }
  return { pseudonym, erasedAt: new Date(recorded.erasedAt).toISOString(), deleted };
}
