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
  decisionResponseSchema,
  feedbackEventSchema,
  streamRangeSchema,
} from '../../core/schemas.ts';

const schema = (s: z.ZodType, io: 'input' | 'output' = 'input') => z.toJSONSchema(s, { io, unrepresentable: 'any' });

/** An object schema's fields as optional query parameters. */
function queryParameters(s: z.ZodObject) {
  const json = schema(s) as { properties?: Record<string, unknown> };
  return Object.entries(json.properties ?? {}).map(([name, p]) => ({ name, in: 'query', required: false, schema: p }));
}

const errorBody = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
};
const errors = Object.fromEntries(
  [
    ['400', 'Invalid request: the message names each problem; nothing was changed'],
    ['401', 'Missing or invalid API key'],
    ['403', 'The API key lacks the scope or decision point'],
    ['404', 'Not found'],
    ['503', 'A dependency is unavailable; retry'],
  ].map(([code, description]) => [code, { description, content: { 'application/json': { schema: errorBody } } }]),
);
const json = (s: unknown) => ({ content: { 'application/json': { schema: s } } });
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
    components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } },
    security: [{ apiKey: [] }],
    paths: {
      '/v1/decisions': {
        post: {
          summary: 'Choose the next best action(s) for a user',
          requestBody: { required: true, ...json(schema(decisionRequestSchema)) },
          responses: {
            '200': { description: 'The decision', ...json(schema(decisionResponseSchema, 'output')) },
            '422': errors['400'],
            ...errors,
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
            '202': { description: 'Per-event results: accepted, rejected (with the reason) or failed (retry)' },
            ...errors,
          },
        },
      },
      '/v1/health': {
        get: {
          summary: 'Whether the engine can serve (its state table answers); no API key',
          security: [],
          responses: {
            '200': { description: '{ "status": "ok", "checks": { "stateTable": "ok" } }' },
            '503': { description: 'Not ready: the failing check is named' },
          },
        },
      },
      '/v1/decision-points': {
        get: { summary: 'List decision points', responses: { '200': { description: 'Decision points' }, ...errors } },
      },
      '/v1/decision-points/{decisionPoint}': {
        parameters: [dpParam],
        get: { summary: 'Read a decision point', responses: { '200': { description: 'Settings' }, ...errors } },
        put: {
          summary: 'Create or update a decision point; every setting is optional',
          requestBody: { required: true, ...json(schema(decisionPointSettingsSchema)) },
          responses: {
            '200': { description: 'Updated' },
            '201': { description: 'Created' },
            '409': errors['400'],
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
          responses: { '200': { description: 'Actions' }, ...errors },
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
            '200': {
              description:
                'Per-item results: created, updated, unchanged, rejected (with the reason) or failed (retry)',
            },
            ...errors,
          },
        },
      },
      '/v1/decision-points/{decisionPoint}/actions/{actionId}': {
        parameters: [dpParam, actionParam],
        get: {
          summary: 'Read an action with what the model learned about it',
          responses: { '200': { description: 'Action' }, ...errors },
        },
        put: {
          summary: 'Create or update an action (it serves from the next model refresh)',
          requestBody: { required: true, ...json(schema(actionInputSchema)) },
          responses: { '200': { description: 'Updated' }, '201': { description: 'Created' }, ...errors },
        },
        delete: {
          summary: 'Retire an action (its statistics are kept)',
          responses: { '200': { description: 'Retired' }, ...errors },
        },
      },
      '/v1/decision-points/{decisionPoint}/model:rollback': {
        parameters: [dpParam],
        post: {
          summary:
            'Restore the previously active offline model (past the first one: online-only serving); no body, `{}` or `{ "from": VERSION }` (a repeated request with `from` cannot roll back twice)',
          responses: { '200': { description: 'The model now active' }, '409': errors['400'], ...errors },
        },
      },
      '/v1/decision-points/{decisionPoint}/evaluations': {
        parameters: [dpParam],
        get: {
          summary: 'Retraining runs: off-policy estimates, lower bounds and the promotion verdict',
          responses: { '200': { description: 'Evaluations' }, ...errors },
        },
      },
      '/v1/keys': {
        get: {
          summary: 'List API keys (never their secrets); admin scope',
          responses: { '200': { description: 'Keys' }, ...errors },
        },
        post: {
          summary: 'Create an API key; the secret is returned once and only its SHA-256 is stored',
          requestBody: { required: true, ...json(schema(createApiKeySchema)) },
          responses: { '201': { description: 'The new key with its secret' }, ...errors },
        },
      },
      '/v1/keys/{keyId}': {
        parameters: [{ name: 'keyId', in: 'path', required: true, schema: { type: 'string' } }],
        delete: { summary: 'Revoke an API key', responses: { '200': { description: 'Revoked' }, ...errors } },
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
          responses: { '200': { description: 'Dead letters' }, ...errors },
        },
      },
      '/v1/dead-letters/replay-range': {
        post: {
          summary:
            'Put a shard range the updater gave up on (its on-failure queue names shard and sequence numbers) back on the stream',
          requestBody: { required: true, ...json(schema(streamRangeSchema)) },
          responses: { '200': { description: '{ replayed, skipped: [{ id, why }] }' }, ...errors },
        },
      },
      '/v1/dead-letters/replay': {
        post: {
          summary:
            'Put matching dead letters back on the stream once their cause is gone; the updater counts each at most once',
          requestBody: { required: false, ...json(schema(deadLetterFilterSchema)) },
          responses: { '200': { description: '{ replayed, skipped: [{ id, why }] }' }, ...errors },
        },
      },
      '/v1/decision-points/{decisionPoint}/model': {
        parameters: [dpParam],
        get: {
          summary: 'Model summary: per action and objective, estimate, uncertainty, impressions, rewards',
          responses: { '200': { description: 'Summary' }, ...errors },
        },
      },
    },
  };
}
