/**
 * Schedule windows of catalog actions. An action serves only inside the half-open interval [startsAt, endsAt), judged
 * against the clock of each request, so a campaign starts and ends on time without a deployment or a catalog write.
 *
 * Time-zone safety: instants cross the API as ISO-8601 date-times that must carry an offset (`Z` or `±hh:mm`). A bare
 * local time such as `2026-12-24T18:00:00` is rejected, because it would mean a different instant on every machine.
 * Instants are stored and compared as milliseconds since the epoch, so daylight-saving changes cannot move them.
 */
import { z } from 'zod';

/** An ISO-8601 date-time with an explicit offset, e.g. `2026-12-24T18:00:00+01:00` or `2026-12-24T17:00:00Z`. */
export const instantSchema = z.iso.datetime({
  offset: true,
  error:
    'must be an ISO-8601 date-time with seconds and an offset, e.g. 2026-12-24T18:00:00+01:00 or 2026-12-24T17:00:00Z',
});

/** Milliseconds since the epoch of an instant accepted by {@link instantSchema}. */
export const instantMs = (iso: string): number => Date.parse(iso);

/** What an operator sees of an action's lifecycle at a given moment. */
export type LifecycleStatus = 'live' | 'scheduled' | 'expired' | 'retired';
export const LIFECYCLE_STATUSES = ['live', 'scheduled', 'expired', 'retired'] as const;

export interface Scheduled {
  status: 'live' | 'retired';
  /** Milliseconds since the epoch; absent: no lower bound. */
  startsAt?: number | undefined;
  /** Milliseconds since the epoch, exclusive; absent: no upper bound. */
  endsAt?: number | undefined;
}

/** True when `now` lies inside [startsAt, endsAt); an absent bound is open. */
export function inWindow(startsAt: number | undefined, endsAt: number | undefined, now: number): boolean {
  return (startsAt === undefined || now >= startsAt) && (endsAt === undefined || now < endsAt);
}

/** `retired` wins over the window (a retired action never serves); otherwise the window decides. */
export function lifecycleStatus(a: Scheduled, now: number): LifecycleStatus {
  if (a.status === 'retired') return 'retired';
  if (a.startsAt !== undefined && now < a.startsAt) return 'scheduled';
  if (a.endsAt !== undefined && now >= a.endsAt) return 'expired';
  return 'live';
}
