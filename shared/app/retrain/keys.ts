/** Where a run keeps its artifacts in the object store (all under `retrain/{decisionPoint}/{runId}/`). */
import type { RunParams } from './run-context.ts';

export const RETRAIN_PREFIX = 'retrain/';

export const runPrefix = (decisionPoint: string, runId: string) => `${RETRAIN_PREFIX}${decisionPoint}/${runId}/`;
export const manifestKey = (run: RunParams) => `${run.prefix}manifest.json`;
export const partialsPrefix = (run: RunParams) => `${run.prefix}partials/`;
export const partialKey = (run: RunParams, itemId: string) => `${partialsPrefix(run)}${itemId}.json.gz`;
export const reducedKey = (run: RunParams) => `${run.prefix}reduced.json.gz`;
export const modelKey = (run: RunParams) => `${run.prefix}model.json.gz`;
export const evaluationKey = (run: RunParams) => `${run.prefix}evaluation.json`;
export const reportJsonKey = (run: RunParams) => `${run.prefix}report.json`;
export const reportHtmlKey = (run: RunParams) => `${run.prefix}report.html`;
