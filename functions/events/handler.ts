/** POST /v1/events: validates each event and puts the valid ones on the stream; 202 with a result per event. */
import { createApiHandler, parseWith } from '../../shared/adapters/http/api.ts';
import { ingestEvents } from '../../shared/app/ingest/ingest-events.ts';
import { ValidationError } from '../../shared/core/errors.ts';
import { feedbackRequestSchema } from '../../shared/core/schemas.ts';
import { createEngine, readEngineConfig, requirePseudonyms } from '../commons/engine.ts';
import { type FunctionRuntime, lambdaHandler } from '../commons/runtime.ts';

export function createHandler(runtime: FunctionRuntime) {
  const engine = createEngine(readEngineConfig(runtime.environment), runtime.clients);
  const pseudonyms = requirePseudonyms(engine);
  const handler = createApiHandler(
    [
      {
        method: 'POST',
        path: '/v1/events',
        scope: 'feedback',
        handle: async ({ body }) => {
          const { events } = parseWith(feedbackRequestSchema, body);
          const result = await ingestEvents(events, {
            stream: engine.eventStream,
            pseudonymise: await pseudonyms.mapper(),
          });
          if (result.accepted === 0 && result.failed === 0) {
            throw new ValidationError(
              `no valid event: ${result.results.map((r) => (r.status === 'rejected' ? `events[${r.index}]: ${r.error}` : '')).join('; ')}`,
            );
          }
          return { status: result.failed > 0 && result.accepted === 0 ? 503 : 202, body: result };
        },
      },
    ],
    engine.authenticator,
  );
  return { handler, engine };
}

export const handler = lambdaHandler(createHandler);
