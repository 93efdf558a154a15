/**
 * The console's "share of traffic" (issue 15): each action's impressions from decisions of today and yesterday (UTC),
 * summed over writer partitions, from the `default` policy's statistics only (objective and intent items count the
 * same decisions again), against hand-counted figures.
 */
import { describe, expect, it } from 'vitest';
import { recentImpressions } from '../../shared/app/catalog/model-summary.ts';
import { emptyStats } from '../../shared/core/bandit/stats.ts';

const DAY = 86_400_000;
const now = Date.UTC(2026, 11, 1, 0, 30);
const today = Math.floor(now / DAY);
const item = (objective: string, actionId: string, bucket: number, n: number) => ({
  objective,
  actionId,
  bucket,
  stats: { ...emptyStats(2), n },
});

describe('recent traffic per action', () => {
  it('counts default impressions of today and yesterday over partitions, and nothing older or of other policies', () => {
    const r = recentImpressions(
      [
        item('default', 'a', today, 3), // partition 0
        item('default', 'a', today, 4), // partition 1
        item('default', 'a', today - 1, 5),
        item('default', 'a', today - 2, 100), // too old
        item('default', 'b', today - 1, 8),
        item('click', 'a', today, 50), // an objective's policy: the same decisions again
        item('intent:click', '*', today, 70),
      ],
      now,
    );
    expect(r).toEqual({ since: '2026-11-30T00:00:00.000Z', total: 20, byAction: { a: 12, b: 8 } });
  });

  it('is empty, not a division by zero, without recent traffic', () => {
    expect(recentImpressions([item('default', 'a', today - 5, 9)], now)).toEqual({
      since: '2026-11-30T00:00:00.000Z',
      total: 0,
      byAction: {},
    });
  });
});
