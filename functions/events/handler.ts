/** POST /v1/events: validates each event and puts the valid ones on the stream; 202 with a result per event. */
import { createApiHandler, parseWith } from '../../shared/adapters/http/api.ts';
import type { Body, eventsAnswerSchema } from '../../shared/adapters/http/responses.ts';
import { ingestEvents } from '../../shared/app/ingest/ingest-events.ts';
import { SettingsCache } from '../../shared/app/ingest/settings-cache.ts';
import { ForbiddenError, ValidationError } from '../../shared/core/errors.ts';
import { feedbackRequestSchema } from '../../shared/core/schemas.ts';
import { createEngine, readEngineConfig, requirePseudonyms } from '../commons/engine.ts';
import { type FunctionRuntime, lambdaHandler } from '../commons/runtime.ts';

export function createHandler(runtime: FunctionRuntime) {
  const engine = createEngine(readEngineConfig(runtime.environment), runtime.clients);
  const pseudonyms = requirePseudonyms(engine);
  const settings = new SettingsCache(engine.stateStore);
  const handler = createApiHandler(
    [
      {
        method: 'POST',
        path: '/v1/events',
        scope: 'feedback',
        handle: async ({ body, principal }) => {
          const { events } = parseWith(feedbackRequestSchema, body);
          const result = await ingestEvents(events, {
            stream: engine.eventStream,
            pseudonymise: await pseudonyms.mapper(),
            scope: principal.decisionPoints,
            settings: (dp) => settings.get(dp),
          });
          if (result.accepted === 0 && result.failed === 0) {
            const rejected = result.results.filter((r) => r.status === 'rejected');
            const message = `no valid event: ${rejected.map((r) => `events[${r.index}]: ${r.error}`).join('; ')}`;
            // F8: a key used outside its decision points is a 403, as on the decisions route.
            if (rejected.every((r) => r.code === 'forbidden')) throw new ForbiddenError(message);
            throw new ValidationError(message);
          }
          return {
            status: result.failed > 0 && result.accepted === 0 ? 503 : 202,
            body: result satisfies Body<typeof eventsAnswerSchema>,
          };
        },
      },
    ],
    engine.authenticator,
  );
  return { handler, engine };
}

export const handler = lambdaHandler(createHandler);
