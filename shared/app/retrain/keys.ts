/** Where a run keeps its artifacts in the object store (all under `retrain/{decisionPoint}/{runId}/`). */
import type { RunParams } from './run-context.ts';

export const RETRAIN_PREFIX = 'retrain/';

export const runPrefix = (decisionPoint: string, runId: string) => `${RETRAIN_PREFIX}${decisionPoint}/${runId}/`;
export const manifestKey = (run: RunParams) => `${run.prefix}manifest.json`;
/** The users erased when the run was planned (pseudonym → erasure time), whose records the split drops. */
export const erasuresKey = (run: RunParams) => `${run.prefix}erasures.json`;
/** The decision point's stored catalog versions (version → ids), which the split resolves references with. */
export const catalogsKey = (run: RunParams) => `${run.prefix}catalogs.json`;
export const partialsPrefix = (run: RunParams) => `${run.prefix}partials/`;
export const partialKey = (run: RunParams, bucket: number) => `${partialsPrefix(run)}b${bucket}.json.gz`;
/** A split item's records for one user bucket. */
export const shufflePrefix = (run: RunParams, bucket: number) => `${run.prefix}shuffle/b${bucket}/`;
export const shuffleKey = (run: RunParams, bucket: number, itemId: string) =>
  `${shufflePrefix(run, bucket)}${itemId}.jsonl.gz`;
/** Written last by a split worker: its item is complete (and what it counted). */
export const splitDoneKey = (run: RunParams, itemId: string) => `${run.prefix}split-done/${itemId}.json`;
export const reducedKey = (run: RunParams) => `${run.prefix}reduced.json.gz`;
export const modelKey = (run: RunParams) => `${run.prefix}model.json.gz`;
export const evaluationKey = (run: RunParams) => `${run.prefix}evaluation.json`;
export const reportJsonKey = (run: RunParams) => `${run.prefix}report.json`;
export const reportHtmlKey = (run: RunParams) => `${run.prefix}report.html`;
