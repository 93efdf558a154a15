/**
 * The publish lease's rules (shared/core/ports.ts PublishLease; shared/adapters/dynamodb/publish-lease.ts), held by
 * both adapters: the DynamoDB one against dynalite and the in-memory one the publisher's interleaving tests use, so
 * those tests say something about the deployed lease.
 * - one holder at a time; an expired lease can be taken;
 * - release frees only if no request was counted since `seen`, and otherwise keeps the lease (renewed) and returns
 *   the new count; `force` frees whatever was counted; a non-holder's release changes nothing;
 * - the read time recorded at release is what the next holder gets (pacing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoPublishLease } from '../../shared/adapters/dynamodb/publish-lease.ts';
import { MemoryPublishLease } from '../../shared/adapters/memory/snapshot-store.ts';
import type { PublishLease } from '../../shared/core/ports.ts';
import { startTestStores, type TestStores, uniqueName } from '../support/emulators.ts';

let dyn: TestStores;
beforeAll(async () => {
  dyn = await startTestStores();
});
afterAll(async () => {
  await dyn?.emulators.close();
});

const TTL = 10_000;

describe.each([
  [
    'DynamoDB',
    () =>
      new DynamoPublishLease(dyn.emulators.dynamo, dyn.plan.tables.find((t) => t.constructName === 'StateTable')!.name),
  ],
  ['memory', () => new MemoryPublishLease()],
] as const)('publish lease (%s)', (_, make: () => PublishLease) => {
  it('has one holder at a time, and an expired lease can be taken', async () => {
    const lease = make();
    const dp = uniqueName();
    expect(await lease.acquire(dp, 'a', 1_000, TTL)).toEqual({ requests: 0, readAt: 0 });
    expect(await lease.acquire(dp, 'b', 2_000, TTL)).toBeUndefined();
    expect(await lease.acquire(dp, 'b', 1_000 + TTL + 1, TTL)).toEqual({ requests: 0, readAt: 0 });
  });

  it('frees only when no request came since the holder read the count, else keeps it and returns the count', async () => {
    const lease = make();
    const dp = uniqueName();
    await lease.request(dp);
    const held = await lease.acquire(dp, 'a', 1_000, TTL);
    expect(held?.requests).toBe(1);
    await lease.request(dp);
    // A request after the holder's read: it goes again, holding the lease.
    expect(await lease.release(dp, 'a', 1, 1_100, 1_200, TTL)).toBe(2);
    expect(await lease.acquire(dp, 'b', 1_300, TTL)).toBeUndefined();
    // A non-holder's release changes nothing.
    expect(await lease.release(dp, 'b', 2, 1_400, 1_400, TTL, true)).toBeUndefined();
    expect(await lease.acquire(dp, 'b', 1_500, TTL)).toBeUndefined();
    // No request since: freed, and the next holder learns when the last read began.
    expect(await lease.release(dp, 'a', 2, 1_600, 1_700, TTL)).toBeUndefined();
    expect(await lease.acquire(dp, 'b', 1_800, TTL)).toEqual({ requests: 2, readAt: 1_600 });
    await lease.request(dp);
    // Forced: freed whatever was counted.
    expect(await lease.release(dp, 'b', 2, 1_900, 2_000, TTL, true)).toBeUndefined();
    expect(await lease.acquire(dp, 'c', 2_100, TTL)).toEqual({ requests: 3, readAt: 1_900 });
  });
});
