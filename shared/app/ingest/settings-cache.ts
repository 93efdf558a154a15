/**
 * Decision point settings as the events function reads them (to refuse a `value` a decision point does not accept,
 * F9): cached per container like API keys, 60 s for one that exists and 5 s for one that does not, so a burst of
 * feedback costs one read per decision point and minute.
 */
import type { StateStore } from '../../core/ports.ts';
import type { DecisionPointSettings } from '../../core/schemas.ts';

export class SettingsCache {
  private readonly cache = new Map<string, { settings: DecisionPointSettings | undefined; until: number }>();

  constructor(
    private readonly store: Pick<StateStore, 'getDecisionPoint'>,
    private readonly now: () => number = Date.now,
  ) {}

  async get(decisionPoint: string): Promise<DecisionPointSettings | undefined> {
    const hit = this.cache.get(decisionPoint);
    if (hit && hit.until > this.now()) return hit.settings;
    const settings = (await this.store.getDecisionPoint(decisionPoint))?.settings;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(decisionPoint, { settings, until: this.now() + (settings ? 60_000 : 5_000) });
    return settings;
  }
}
