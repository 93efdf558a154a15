/**
 * The learning series a reader sees (docs/ARCHITECTURE.md §10.1): the stored hourly sums of every writer partition
 * added up per hour, and the figures the console charts derived from them. Hours without decisions are left out.
 */
import {
  emptySeriesCounters,
  SERIES_WINDOW_MS,
  type SeriesCounters,
  type SeriesItem,
  seriesWindowOf,
} from '../../core/domain.ts';
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
  /** The additive sums the figures come from (to pool hours). */
  sums: SeriesCounters;
}

/** At most this many hours per request (90 days). */
export const MAX_SERIES_HOURS = 2160;

const ratio = (a: number, b: number) => (b > 0 ? a / b : null);

/** Sums `items` per window and derives each window's figures, oldest first. */
export function learningWindows(items: readonly SeriesItem[]): LearningWindow[] {
  const byWindow = new Map<number, SeriesCounters>();
  for (const item of items) {
    const sum = byWindow.get(item.window) ?? emptySeriesCounters();
    for (const k of Object.keys(sum) as (keyof SeriesCounters)[]) sum[k] += item.counters[k];
    byWindow.set(item.window, sum);
  }
  return [...byWindow]
    .sort(([a], [b]) => a - b)
    .map(([window, s]) => ({
      start: new Date(window * SERIES_WINDOW_MS).toISOString(),
      end: new Date((window + 1) * SERIES_WINDOW_MS).toISOString(),
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

/** The last `hours` hours of a decision point's series, up to the hour of `now`. */
export async function readLearningSeries(
  state: Pick<StateStore, 'listSeries'>,
  decisionPoint: string,
  hours: number,
  now: number,
): Promise<{ from: string; to: string; windows: LearningWindow[] }> {
  const last = seriesWindowOf(now);
  const first = last - hours + 1;
  return {
    from: new Date(first * SERIES_WINDOW_MS).toISOString(),
    to: new Date((last + 1) * SERIES_WINDOW_MS).toISOString(),
    windows: learningWindows(await state.listSeries(decisionPoint, first, last)),
  };
}
