/**
 * How the updater finds a decision job's decision (docs/ARCHITECTURE.md F2d): the decision store, then, for an id
 * of the job form that it does not hold, the chunk's lake object the id locates, read once per chunk (a container
 * keeps the last few chunks it read). A decision found there is stored as the decision store's entry (first writer
 * wins, as a stream decision record's would be) before it is handed to the join: from then on it is an ordinary
 * decision to the join, the intent claims and the retention, and it costs one write per decision that gets feedback,
 * not one per decision made. Its claim is the chunk's writer position, so no stream record counts its impressions
 * again (the job applied them).
 */
import type { StoredDecision } from '../../core/domain.ts';
import type { DecisionStore } from '../../core/ports.ts';
import type { BlobStore } from '../retrain/ports.ts';
import { storedJobDecision } from './decide-chunk.ts';
import { jobLakeKey, parseJobDecisionId, readJobLakeObject } from './job.ts';

/** Chunks a container keeps parsed (a chunk of 10,000 decisions at K = 100 is ≈ 20 MB parsed). */
const CACHED_CHUNKS = 4;

export class JobDecisionLookup {
  private readonly chunks = new Map<string, Promise<Map<string, StoredDecision>>>();

  constructor(
    private readonly store: DecisionStore,
    private readonly lake: BlobStore,
  ) {}

  /** The decision store with job decisions resolved: what the updater's join reads through. */
  get decisions(): DecisionStore {
    const store = this.store;
    return {
      claimDecision: (d) => store.claimDecision(d),
      getDecisions: (ids) => this.getDecisions(ids),
      claimReached: (id, claims) => store.claimReached(id, claims),
      getUsers: (ids) => store.getUsers(ids),
      putUser: (user, expected) => store.putUser(user, expected),
      getUserStage: (userId, dp) => store.getUserStage(userId, dp),
      getEventClaims: (pairs) => store.getEventClaims(pairs),
      claimEvent: (claim) => store.claimEvent(claim),
    };
  }

  private async getDecisions(ids: readonly string[]): Promise<Map<string, StoredDecision>> {
    const found = await this.store.getDecisions(ids);
    const wanted = new Map<string, string[]>();
    for (const id of ids) {
      if (found.has(id)) continue;
      const job = parseJobDecisionId(id);
      if (!job) continue;
      const key = jobLakeKey(job.jobId, job.chunk);
      wanted.set(key, [...(wanted.get(key) ?? []), id]);
    }
    for (const [key, want] of wanted) {
      const chunk = await this.chunk(key);
      for (const id of want) {
        const d = chunk.get(id);
        if (d) found.set(id, await this.store.claimDecision(d));
      }
    }
    return found;
  }

  private chunk(key: string): Promise<Map<string, StoredDecision>> {
    let c = this.chunks.get(key);
    if (c) {
      this.chunks.delete(key);
      this.chunks.set(key, c);
      return c;
    }
    c = this.read(key);
    // A failed read, or a chunk not (yet) there, is not kept: the next batch reads again.
    c.then(
      (m) => m.size === 0 && this.chunks.delete(key),
      () => this.chunks.delete(key),
    );
    this.chunks.set(key, c);
    if (this.chunks.size > CACHED_CHUNKS) this.chunks.delete(this.chunks.keys().next().value!);
    return c;
  }

  private async read(key: string): Promise<Map<string, StoredDecision>> {
    const bytes = await this.lake.get(key);
    return new Map((bytes ? readJobLakeObject(bytes) : []).map((r) => [r.decisionId, storedJobDecision(r)]));
  }
}
