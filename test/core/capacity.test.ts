/**
 * Specification (shared/core/capacity.ts, docs/ARCHITECTURE.md §6): for any load from 10⁴ to the seed system's
 * 1.6 × 10⁷ decisions per second, the design the plan names keeps every hard limit (per shard, per partition, per
 * prefix) at or under 100% in every cell, raising soft quotas only by a stated request; the stream's shards carry the
 * records and bytes by the per-shard limits, computed here independently from the record sizes; and the cost grows
 * with the load. The command answers bad arguments with exit code 2.
 */
import { describe, expect, it } from 'vitest';
import { runCapacity } from '../../cli/capacity.ts';
import { costPerMillionByPath, LIMITS, MEASURED, PRICES, planCapacity } from '../../shared/core/capacity.ts';

const loads = [1e4, 1e5, 1e6, 1.6e7];

describe('capacity plan', () => {
  it.each([10, 100, 1000])(
    'keeps every hard limit at or under its limit per cell from 10⁴ to 1.6 × 10⁷ decisions/s (K = %i)',
    (K) => {
      for (const D of loads) {
        for (const objectives of [0, 2]) {
          const plan = planCapacity({
            decisionsPerSecond: D,
            eventsPerSecond: D / 5,
            actions: K,
            decisionPoints: 1,
            objectives,
            refreshMs: 1000,
          });
          for (const r of plan.resources) {
            if (r.kind === 'hard') expect(r.utilisation, `${r.resource} at ${D}/s`).toBeLessThanOrEqual(1);
            else if (r.utilisation > 0.8) expect(r.request, r.resource).toBeGreaterThanOrEqual(r.need);
          }
          // Independently: all cells' shards carry the records and bytes at the per-shard limits.
          const shards = plan.design.cells * plan.design.shardsPerCell;
          const bytes = D * MEASURED.decisionRecordBytes;
          expect(shards * LIMITS.shardRecordsPerSecond).toBeGreaterThanOrEqual(D + D / 5);
          expect(shards * LIMITS.shardBytesInPerSecond).toBeGreaterThanOrEqual(bytes);
          expect(plan.costPerMillionDecisions).toBeGreaterThan(0);
        }
      }
    },
  );

  it('prices a million decisions by path: a job at most $0.10, one request each at least the request and the invocation', () => {
    const [single, batch, job] = costPerMillionByPath(100);
    // The floor of one request per decision, from the prices alone: API Gateway's first tier and Lambda's request fee.
    expect(single!.perMillion).toBeGreaterThanOrEqual(PRICES.apiGatewayTiers[0][1] + PRICES.lambdaPerMillionRequests);
    expect(batch!.perMillion).toBeLessThan(single!.perMillion);
    expect(job!.perMillion).toBeLessThanOrEqual(0.1);
    // Every part is priced from a measured input, none left at zero.
    for (const p of [single!, batch!, job!])
      for (const [k, v] of Object.entries(p.parts)) expect(v, `${p.path} ${k}`).toBeGreaterThan(0);
  });

  it('costs more for more decisions, and splits into cells only when one stack cannot carry the load', () => {
    const plans = loads.map((D) =>
      planCapacity({
        decisionsPerSecond: D,
        eventsPerSecond: D / 5,
        actions: 100,
        decisionPoints: 1,
        objectives: 0,
        refreshMs: 1000,
      }),
    );
    for (let i = 1; i < plans.length; i++) {
      expect(plans[i]!.monthlyCost.total).toBeGreaterThan(plans[i - 1]!.monthlyCost.total);
      expect(plans[i]!.design.cells).toBeGreaterThanOrEqual(plans[i - 1]!.design.cells);
    }
    expect(plans[0]!.design.cells).toBe(1);
    expect(plans[3]!.design.cells).toBeGreaterThan(1);
  });

  it('answers bad arguments with exit 2 and prints JSON on --json', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const streams = {
      stdout: { write: (s: string) => out.push(s) > 0 },
      stderr: { write: (s: string) => err.push(s) > 0 },
    };
    expect(await runCapacity(['--decisions-per-second', '1000'], streams)).toBe(2);
    expect(err.join('')).toMatch(/missing --events-per-second, --actions, --decision-points/);
    expect(
      await runCapacity(
        ['--decisions-per-second', 'x', '--events-per-second', '1', '--actions', '3', '--decision-points', '1'],
        streams,
      ),
    ).toBe(2);
    out.length = 0;
    const args = [
      '--decisions-per-second',
      '1000',
      '--events-per-second',
      '200',
      '--actions',
      '100',
      '--decision-points',
      '1',
    ];
    expect(await runCapacity([...args, '--json'], streams)).toBe(0);
    expect(JSON.parse(out.join('')).design.cells).toBe(1);
  });
});
