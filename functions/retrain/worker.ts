/**
 * The Distributed Maps' worker: a split item in (lake records dealt out to user buckets), or a user bucket in (its
 * records joined and aggregated, the partial written to S3); a small summary out.
 */
import { log } from '../../shared/adapters/log.ts';
import { retrainHandlers } from './clients.ts';

export const handler = async (event: unknown): Promise<Awaited<ReturnType<typeof retrainHandlers.worker>>> => {
  try {
    const result = await retrainHandlers.worker(event);
    log.info('map item done', { ...result });
    return result;
  } catch (err) {
    log.error('partition failed', { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    throw err;
  }
};
