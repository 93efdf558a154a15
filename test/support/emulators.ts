/**
 * Starts the real-protocol emulators for one test file, with the tables and streams of the synthesised template, and
 * gives it the DynamoDB adapters (administrative clients: no role applies).
 */
import { type Emulators, startEmulators } from '../../local/emulators.ts';
import { defaultSynthesis } from '../../local/twin/assembly.ts';
import { createResources } from '../../local/twin/resources.ts';
import { physicalName, type TwinPlan } from '../../local/twin/template.ts';
import { DynamoAuditLog } from '../../shared/adapters/dynamodb/audit-log.ts';
import { DynamoDeadLetterStore } from '../../shared/adapters/dynamodb/dead-letter-store.ts';
import { DynamoDecisionStore } from '../../shared/adapters/dynamodb/decision-store.ts';
import { DynamoErasureLog } from '../../shared/adapters/dynamodb/erasure-log.ts';
import { DynamoStateStore } from '../../shared/adapters/dynamodb/state-store.ts';

export interface TestStores {
  emulators: Emulators;
  plan: TwinPlan;
  state: DynamoStateStore;
  decisions: DynamoDecisionStore;
  deadLetters: DynamoDeadLetterStore;
  erasures: DynamoErasureLog;
  audit: DynamoAuditLog;
}

let counter = 0;

export async function startTestStores(): Promise<TestStores> {
  const emulators = await startEmulators();
  const { plan } = defaultSynthesis();
  await createResources(plan, emulators);
  return storesFor(emulators, plan);
}

export function storesFor(emulators: Emulators, plan: TwinPlan): TestStores {
  return {
    emulators,
    plan,
    state: new DynamoStateStore(emulators.dynamo, physicalName(plan, 'StateTable')),
    decisions: new DynamoDecisionStore(emulators.dynamo, physicalName(plan, 'DecisionsTable')),
    deadLetters: new DynamoDeadLetterStore(emulators.dynamo, physicalName(plan, 'DeadLetterTable')),
    erasures: new DynamoErasureLog(emulators.dynamo, physicalName(plan, 'StateTable')),
    audit: new DynamoAuditLog(emulators.dynamo, physicalName(plan, 'AuditTable')),
  };
}

/** A decision point name unique within the test file, so tests sharing one emulator do not see each other. */
export const uniqueName = (prefix = 'dp') => `${prefix}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
