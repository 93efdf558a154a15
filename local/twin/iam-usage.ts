/**
 * Where the twins of a test run leave their IAM ledgers for `npm run iam-report`: when `NBA_IAM_USAGE_DIR` is set,
 * each stack writes every distinct call it judged into a file of its own there when it stops.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IamCall, IamLedger } from './iam-enforcement.ts';
import type { TwinPlan } from './template.ts';

export const USAGE_DIR_VARIABLE = 'NBA_IAM_USAGE_DIR';

export interface UsageFile {
  stackName: string;
  calls: (IamCall & { count: number })[];
  /** Denials no test acknowledged as provoked on purpose (each failed its test). */
  unexpectedDenials: IamCall[];
}

export function writeUsage(plan: TwinPlan, ledger: IamLedger, unexpectedDenials: IamCall[]): void {
  const dir = process.env[USAGE_DIR_VARIABLE];
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const file: UsageFile = { stackName: plan.stackName, calls: ledger.entries(), unexpectedDenials };
  writeFileSync(
    join(dir, `usage-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`),
    JSON.stringify(file),
  );
}

export function readUsage(dir: string): UsageFile[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('usage-') && f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as UsageFile);
}
