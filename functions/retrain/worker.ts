/** The Distributed Map's worker: one partition item in, partial statistics written to S3, a small summary out. */
import { log } from '../../shared/adapters/log.ts';
import type { MapPartitionResult } from '../../shared/app/retrain/map-partition.ts';
import { retrainHandlers } from './clients.ts';

export const handler = async (event: unknown): Promise<MapPartitionResult> => {
  try {
    const result = await retrainHandlers.worker(event);
    log.info('partition aggregated', { ...result });
    return result;
  } catch (err) {
    log.error('partition failed', { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    throw err;
  }
};
