/**
 * The learning series a reader sees (docs/ARCHITECTURE.md §10.1): the stored sums of every writer partition added up
 * per window, and the figures the console charts derived from them. Windows are a minute or an hour as stored, or a
 * day summed from hours (the sums are additive, so a coarser window is exact). Windows without decisions or events are
 * left out.
 */
import {
  emptySeriesCounters,
  MINUTE_SERIES_RETENTION_DAYS,
  SERIES_RESOLUTION_MS,
  type SeriesCounters,
  type SeriesItem,
  type SeriesResolution,
  seriesWindowOf,
} from '../../core/domain.ts';
import { ValidationError } from '../../core/errors.ts';
import type { StateStore } from '../../core/ports.ts';

export interface LearningWindow {
  start: string;
  end: string;
  decisions: number;
  rewardEvents: number;
  lateEvents: number;
  /** reward / decisions. */
  meanReward: number | null;
  /** weightedReward / weightSum: uniform serving's reward per decision, self-normalised importance sampling. */
  uniformEstimate: number | null;
  /** randomness / decisions. */
  explorationShare: number | null;
  /** delayMs / rewardEvents, in seconds. */
  meanDelaySeconds: number | null;
  /** The additive sums the figures come from (to pool windows). */
  sums: SeriesCounters;
}

export type LearningResolution = SeriesResolution | 'day';
export const LEARNING_RESOLUTIONS: readonly LearningResolution[] = ['minute', 'hour', 'day'];
const WINDOW_MS: Record<LearningResolution, number> = { ...SERIES_RESOLUTION_MS, day: 86_400_000 };

/** At most this many hours per request (90 days), and this many windows per answer (3 days of minutes). */
export const MAX_SERIES_HOURS = 2160;
export const MAX_SERIES_WINDOWS = 4320;

/** The resolution a period is shown at when the reader does not choose: at most a few hundred windows. */
export const defaultResolution = (hours: number): LearningResolution =>
  hours <= 6 ? 'minute' : hours <= 24 * 14 ? 'hour' : 'day';

const ratio = (a: number, b: number) => (b > 0 ? a / b : null);

/** Sums `items` into windows of `windowMs` and derives each window's figures, oldest first. */
export function learningWindows(items: readonly SeriesItem[], windowMs: number): LearningWindow[] {
  const byWindow = new Map<number, SeriesCounters>();
  for (const item of items) {
    const w = Math.floor((item.window * SERIES_RESOLUTION_MS[item.resolution]) / windowMs);
    const sum = byWindow.get(w) ?? emptySeriesCounters();
    for (const k of Object.keys(sum) as (keyof SeriesCounters)[]) sum[k] += item.counters[k];
    byWindow.set(w, sum);
  }
  return [...byWindow]
    .sort(([a], [b]) => a - b)
    .map(([w, s]) => ({
      start: new Date(w * windowMs).toISOString(),
      end: new Date((w + 1) * windowMs).toISOString(),
      decisions: s.decisions,
      rewardEvents: s.rewardEvents,
      lateEvents: s.lateEvents,
      meanReward: ratio(s.reward, s.decisions),
      uniformEstimate: ratio(s.weightedReward, s.weightSum),
      explorationShare: ratio(s.randomness, s.decisions),
      meanDelaySeconds: s.rewardEvents > 0 ? s.delayMs / s.rewardEvents / 1000 : null,
      sums: s,
    }));
}

/** The last `hours` hours of a decision point's series, up to `now`, in windows of `resolution`. */
export async function readLearningSeries(
  state: Pick<StateStore, 'listSeries'>,
  decisionPoint: string,
  period: { hours: number; resolution?: LearningResolution | undefined },
  now: number,
): Promise<{
  resolution: LearningResolution;
  windowSeconds: number;
  from: string;
  to: string;
  windows: LearningWindow[];
}> {
  const resolution = period.resolution ?? defaultResolution(period.hours);
  if (resolution === 'minute' && period.hours > MINUTE_SERIES_RETENTION_DAYS * 24) {
    throw new ValidationError(
      `resolution minute: minutes are kept ${MINUTE_SERIES_RETENTION_DAYS} days; ask for hours ≤ ${MINUTE_SERIES_RETENTION_DAYS * 24}, or resolution hour or day`,
    );
  }
  const windowMs = WINDOW_MS[resolution];
  const to = (Math.floor(now / windowMs) + 1) * windowMs;
  const from = Math.max(0, to - Math.ceil((period.hours * 3_600_000) / windowMs) * windowMs);
  if ((to - from) / windowMs > MAX_SERIES_WINDOWS) {
    throw new ValidationError(
      `hours ${period.hours} at resolution ${resolution} would be ${(to - from) / windowMs} windows (at most ${MAX_SERIES_WINDOWS}): choose a coarser resolution`,
    );
  }
  const stored: SeriesResolution = resolution === 'minute' ? 'minute' : 'hour';
  const items = await state.listSeries(
    decisionPoint,
    stored,
    seriesWindowOf(from, stored),
    seriesWindowOf(to - 1, stored),
  );
  return {
    resolution,
    windowSeconds: windowMs / 1000,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    windows: learningWindows(items, windowMs),
  };
}
