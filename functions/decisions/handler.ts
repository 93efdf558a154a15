/**
 * POST /v1/decisions: thin handler over DecisionService. GET /v1/health: whether this engine can serve (its state
 * table answers), without an API key and without telling anything about the data.
 */
import { createApiHandler, parseWith } from '../../shared/adapters/http/api.ts';
import type { Body, decisionAnswerSchema, healthAnswerSchema } from '../../shared/adapters/http/responses.ts';
import { DecisionService } from '../../shared/app/decide/decide.ts';
import { ForbiddenError } from '../../shared/core/errors.ts';
import { createRng, cryptoRng } from '../../shared/core/random.ts';
import { decisionRequestSchema } from '../../shared/core/schemas.ts';
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
