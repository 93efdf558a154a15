/**
 * The decision jobs' state machine steps (plan, chunk, finish, fail): the payload names the step. Thin: the steps
 * are in shared/app/decision-jobs/steps.ts. A JobInputError (an input with no line) is what the state machine does
 * not retry; anything else is retried and then fails the job with its message.
 */
import { z } from 'zod';
import { log } from '../../shared/adapters/log.ts';
import { chunkSchema } from '../../shared/app/decision-jobs/job.ts';
import { createDecisionJobs, createEngine, readEngineConfig } from '../commons/engine.ts';
import { type FunctionRuntime, lambdaHandler } from '../commons/runtime.ts';

const ref = z.object({ decisionPoint: z.string(), jobId: z.string(), input: z.string() });
const payloadSchema = z.discriminatedUnion('step', [
  z.object({ step: z.literal('plan'), job: ref }),
  z.object({ step: z.literal('chunk'), job: ref.extend({ modelSha256: z.string() }), chunk: chunkSchema }),
  z.object({
    step: z.literal('finish'),
    job: ref,
    results: z.array(z.object({ chunk: z.number(), decided: z.number(), rejected: z.number() })),
  }),
  z.object({
    step: z.literal('fail'),
    job: ref,
    error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }),
  }),
]);

export function createHandler(runtime: FunctionRuntime) {
  const engine = createEngine(readEngineConfig(runtime.environment), runtime.clients);
  const jobs = createDecisionJobs(engine);
  const handler = async (event: unknown): Promise<unknown> => {
    const p = payloadSchema.parse(event);
    try {
      switch (p.step) {
        case 'plan':
          return await jobs.plan(p.job);
        case 'chunk': {
          const result = await jobs.chunk(p.job, p.chunk);
          log.info('decision job chunk done', { jobId: p.job.jobId, ...result });
          return result;
        }
        case 'finish':
          return await jobs.finish(p.job, p.results);
        case 'fail':
          return await jobs.fail(p.job, p.error);
      }
    } catch (err) {
      log.error('decision job step failed', {
        step: p.step,
        jobId: p.job.jobId,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
      throw err;
    }
  };
  return { handler, engine };
}

export const handler = lambdaHandler(createHandler);
