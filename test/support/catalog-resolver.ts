/**
 * Reads logged decision records' candidates as retraining does (core/catalog/catalog-version.ts, C5): a list, or a
 * reference resolved by the record's own declaration or by a version an earlier record declared. A reference to a
 * version no earlier record declared breaks rule C3, and throws.
 */
import { candidatesOf, type DecisionRecord } from '../../shared/core/schemas.ts';

export function catalogResolver(): (record: DecisionRecord) => string[] {
  const declared = new Map<string, string[]>();
  return (record) => {
    const { catalog } = record;
    if (catalog?.ids) declared.set(`${record.decisionPoint}\n${catalog.version}`, catalog.ids);
    const candidates = candidatesOf(record, (dp, version) => declared.get(`${dp}\n${version}`));
    if (!candidates) throw new Error(`decision ${record.decisionId} names catalog ${catalog?.version}, never declared`);
    return candidates;
  };
}
