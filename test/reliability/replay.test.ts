/**
 * Fault-tolerant learning, end to end: the replay harness (`bench/reliability/replay.ts`) drives the real updater
 * handler through the local event source mapping against dynalite/kinesalite, with duplicates, poison, throttling,
 * lost responses, failures after the SDK's retries, crashes mid-batch, overlapping redeliveries and a second updater
 * racing on the same shards and items. `NBA_RELIABILITY_EVENTS` sets the size (CI default 10,000; `npm run bench`
 * runs 100,000).
 */
import { describe, expect, it } from 'vitest';
import { formatReplay, runReplay } from '../../bench/reliability/replay.ts';

const events = Number(process.env.NBA_RELIABILITY_EVENTS ?? 10_000);

describe('the updater under replay with faults', () => {
  it(`ends in exactly the state of the unique valid events, with every poison record dead-lettered (${events} records)`, async () => {
    const report = await runReplay({ events });
    console.log(formatReplay(report));

    // The workload is what the issue asks for.
    expect(report.events).toBe(events);
    expect(report.duplicates / report.events).toBeCloseTo(0.2, 3);
    const poison = Object.values(report.poison).reduce((a, b) => a + b, 0);
    expect(poison / report.events).toBeCloseTo(0.01, 3);
    // The faults really happened: the assertions below are not vacuous.
    expect(report.faults.throttled).toBeGreaterThan(0);
    expect(report.faults.lostResponses).toBeGreaterThan(0);
    expect(report.faults.exhausted).toBeGreaterThan(0);
    expect(report.faults.crashes).toBeGreaterThan(0);
    expect(report.faults.conflicts).toBeGreaterThan(0);
    expect(report.updaters.reduce((n, u) => n + u.redeliveries, 0)).toBeGreaterThan(0);
    expect(report.updaters.reduce((n, u) => n + u.partialFailures, 0)).toBeGreaterThan(0);

    // Nothing lost, nothing counted twice.
    expect(report.mismatches).toEqual([]);
    expect(report.lostValidEvents).toBe(0);
    expect(report.abandonedBatches).toBe(0);
    expect(report.deadLetters).toEqual({ stored: poison, expected: poison, missing: 0, unexpected: 0, wrongReason: 0 });
  }, 600_000);
});
