/**
 * Least privilege, measured: every grant of every function's role (from the template) beside the calls the twin saw
 * that function make under it (from the ledgers of an end-to-end run, iam-usage.ts). A grant no call used is either
 * to be removed or to be justified in cdk/nag.ts (`UNUSED_GRANTS`); a call no grant allowed is a denial, which
 * already failed the test that made it.
 */
import { UNUSED_GRANTS } from '../../cdk/nag.ts';
import type { IamCall } from './iam-enforcement.ts';
import { type Grant, grantAllows, grantsOf } from './iam-policy.ts';
import type { UsageFile } from './iam-usage.ts';
import type { TwinPlan } from './template.ts';

export interface GrantRow {
  function: string;
  action: string;
  resource: string;
  condition: string | undefined;
  /** Calls this grant allowed (sum over distinct calls). */
  calls: number;
  /** Distinct actions the calls made under this grant, e.g. the `dynamodb:GetItem` of a `dynamodb:Get*` grant. */
  usedActions: string[];
  justification: string | undefined;
}

export interface IamReport {
  rows: GrantRow[];
  /** Denials no test expected: each failed the test that caused it. */
  denied: IamCall[];
  /** Denials tests provoked on purpose (and acknowledged): the evidence that roles are enforced. */
  provoked: (IamCall & { count: number })[];
  /** Unused grants nobody justified: each is a finding. */
  unjustified: GrantRow[];
}

/** The function a principal acts for: the event source mapping acts with its function's role. */
const functionOf = (principal: string) => principal.replace(/ \(.*\)$/, '');

export function buildReport(plan: TwinPlan, usage: readonly UsageFile[]): IamReport {
  const calls = usage.flatMap((u) => u.calls);
  const display = displayNames(plan);
  const rows: GrantRow[] = [];
  for (const fn of plan.functions) {
    const mine = calls.filter((c) => functionOf(c.principal) === fn.name && c.decision === 'Allowed');
    for (const grant of dedupe(grantsOf(fn.role.policies.map((p) => p.document)))) {
      const used = mine.filter((c) => grantAllows(grant, c));
      const row: GrantRow = {
        function: fn.name,
        action: grant.action,
        resource: display(grant.resource),
        condition: grant.condition ? JSON.stringify(grant.condition) : undefined,
        calls: used.reduce((n, c) => n + c.count, 0),
        usedActions: [...new Set(used.map((c) => c.action))].sort(),
        justification: undefined,
      };
      if (row.calls === 0) {
        row.justification = UNUSED_GRANTS.find(
          (j) => j.function.test(fn.name) && j.action.test(grant.action) && (j.resource?.test(row.resource) ?? true),
        )?.reason;
      }
      rows.push(row);
    }
  }
  const denied = usage.flatMap((u) => u.unexpectedDenials).map((c) => ({ ...c, resource: display(c.resource) }));
  const provoked = calls
    .filter((c) => c.decision !== 'Allowed')
    .map((c) => ({ ...c, resource: display(c.resource) }))
    .filter(
      (c) => !denied.some((d) => d.principal === c.principal && d.action === c.action && d.resource === c.resource),
    );
  return { rows, denied, provoked, unjustified: rows.filter((r) => r.calls === 0 && r.justification === undefined) };
}

function dedupe(grants: Grant[]): Grant[] {
  const seen = new Set<string>();
  return grants.filter((g) => {
    const key = JSON.stringify(g);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** ARNs with the construct names of the template (`table/StateTable`), stable across deployments. */
function displayNames(plan: TwinPlan): (arn: string) => string {
  const names = [...plan.tables, ...plan.streams, ...plan.queues].map((r) => [r.name, r.constructName] as const);
  // A bucket by its logical id without CDK's hash suffix or the construct's prefix: `LakeBucket`, `SnapshotBucket`.
  const buckets = plan.buckets.map(
    (b) => [b.name, b.logicalId.replace(/[0-9A-F]{8}$/, '').replace(/^Retraining/, '')] as const,
  );
  return (arn) => {
    let out = arn.replace(/^arn:aws:(dynamodb|kinesis|sqs):[^:]*:\d+:/, '');
    for (const [physical, construct] of names) out = out.split(physical).join(construct);
    for (const [physical, construct] of buckets) out = out.split(physical).join(construct);
    return out.replace(/^arn:aws:s3:::/, 's3:');
  };
}

export function formatReport(report: IamReport, markdown: boolean): string {
  const header = ['function', 'grant', 'on', 'calls in the e2e run', 'verdict'];
  const lines = report.rows.map((r) => [
    r.function,
    `${r.action}${r.condition ? ` if ${r.condition}` : ''}`,
    r.resource,
    r.calls > 0 ? `${r.calls}${r.usedActions.join(',') !== r.action ? ` (${r.usedActions.join(', ')})` : ''}` : '0',
    r.calls > 0 ? 'used' : r.justification ? `unused: ${r.justification}` : 'UNUSED: remove or justify in cdk/nag.ts',
  ]);
  const line = (d: IamCall) => `${d.principal}: ${d.action} on ${d.resource} (${d.decision})`;
  const denied = [...new Set(report.denied.map(line))];
  const provoked = [...new Set(report.provoked.map(line))];
  if (markdown) {
    const row = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
    return [
      row(header),
      row(header.map(() => '---')),
      ...lines.map(row),
      '',
      denied.length === 0
        ? 'Denied calls no test expected: none.'
        : `Denied calls no test expected:\n${denied.map((d) => `- ${d}`).join('\n')}`,
      '',
      `Denied calls the tests provoke on purpose (the twin's evidence that each role is enforced):\n${provoked.map((d) => `- ${d}`).join('\n')}`,
    ].join('\n');
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => Math.min(60, l[i]!.length))));
  const text = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [
    text(header),
    ...lines.map(text),
    '',
    denied.length === 0
      ? 'denied calls no test expected: none'
      : `denied calls no test expected:\n${denied.map((d) => `  ${d}`).join('\n')}`,
    `denied calls the tests provoke on purpose:\n${provoked.map((d) => `  ${d}`).join('\n')}`,
    `unused grants without a justification: ${report.unjustified.length}`,
  ].join('\n');
}
