/**
 * Every retraining step but the map worker (plan, reduce, fit, evaluate, promote, record): the payload names the
 * step. Thin: the steps are in shared/app/retrain, and a thrown error's name is what the state machine's Retry and
 * Catch match.
 */
import { log } from '../../shared/adapters/log.ts';
import { retrainHandlers } from './clients.ts';

export const handler = async (event: unknown): Promise<unknown> => {
  const step = (event as { step?: unknown } | null)?.step;
  try {
    const ctx = await retrainHandlers.step(event);
    log.info('retrain step done', { step, decisionPoint: ctx.run.decisionPoint, runId: ctx.run.runId });
    return ctx;
  } catch (err) {
    log.error('retrain step failed', {
      step,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    });
    throw err;
  }
};
