/**
 * Erasing a user's data from the tables, against the emulators: the user's items are made by the updater core itself
 * (decisions, event claims, the user item with a held event, dead letters), then erased by pseudonym. What remains is
 * read back with full Scans, not through the adapters under test.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { physicalName } from '../../local/twin/template.ts';
import { applyBatch } from '../../shared/app/learn/apply-batch.ts';
import { eraseUser } from '../../shared/app/privacy/erase-user.ts';
import { pseudonymise } from '../../shared/core/privacy.ts';
import { startTestStores, type TestStores, uniqueName } from '../support/emulators.ts';
import { decisionRecord, entries, eventRecord } from '../support/records.ts';

let s: TestStores;
beforeAll(async () => {
  s = await startTestStores();
});
afterAll(async () => {
  await s.emulators.close();
});

const KEY = 'a test key of at least thirty-two characters';

/** Every item of a table, as plain objects (a Scan of the whole table: nothing the adapters choose to show). */
async function scan(
  construct: 'StateTable' | 'DecisionsTable' | 'DeadLetterTable',
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, never> | undefined;
  do {
    const page = await s.emulators.dynamo.send(
      new ScanCommand({ TableName: physicalName(s.plan, construct), ExclusiveStartKey: start }),
    );
    items.push(...(page.Items ?? []).map((i) => unmarshall(i)));
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return items;
}
/** Items that name the user anywhere: a key, an attribute, a record stored as text. */
const naming = (items: Record<string, unknown>[], userId: string) =>
  items.filter((i) => JSON.stringify(i).includes(userId));
const keyOf = (i: Record<string, unknown>) => String(i.decisionId ?? i.id);

/** A user's life in one decision point: decisions, clicks (with and without decisionId), a stage, a held event. */
function traffic(dp: string, user: string, tag: string, t0: number): unknown[] {
  const at = (m: number) => t0 + m * 60_000;
  return [
    decisionRecord({ decisionPoint: dp, decisionId: `${tag}-d1`, userId: user, chosen: 'a', at: at(0) }),
    decisionRecord({ decisionPoint: dp, decisionId: `${tag}-d2`, userId: user, chosen: 'b', at: at(1) }),
    decisionRecord({ decisionPoint: dp, decisionId: `${tag}-d3`, userId: user, chosen: 'a', at: at(2) }),
    eventRecord({ eventId: `${tag}-e1`, userId: user, decisionId: `${tag}-d1`, type: 'click' }, at(3)),
    eventRecord({ eventId: `${tag}-e2`, userId: user, type: 'click' }, at(4)),
    eventRecord({ eventId: `${tag}-e3`, userId: user, type: 'stage', stage: 'lead' }, at(5)),
    // Names a decision that never comes: held, in the user item and in the dead letters.
    eventRecord({ eventId: `${tag}-e4`, userId: user, decisionId: `${tag}-never`, type: 'click' }, at(6)),
    // Names an action the decision did not choose: dead-lettered.
    eventRecord({ eventId: `${tag}-e5`, userId: user, decisionId: `${tag}-d2`, actionId: 'zzz', type: 'click' }, at(7)),
  ];
}

describe('erasing a user', () => {
  it('deletes every item that names the user from the decisions and dead-letter tables, and nobody else’s', async () => {
    const dp = uniqueName();
    const alice = pseudonymise(KEY, `alice@${dp}`);
    const bob = pseudonymise(KEY, `bob@${dp}`);
    const t0 = 1_700_000_000_000;
    const out = await applyBatch(
      entries('shard-0', [...traffic(dp, alice, `${dp}-a`, t0), ...traffic(dp, bob, `${dp}-b`, t0)]),
      { state: s.state, decisions: s.decisions, deadLetters: s.deadLetters, statsPartitions: 2 },
    );
    expect(out.failedFrom).toBeUndefined();

    const before = { decisions: await scan('DecisionsTable'), deadLetters: await scan('DeadLetterTable') };
    const aliceItems = naming(before.decisions, alice);
    const bobKeys = naming(before.decisions, bob).map(keyOf).sort();
    const bobLetters = naming(before.deadLetters, bob).map(keyOf).sort();
    // What the updater wrote for her, counted here by key shape: the user item, 3 decisions, 3 event claims.
    const kinds = {
      users: aliceItems.filter((i) => keyOf(i).startsWith('USER#')).length,
      eventClaims: aliceItems.filter((i) => keyOf(i).startsWith('EVENT#')).length,
      decisions: aliceItems.filter((i) => !/^(USER|EVENT)#/.test(keyOf(i))).length,
      deadLetters: naming(before.deadLetters, alice).length,
    };
    expect(kinds).toEqual({ users: 1, eventClaims: 3, decisions: 3, deadLetters: 2 });

    const erasedAt = Date.UTC(2026, 0, 1);
    const result = await eraseUser(alice, {
      erasures: s.erasures,
      stores: [s.decisions, s.deadLetters],
      now: () => erasedAt,
    });
    expect(result).toEqual({ pseudonym: alice, erasedAt: new Date(erasedAt).toISOString(), deleted: kinds });

    expect(naming(await scan('DecisionsTable'), alice)).toEqual([]);
    expect(naming(await scan('DeadLetterTable'), alice)).toEqual([]);
    expect(
      naming(await scan('DecisionsTable'), bob)
        .map(keyOf)
        .sort(),
    ).toEqual(bobKeys);
    expect(
      naming(await scan('DeadLetterTable'), bob)
        .map(keyOf)
        .sort(),
    ).toEqual(bobLetters);
    // The only trace left: the erasure itself (pseudonym and time), which retraining reads.
    expect(naming(await scan('StateTable'), alice)).toEqual([
      expect.objectContaining({ pk: 'ERASED', sk: alice, erasedAt, expiresAt: expect.any(Number) }),
    ]);
    expect(await s.decisions.getUserStage(alice, dp)).toBeUndefined();
  });

  it('is idempotent, and a later erasure moves the erasure time forward, never back', async () => {
    const user = pseudonymise(KEY, uniqueName('carol'));
    const deps = (t: number) => ({ erasures: s.erasures, stores: [s.decisions, s.deadLetters], now: () => t });
    await eraseUser(user, deps(2000));
    const again = await eraseUser(user, deps(3000));
    expect(again.deleted).toEqual({ users: 0, decisions: 0, eventClaims: 0, deadLetters: 0 });
    expect(again.erasedAt).toBe(new Date(3000).toISOString());
    // A retried request that arrives late (an older time) must not shorten what retraining leaves out.
    const late = await eraseUser(user, deps(1000));
    expect(late.erasedAt).toBe(new Date(3000).toISOString());
    expect((await s.erasures.list()).filter((e) => e.userId === user)).toEqual([{ userId: user, erasedAt: 3000 }]);
  });

  it('keeps each erasure for its retention: expiresAt is the erasure time plus the retention', async () => {
    const user = pseudonymise(KEY, uniqueName('dave'));
    await eraseUser(user, { erasures: s.erasures, stores: [], now: () => 1_000_000 });
    const [item] = naming(await scan('StateTable'), user);
    // The test stores keep erasures for the default 372 days (a year of lake plus a week).
    expect(item?.expiresAt).toBe(1000 + 372 * 86_400);
  });
});
