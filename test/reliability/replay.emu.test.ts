/**
 * Fault-tolerant learning, end to end: the replay harness (`bench/reliability/replay.ts`) drives the real updater
 * handler through the local event source mapping against dynalite/kinesalite, with duplicates, poison, throttling,
 * lost responses, failures after the SDK's retries, crashes mid-batch, overlapping redeliveries and a second updater
 * racing on the same shards and items, over the feedback property's traffic; the result must equal the
 * specification's reference. `NBA_RELIABILITY_EVENTS` sets the size (CI default 10,000; `npm run bench` runs
 * 100,000).
 */
import { describe, expect, it } from 'vitest';
import { formatReplay, runReplay } from '../../bench/reliability/replay.ts';

const events = Number(process.env.NBA_RELIABILITY_EVENTS ?? 10_000);

describe('the updater under replay with faults', () => {
  it(`ends in exactly the reference's state: nothing lost, nothing counted twice (${events} records)`, async () => {
    const report = await runReplay({ events });
    console.log(formatReplay(report));

    // The workload has the client patterns of the README: events without decisionId, retries, held events.
    expect(report.events).toBe(events);
    expect(report.counts.withoutDecisionId).toBeGreaterThan(events / 10);
    expect(report.counts.clientRetries).toBeGreaterThan(events / 20);
    expect(report.counts.deadLetters).toBeGreaterThan(0);
    // The faults really happened: the assertions below are not vacuous.
    expect(report.faults.throttled).toBeGreaterThan(0);
    expect(report.faults.lostResponses).toBeGreaterThan(0);
    expect(report.faults.exhausted).toBeGreaterThan(0);
    expect(report.faults.crashes).toBeGreaterThan(0);
    expect(report.faults.conflicts).toBeGreaterThan(0);
    expect(report.updaters.reduce((n, u) => n + u.redeliveries, 0)).toBeGreaterThan(0);
    expect(report.updaters.reduce((n, u) => n + u.partialFailures, 0)).toBeGreaterThan(0);

    // Exactly the reference: nothing lost, nothing counted twice, no valid record dead-lettered.
    expect(report.mismatches.slice(0, 20)).toEqual([]);
    expect(report.tally).toEqual({ lost: 0, double: 0, wrongDeadLetters: 0, missingDeadLetters: 0 });
    expect(report.abandonedBatches).toBe(0);
  }, 600_000);
});
