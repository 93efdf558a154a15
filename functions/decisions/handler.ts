/**
 * POST /v1/decisions and POST /v1/decisions:batch: thin handlers over DecisionService. GET /v1/health: whether this engine can serve (its state
 * table answers), without an API key and without telling anything about the data.
 */
import { createApiHandler, parseWith } from '../../shared/adapters/http/api.ts';
import type {
  Body,
  decisionAnswerSchema,
  decisionBatchAnswerSchema,
  healthAnswerSchema,
} from '../../shared/adapters/http/responses.ts';
import { DecisionService } from '../../shared/app/decide/decide.ts';
import { ForbiddenError, ValidationError } from '../../shared/core/errors.ts';
import { createRng, cryptoRng } from '../../shared/core/random.ts';
import { decisionBatchRequestSchema, decisionRequestSchema } from '../../shared/core/schemas.ts';
import { createEngine, readEngineConfig, requirePseudonyms } from '../commons/engine.ts';
import { type FunctionRuntime, lambdaHandler } from '../commons/runtime.ts';

export function createHandler(runtime: FunctionRuntime) {
  const engine = createEngine(readEngineConfig(runtime.environment), runtime.clients);
  const pseudonyms = requirePseudonyms(engine);
  const service = new DecisionService({
    models: engine.models,
    stream: engine.eventStream,
    users: engine.decisionStore,
    rng: runtime.samplerSeed === undefined ? cryptoRng() : createRng(runtime.samplerSeed),
    resilience: engine.decisionResilience,
  });
  const handler = createApiHandler(
    [
      {
        method: 'POST',
        path: '/v1/decisions',
        scope: 'decide',
        handle: async ({ body, principal }) => {
          const req = parseWith(decisionRequestSchema, body);
          if (principal.decisionPoints && !principal.decisionPoints.includes(req.decisionPoint)) {
            throw new ForbiddenError(`this API key is not allowed for decision point ${req.decisionPoint}`);
          }
          // From here on the user is their pseudonym: the stage read, the decision record, the stream's partition key.
          const decision = await service.decide({ ...req, userId: await pseudonyms.of(req.userId) });
          return { status: 200, body: decision satisfies Body<typeof decisionAnswerSchema> };
        },
      },
      {
        method: 'POST',
        path: '/v1/decisions:batch',
        scope: 'decide',
        handle: async ({ body, principal }) => {
          const { requests, ranking } = parseWith(decisionBatchRequestSchema, body);
          const answer = await service.decideMany(requests, {
            scope: principal.decisionPoints,
            pseudonymise: await pseudonyms.mapper(),
            ranking,
          });
          if (answer.decided === 0 && answer.failed === 0) {
            const message = `no valid request: ${answer.results.map((r) => `requests[${r.index}]: ${'error' in r ? r.error : ''}`).join('; ')}`;
            // As on the single route: a key used outside its decision points is a 403.
            if (answer.results.every((r) => r.status === 'rejected' && r.code === 'forbidden')) {
              throw new ForbiddenError(message);
            }
            throw new ValidationError(message);
          }
          return {
            status: answer.decided === 0 ? 503 : 200,
            body: answer satisfies Body<typeof decisionBatchAnswerSchema>,
          };
        },
      },
      {
        method: 'GET',
        path: '/v1/health',
        scope: 'decide',
        public: true,
        handle: async () => {
          const started = Date.now();
          try {
            await engine.stateStore.getDecisionPoint('health-check');
            return {
              status: 200,
              body: {
                status: 'ok',
                checks: { stateTable: 'ok' },
                ms: Date.now() - started,
              } satisfies Body<typeof healthAnswerSchema>,
            };
          } catch (error) {
            return {
              status: 503,
              body: {
                status: 'unavailable',
                checks: { stateTable: (error as Error).name },
                ms: Date.now() - started,
              } satisfies Body<typeof healthAnswerSchema>,
            };
          }
        },
      },
    ],
    engine.authenticator,
  );
  return { handler, engine };
}

export const handler = lambdaHandler(createHandler);
