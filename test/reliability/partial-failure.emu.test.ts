/**
 * The smallest cases the replay harness found: a record fails in one step of a batch while a LATER record of the same
 * batch contributes to the same statistics item. Each case delivers the batch once with one injected failure, then
 * redelivers from the reported sequence number as Lambda does, and compares with the specification's reference.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApplyBatchDeps, applyBatch, type StreamEntry } from '../../shared/app/learn/apply-batch.ts';
import type { DeadLetterStore, DecisionStore } from '../../shared/core/ports.ts';
import { startTestStores, type TestStores, uniqueName } from '../support/emulators.ts';
import { compareStatistics } from '../support/feedback-compare.ts';
import { referenceFeedback } from '../support/feedback-reference.ts';
import { decisionRecord, entries, eventRecord } from '../support/records.ts';

let s: TestStores;
beforeAll(async () => {
  s = await startTestStores();
});
afterAll(async () => {
  await s.emulators.close();
});

const deps = (over: Partial<ApplyBatchDeps> = {}): ApplyBatchDeps => ({
  state: s.state,
  decisions: s.decisions,
  deadLetters: s.deadLetters,
  statsPartitions: 1,
  ...over,
});

/** A store whose method `name` fails once, on the call `when` selects: a throttled call after the SDK's retries. */
function failingOnce<T extends object>(target: T, name: keyof T, when: (...args: never[]) => boolean): T {
  let failed = false;
  return new Proxy(target, {
    get(t, prop, receiver) {
      const v = Reflect.get(t, prop, receiver);
      if (typeof v !== 'function') return v;
      if (prop !== name) return v.bind(t);
      return (...args: never[]) => {
        if (!failed && when(...args)) {
          failed = true;
          return Promise.reject(new Error('ProvisionedThroughputExceededException (injected)'));
        }
        return v.apply(t, args);
      };
    },
  });
}

/** Delivers `stream` with the faulty deps, then redelivers from the reported failure with clean ones, as Lambda does. */
async function deliverWithRedelivery(stream: StreamEntry[], faulty: ApplyBatchDeps): Promise<void> {
  const first = await applyBatch(stream, faulty);
  expect(first.failedFrom, 'the injected failure is reported').toBeDefined();
  const from = stream.findIndex((e) => e.sequenceNumber === first.failedFrom);
  expect(from).toBeGreaterThanOrEqual(0);
  expect((await applyBatch(stream.slice(from), deps())).failedFrom).toBeUndefined();
}

/**
 * Delivers the stream with one injected failure and redelivers from where the updater says, then compares with what
 * the specification's reference says the records teach (not with another run of the updater).
 */
async function expectReferenceState(build: (dp: string) => unknown[], faulty: (dp: string) => ApplyBatchDeps) {
  const dp = uniqueName('dp');
  const payloads = build(dp);
  await deliverWithRedelivery(entries('shard-1', payloads), faulty(dp));
  const reference = referenceFeedback(payloads.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))));
  const { diffs } = await compareStatistics(s.state, [dp], reference);
  expect(diffs).toEqual([]);
  // The comparison is not vacuous: the reference holds what these cases are about.
  expect([...reference.stats.values()].reduce((n, x) => n + x.n, 0)).toBeGreaterThan(0);
}

describe('a failure in the middle of a batch, redelivered from the reported sequence number', () => {
  it('keeps the impression of a decision whose claim failed while a later decision updated the same item', async () => {
    await expectReferenceState(
      (dp) => [
        decisionRecord({ decisionPoint: dp, decisionId: `${dp}-1`, userId: `${dp}-u1`, chosen: 'a' }),
        decisionRecord({ decisionPoint: dp, decisionId: `${dp}-2`, userId: `${dp}-u2`, chosen: 'a' }),
      ],
      (dp) =>
        deps({
          decisions: failingOnce<DecisionStore>(
            s.decisions,
            'claimDecision',
            ((d: { decisionId: string }) => d.decisionId === `${dp}-1`) as never,
          ),
        }),
    );
  });

  it('keeps the reward of an event whose claim failed while a later event rewarded the same item', async () => {
    await expectReferenceState(
      (dp) => [
        decisionRecord({ decisionPoint: dp, decisionId: `${dp}-1`, userId: `${dp}-u1`, chosen: 'a' }),
        decisionRecord({ decisionPoint: dp, decisionId: `${dp}-2`, userId: `${dp}-u2`, chosen: 'a' }),
        eventRecord({ eventId: 'e1', userId: `${dp}-u1`, decisionId: `${dp}-1`, type: 'click' }),
        eventRecord({ eventId: 'e2', userId: `${dp}-u2`, decisionId: `${dp}-2`, type: 'click' }),
      ],
      () =>
        deps({
          decisions: failingOnce<DecisionStore>(
            s.decisions,
            'claimEvent',
            ((c: { eventId: string }) => c.eventId === 'e1') as never,
          ),
        }),
    );
  });

  it('keeps everything after a poison record whose dead letter could not be stored', async () => {
    await expectReferenceState(
      (dp) => [
        decisionRecord({ decisionPoint: dp, decisionId: `${dp}-1`, userId: `${dp}-u1`, chosen: 'a' }),
        'not json',
        decisionRecord({ decisionPoint: dp, decisionId: `${dp}-2`, userId: `${dp}-u2`, chosen: 'a' }),
        eventRecord({ eventId: 'e1', userId: `${dp}-u1`, decisionId: `${dp}-1`, type: 'click' }),
      ],
      () => deps({ deadLetters: failingOnce<DeadLetterStore>(s.deadLetters, 'put', (() => true) as never) }),
    );
  });
});
