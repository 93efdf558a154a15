/** POST /v1/decisions: thin handler over DecisionService. */
import { createApiHandler, parseWith } from '../../shared/adapters/http/api.ts';
import type { Body, decisionAnswerSchema } from '../../shared/adapters/http/responses.ts';
import { DecisionService } from '../../shared/app/decide/decide.ts';
import { ForbiddenError } from '../../shared/core/errors.ts';
import { createRng, cryptoRng } from '../../shared/core/random.ts';
import { decisionRequestSchema } from '../../shared/core/schemas.ts';
import { createEngine, readEngineConfig } from '../commons/engine.ts';
import { type FunctionRuntime, lambdaHandler } from '../commons/runtime.ts';

export function createHandler(runtime: FunctionRuntime) {
  const engine = createEngine(readEngineConfig(runtime.environment), runtime.clients);
  const service = new DecisionService({
    models: engine.modelCache,
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
          return { status: 200, body: (await service.decide(req)) satisfies Body<typeof decisionAnswerSchema> };
        },
      },
    ],
    engine.authenticator,
  );
  return { handler, engine };
}

export const handler = lambdaHandler(createHandler);
