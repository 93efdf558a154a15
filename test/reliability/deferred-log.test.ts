/** The deferred decision log on its own: what is kept, put again, reported recovered, and reported lost. */
import { describe, expect, it } from 'vitest';
import { DeferredDecisionLog } from '../../shared/app/resilience/deferred-log.ts';
import type { EventStream } from '../../shared/core/ports.ts';
import type { DecisionRecord } from '../../shared/core/schemas.ts';
import { decisionRecord } from '../support/records.ts';

const rec = (i: number) => decisionRecord({ decisionId: `d${i}`, userId: `u${i}`, chosen: 'a' });

function stream(behaviour: (records: readonly DecisionRecord[]) => number[] | Error) {
  const put: DecisionRecord[] = [];
  const s: EventStream = {
    put: async (records) => {
      const out = behaviour(records as DecisionRecord[]);
      if (out instanceof Error) throw out;
      records.forEach((r, i) => {
        if (!out.includes(i)) put.push(r as DecisionRecord);
      });
      return out;
    },
  };
  return { s, put };
}

describe('DeferredDecisionLog', () => {
  it('puts deferred entries at the next flush and keeps the ones the stream still refuses', async () => {
    let recovered = 0;
    const log = new DeferredDecisionLog({ onRecovered: (n) => (recovered += n) });
    for (let i = 0; i < 4; i++) log.defer(rec(i));
    const down = stream(() => new Error('down'));
    await log.flush(down.s);
    expect(log.pending).toBe(4);
    const partly = stream((records) => (records.length === 4 ? [1, 3] : []));
    await log.flush(partly.s);
    expect(partly.put.map((r) => r.decisionId)).toEqual(['d0', 'd2']);
    expect(log.pending).toBe(2);
    const up = stream(() => []);
    await log.flush(up.s);
    expect(up.put.map((r) => r.decisionId)).toEqual(['d1', 'd3']);
    expect(log.pending).toBe(0);
    expect(recovered).toBe(4);
  });

  it('does not queue a late put that succeeded, and queues one that failed', async () => {
    let recovered = 0;
    const log = new DeferredDecisionLog({ onRecovered: (n) => (recovered += n) });
    log.defer(rec(1), Promise.resolve([]));
    log.defer(rec(2), Promise.reject(new Error('timeout')));
    log.defer(rec(3), Promise.resolve([0]));
    await new Promise((r) => setTimeout(r, 0));
    expect(recovered).toBe(1);
    expect(log.pending).toBe(2);
  });

  it('reports entries lost when the buffer overflows or they grow too old, never silently', async () => {
    let t = 0;
    const lost: [string, string[]][] = [];
    const log = new DeferredDecisionLog({
      maxRecords: 3,
      maxAgeMs: 1000,
      now: () => t,
      onLost: (records, reason) => lost.push([reason, records.map((r) => r.decisionId)]),
    });
    for (let i = 0; i < 5; i++) log.defer(rec(i));
    expect(lost).toEqual([
      ['buffer_full', ['d0']],
      ['buffer_full', ['d1']],
    ]);
    t = 5000;
    log.defer(rec(9));
    const up = stream(() => []);
    await log.flush(up.s);
    expect(lost.slice(2)).toEqual([
      ['buffer_full', ['d2']],
      ['too_old', ['d3', 'd4']],
    ]);
    expect(up.put.map((r) => r.decisionId)).toEqual(['d9']);
  });
});
