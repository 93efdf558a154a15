/**
 * The OpenAPI description of the HTTP API, generated from the same zod schemas the handlers validate with, so the
 * document cannot drift from the code. `npm run openapi` writes it to docs/openapi.json (a test checks it is current).
 */
import { z } from 'zod';
import { createApiKeySchema } from '../../app/keys/keys.ts';
import { erasureResultSchema } from '../../app/privacy/erase-user.ts';
import { auditEntryViewSchema, auditQuerySchema } from '../../core/audit.ts';
import { LIFECYCLE_STATUSES } from '../../core/catalog/schedule.ts';
import {
  actionInputSchema,
  deadLetterFilterSchema,
  decisionPointSettingsSchema,
  decisionRequestSchema,
  feedbackEventSchema,
  streamRangeSchema,
} from '../../core/schemas.ts';
import * as bodies from './responses.ts';

/** A schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), without the `$schema` line that only a root may carry. */
function schema(s: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' });
  return rest;
}

/** An object schema's fields as optional query parameters. */
function queryParameters(s: z.ZodObject) {
  const json = schema(s) as { properties?: Record<string, unknown> };
  return Object.entries(json.properties ?? {}).map(([name, p]) => ({ name, in: 'query', required: false, schema: p }));
}

/** Every error: a code and a message for a person, nothing else (never a stack or an internal name). */
const errorBody = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
      additionalProperties: false,
    },
  },
  required: ['error'],
  additionalProperties: false,
};
const errorRef = { $ref: '#/components/schemas/Error' };
const json = (s: unknown) => ({ content: { 'application/json': { schema: s } } });
const errors = Object.fromEntries(
  [
    ['400', 'Invalid request: the message names each problem; nothing was changed'],
    ['401', 'Missing or invalid API key'],
    ['403', 'The API key lacks the scope or decision point'],
    ['404', 'Not found'],
    ['413', 'The request body is larger than the API accepts'],
    ['429', 'The API key exceeded its rate limit; retry after the `Retry-After` header'],
    ['503', 'A dependency is unavailable; retry'],
  ].map(([code, description]) => [code, { description, ...json(errorRef) }]),
);
/** 409: the request conflicts with the current state (a version, a learned dimension, an active model). */
const conflict = {
  ...errors['400'],
  description: 'Conflict with the current state: the message says which; nothing was changed',
};
/** The response bodies (responses.ts), each described once under `components.schemas`: `decisionAnswerSchema` → `DecisionAnswer`. */
const bodyNames = new Map<z.ZodType, string>(
  Object.entries(bodies).map(([name, s]) => [s, name.replace(/Schema$/, '').replace(/^./, (c) => c.toUpperCase())]),
);
const ref = (s: z.ZodType) => ({ $ref: `#/components/schemas/${bodyNames.get(s)}` });
/** A response whose body is one of the response schemas. */
const answer = (description: string, s: z.ZodType) => ({ description, ...json(ref(s)) });
/** 503 with the per-item results when no item got through, or the error body when a dependency failed first. */
const unavailableOr = (description: string, s: z.ZodType) => ({
  description: `${description}; or ${errors['503']!.description.toLowerCase()}`,
  ...json({ anyOf: [ref(s), errorRef] }),
});
const dpParam = { name: 'decisionPoint', in: 'path', required: true, schema: { type: 'string' } };
const actionParam = { name: 'actionId', in: 'path', required: true, schema: { type: 'string' } };
const batchItem = {
  allOf: [
    schema(actionInputSchema),
    { type: 'object', properties: { actionId: { type: 'string' } }, required: ['actionId'] },
  ],
};

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'NBA engine API',
      version: '1',
      description: 'Next-best-action decisions, feedback, and catalog administration.',
    },
    components: {
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
      schemas: {
        ...Object.fromEntries([...bodyNames].map(([s, name]) => [name, schema(s, 'output')])),
        Error: errorBody,
      },
    },
    security: [{ apiKey: [] }],
    paths: {
      '/v1/decisions': {
        post: {
          summary: 'Choose the next best action(s) for a user',
          requestBody: { required: true, ...json(schema(decisionRequestSchema)) },
          responses: {
            '200': answer('The decision', bodies.decisionAnswerSchema),
            '422': errors['400'],
            ...errors,
          },
        },
      },
      '/v1/decisions:batch': {
        post: {
          summary: 'Decide for up to 100 users in one call (server to server); each request is answered on its own',
          requestBody: {
            required: true,
            ...json({
              type: 'object',
              properties: {
                requests: { type: 'array', minItems: 1, maxItems: 100, items: schema(decisionRequestSchema) },
                ranking: {
                  type: 'boolean',
                  default: false,
                  description: "answer each decision's full ranking (at most 50,000 entries per call)",
                },
              },
              required: ['requests'],
              additionalProperties: false,
            }),
          },
          responses: {
            '200': answer(
              'Per-request results: decided (the decision, as POST /v1/decisions answers it), rejected (with the reason) or failed (retry it)',
              bodies.decisionBatchAnswerSchema,
            ),
            ...errors,
            '503': unavailableOr(
              'Nothing was decided: every valid request failed on the model store or the decision log (retry them)',
              bodies.decisionBatchAnswerSchema,
            ),
          },
        },
      },
      '/v1/events': {
        post: {
          summary: 'Report what users did (feedback); each event is validated on its own',
          requestBody: {
            required: true,
            ...json({
              type: 'object',
              properties: { events: { type: 'array', maxItems: 500, items: schema(feedbackEventSchema) } },
              required: ['events'],
            }),
          },
          responses: {
            '202': answer(
              'Per-event results: accepted, rejected (with the reason) or failed (retry)',
              bodies.eventsAnswerSchema,
            ),
            ...errors,
            '503': unavailableOr(
              'No event was accepted: every valid event failed to reach the stream (retry them with the same eventId)',
              bodies.eventsAnswerSchema,
            ),
          },
        },
      },
      '/v1/health': {
        get: {
          summary: 'Whether the engine can serve (its state table answers); no API key',
          security: [],
          responses: {
            '200': answer('Ready', bodies.healthAnswerSchema),
            '503': answer('Not ready: the failing check is named', bodies.healthAnswerSchema),
          },
        },
      },
      '/v1/decision-points': {
        get: {
          summary: 'List decision points',
          responses: { '200': answer('Decision points', bodies.decisionPointListSchema), ...errors },
        },
      },
      '/v1/decision-points/{decisionPoint}': {
        parameters: [dpParam],
        get: {
          summary: 'Read a decision point',
          responses: { '200': answer('Settings', bodies.decisionPointViewSchema), ...errors },
        },
        put: {
          summary: 'Create or update a decision point; every setting is optional',
          requestBody: { required: true, ...json(schema(decisionPointSettingsSchema)) },
          responses: {
            '200': answer('Updated', bodies.decisionPointViewSchema),
            '201': answer('Created', bodies.decisionPointViewSchema),
            '409': conflict,
            ...errors,
          },
        },
      },
      '/v1/decision-points/{decisionPoint}/actions': {
        parameters: [dpParam],
        get: {
          summary: 'List actions, optionally by lifecycle status now and by a substring of the id or a metadata string',
          parameters: [
            { name: 'status', in: 'query', required: false, schema: { type: 'string', enum: [...LIFECYCLE_STATUSES] } },
            { name: 'q', in: 'query', required: false, schema: { type: 'string' } },
          ],
          responses: { '200': answer('Actions', bodies.actionListSchema), ...errors },
        },
      },
      '/v1/decision-points/{decisionPoint}/actions:batch': {
        parameters: [dpParam],
        post: {
          summary:
            'Bulk import up to 1,000 actions; each item (an action input plus its actionId) is validated and applied on its own',
          requestBody: {
            required: true,
            ...json({
              type: 'object',
              properties: { actions: { type: 'array', maxItems: 1000, items: batchItem } },
              required: ['actions'],
            }),
          },
          responses: {
            '200': answer(
              'Per-item results: created, updated, unchanged, rejected (with the reason) or failed (retry)',
              bodies.importAnswerSchema,
            ),
            ...errors,
            '503': unavailableOr(
              'No item was applied: every valid item failed to be written (retry them)',
              bodies.importAnswerSchema,
            ),
          },
        },
      },
      '/v1/decision-points/{decisionPoint}/actions/{actionId}': {
        parameters: [dpParam, actionParam],
        get: {
          summary: 'Read an action with what the model learned about it',
          responses: { '200': answer('Action', bodies.actionDetailSchema), ...errors },
        },
        put: {
          summary: 'Create or update an action (it serves from the next model refresh)',
          requestBody: { required: true, ...json(schema(actionInputSchema)) },
          responses: {
            '200': answer('Updated', bodies.actionViewSchema),
            '201': answer('Created', bodies.actionViewSchema),
            ...errors,
          },
        },
        delete: {
          summary: 'Retire an action (its statistics are kept)',
          responses: { '200': answer('Retired', bodies.actionViewSchema), ...errors },
        },
      },
      '/v1/decision-points/{decisionPoint}/model:rollback': {
        parameters: [dpParam],
        post: {
          summary:
            'Restore the previously active offline model (past the first one: online-only serving); no body, `{}` or `{ "from": VERSION }` (a repeated request with `from` cannot roll back twice)',
          responses: {
            '200': answer('The model now active', bodies.rollbackAnswerSchema),
            '409': conflict,
            ...errors,
          },
        },
      },
      '/v1/decision-points/{decisionPoint}/evaluations': {
        parameters: [dpParam],
        get: {
          summary: 'Retraining runs: off-policy estimates, lower bounds and the promotion verdict',
          responses: { '200': answer('Evaluations', bodies.evaluationListSchema), ...errors },
        },
      },
      '/v1/keys': {
        get: {
          summary: 'List API keys (never their secrets); admin scope',
          responses: { '200': answer('Keys', bodies.apiKeyListSchema), ...errors },
        },
        post: {
          summary: 'Create an API key; the secret is returned once and only its SHA-256 is stored',
          requestBody: { required: true, ...json(schema(createApiKeySchema)) },
          responses: { '201': answer('The new key with its secret', bodies.createdApiKeySchema), ...errors },
        },
      },
      '/v1/keys/{keyId}': {
        parameters: [{ name: 'keyId', in: 'path', required: true, schema: { type: 'string' } }],
        delete: {
          summary: 'Revoke an API key',
          responses: { '200': answer('Revoked', bodies.apiKeyViewSchema), ...errors },
        },
      },
      '/v1/users/{userId}': {
        parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'string', maxLength: 256 } }],
        delete: {
          summary:
            'Erase a user: their stage, decisions, event claims and dead letters are deleted, and retraining ignores their logged records up to now (admin scope, unrestricted key). Records sent later are a new history. Idempotent',
          responses: {
            '200': { description: 'What was erased', ...json(schema(erasureResultSchema, 'output')) },
            ...errors,
          },
        },
      },
      '/v1/audit': {
        get: {
          summary:
            'The audit trail: every change (keys, decision points, actions, promotion, rollback, replays, erasure) with the acting key, route, decision point, result and time, newest first; `next` continues as `after`',
          parameters: queryParameters(auditQuerySchema),
          responses: {
            '200': {
              description: 'Entries, newest first, and `next` when more may match',
              ...json({
                type: 'object',
                properties: {
                  entries: { type: 'array', items: schema(auditEntryViewSchema, 'output') },
                  next: { type: 'string' },
                },
                required: ['entries'],
              }),
            },
            ...errors,
          },
        },
      },
      '/v1/dead-letters': {
        get: {
          summary:
            'Stream records the updater refused (with the rule and the reason) and events held for their decision, oldest first',
          parameters: queryParameters(deadLetterFilterSchema),
          responses: { '200': answer('Dead letters', bodies.deadLetterListSchema), ...errors },
        },
      },
      '/v1/dead-letters/replay-range': {
        post: {
          summary:
            'Put a shard range the updater gave up on (its on-failure queue names shard and sequence numbers) back on the stream',
          requestBody: { required: true, ...json(schema(streamRangeSchema)) },
          responses: {
            '200': answer('What was put back, and what was skipped and why', bodies.replayAnswerSchema),
            ...errors,
          },
        },
      },
      '/v1/dead-letters/replay': {
        post: {
          summary:
            'Put matching dead letters back on the stream once their cause is gone; the updater counts each at most once',
          requestBody: { required: false, ...json(schema(deadLetterFilterSchema)) },
          responses: {
            '200': answer('What was put back, and what was skipped and why', bodies.replayAnswerSchema),
            ...errors,
          },
        },
      },
      '/v1/decision-points/{decisionPoint}/decision-jobs': {
        parameters: [dpParam],
        post: {
          summary:
            'Start a decision job: decide for every JSON line of an input in S3 ({ userId, context, candidates?, exclude?, slots? }), as POST /v1/decisions would',
          requestBody: {
            required: true,
            ...json({
              type: 'object',
              properties: { input: { type: 'string', description: 's3://bucket/key of the JSON lines' } },
              required: ['input'],
              additionalProperties: false,
            }),
          },
          responses: { '202': answer('The job, running', bodies.decisionJobSchema), ...errors },
        },
      },
      '/v1/decision-points/{decisionPoint}/decision-jobs/{jobId}': {
        parameters: [dpParam, { name: 'jobId', in: 'path', required: true, schema: { type: 'string' } }],
        get: {
          summary: 'A decision job: its status, counts, and where its output and errors are',
          responses: { '200': answer('The job', bodies.decisionJobSchema), ...errors },
        },
      },
      '/v1/decision-points/{decisionPoint}/learning': {
        parameters: [dpParam],
        get: {
          summary:
            'The learning series: per minute, hour or day of decision time, decisions, reward per decision of the served policy and of uniform serving (estimated from the logged propensities), exploration share, feedback delay, late events; and dead letters by rule',
          parameters: [
            {
              name: 'hours',
              in: 'query',
              required: false,
              schema: { type: 'integer', minimum: 1, maximum: 2160, default: 48 },
            },
            {
              name: 'resolution',
              in: 'query',
              required: false,
              description:
                'Window length; default minute up to 6 hours, hour up to 14 days, else day. Minutes are kept 3 days.',
              schema: { type: 'string', enum: ['minute', 'hour', 'day'] },
            },
          ],
          responses: { '200': answer('Series', bodies.learningSeriesSchema), ...errors },
        },
      },
      '/v1/decision-points/{decisionPoint}/model': {
        parameters: [dpParam],
        get: {
          summary: 'Model summary: per action and objective, estimate, uncertainty, impressions, rewards',
          responses: { '200': answer('Summary', bodies.modelSummarySchema), ...errors },
        },
      },
    },
  };
}
