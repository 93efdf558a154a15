/** Starts the real-protocol emulators for one test file and gives it the DynamoDB adapters. */

import { type Emulators, startEmulators } from '../../local/emulators.ts';
import { DynamoDeadLetterStore } from '../../shared/adapters/dynamodb/dead-letter-store.ts';
import { DynamoDecisionStore } from '../../shared/adapters/dynamodb/decision-store.ts';
import { DynamoStateStore } from '../../shared/adapters/dynamodb/state-store.ts';

export interface TestStores {
  emulators: Emulators;
  state: DynamoStateStore;
  decisions: DynamoDecisionStore;
  deadLetters: DynamoDeadLetterStore;
}

let counter = 0;

export async function startTestStores(): Promise<TestStores> {
  const emulators = await startEmulators();
  return storesFor(emulators);
}

export function storesFor(emulators: Emulators): TestStores {
  const r = emulators.resources;
  return {
    emulators,
    state: new DynamoStateStore(emulators.dynamo, r.stateTable),
    decisions: new DynamoDecisionStore(emulators.dynamo, r.decisionsTable),
    deadLetters: new DynamoDeadLetterStore(emulators.dynamo, r.deadLetterTable),
  };
}

/** A decision point name unique within the test file, so tests sharing one emulator do not see each other. */
export const uniqueName = (prefix = 'dp') => `${prefix}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
