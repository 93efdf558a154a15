/**
 * In-memory SnapshotStore and PublishLease, for the simulator and fast tests: the same semantics as the S3 store and
 * the DynamoDB lease (one replica; the lease's conditions as in shared/adapters/dynamodb/publish-lease.ts).
 */
import type { PublishLease, SnapshotPointer, SnapshotStore } from '../../core/ports.ts';

export class MemorySnapshotStore implements SnapshotStore {
  private readonly pointers = new Map<string, SnapshotPointer>();
  private readonly snapshots = new Map<string, Uint8Array>();
  /** Reads of pointers and of snapshots, and publishes, for tests that count them. */
  readonly reads = { pointers: 0, snapshots: 0 };
  publishes = 0;

  async publish(pointer: SnapshotPointer, snapshot: Uint8Array): Promise<void> {
    this.publishes++;
    this.snapshots.set(pointer.decisionPoint, snapshot.slice());
    this.pointers.set(pointer.decisionPoint, { ...pointer });
  }

  async getPointer(decisionPoint: string): Promise<SnapshotPointer | undefined> {
    this.reads.pointers++;
    const p = this.pointers.get(decisionPoint);
    return p && { ...p };
  }

  async getSnapshot(decisionPoint: string): Promise<Uint8Array | undefined> {
    this.reads.snapshots++;
    return this.snapshots.get(decisionPoint)?.slice();
  }
}

export class MemoryPublishLease implements PublishLease {
  private readonly items = new Map<string, { owner?: string; until: number; requests: number; readAt: number }>();

  private item(dp: string) {
    let i = this.items.get(dp);
    if (!i) {
      i = { until: 0, requests: 0, readAt: 0 };
      this.items.set(dp, i);
    }
    return i;
  }

  async request(decisionPoint: string): Promise<void> {
    this.item(decisionPoint).requests++;
  }

  async acquire(
    decisionPoint: string,
    owner: string,
    now: number,
    ttlMs: number,
  ): Promise<{ requests: number; readAt: number } | undefined> {
    const i = this.item(decisionPoint);
    if (i.until >= now) return undefined;
    i.owner = owner;
    i.until = now + ttlMs;
    return { requests: i.requests, readAt: i.readAt };
  }

  async release(
    decisionPoint: string,
    owner: string,
    seen: number,
    readAt: number,
    now: number,
    ttlMs: number,
    force = false,
  ): Promise<number | undefined> {
    const i = this.item(decisionPoint);
    if (i.owner !== owner) return undefined;
    i.readAt = Math.max(i.readAt, readAt);
    if (force || i.requests === seen) {
      i.until = 0;
      return undefined;
    }
    i.until = now + ttlMs;
    return i.requests;
  }
}
