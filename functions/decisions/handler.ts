/** POST /v1/decisions: thin handler over DecisionService. */
import { createApiHandler, parseWith } from '../../shared/adapters/http/api.ts';
import { DecisionService } from '../../shared/app/decide/decide.ts';
import { ForbiddenError } from '../../shared/core/errors.ts';
import { cryptoRng } from '../../shared/core/random.ts';
import { decisionRequestSchema } from '../../shared/core/schemas.ts';
import { authenticator, decisionResilience, decisionStore, eventStream, modelCache } from '../commons/clients.ts';

const service = new DecisionService({
  models: modelCache,
  stream: eventStream,
  users: decisionStore,
  rng: cryptoRng(),
  resilience: decisionResilience,
});

export const handler = createApiHandler(
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
        return { status: 200, body: await service.decide(req) };
      },
    },
  ],
  authenticator,
);
