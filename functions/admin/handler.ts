/** Decision points, their catalog and model summary: thin routes over CatalogService. */
import { z } from 'zod';
import { createApiHandler, parseWith, type Route } from '../../shared/adapters/http/api.ts';
import { CatalogService } from '../../shared/app/catalog/catalog.ts';
import { summarizeModel } from '../../shared/app/catalog/model-summary.ts';
import type { CatalogAction, DecisionPoint } from '../../shared/core/domain.ts';
import { actionInputSchema } from '../../shared/core/schemas.ts';
import { authenticator, deadLetterStore, modelCache, stateStore } from '../commons/clients.ts';

const catalog = new CatalogService(stateStore, modelCache);
const anyObject = z.record(z.string(), z.unknown());

const dpView = (d: DecisionPoint) => ({
  decisionPoint: d.decisionPoint,
  settings: d.settings,
  version: d.version,
  createdAt: new Date(d.createdAt).toISOString(),
  updatedAt: new Date(d.updatedAt).toISOString(),
});
const actionView = (a: CatalogAction) => ({
  actionId: a.actionId,
  status: a.status,
  features: a.features,
  ...(a.metadata ? { metadata: a.metadata } : {}),
  version: a.version,
  createdAt: new Date(a.createdAt).toISOString(),
  updatedAt: new Date(a.updatedAt).toISOString(),
});

export const adminRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/decision-points',
    scope: 'admin',
    handle: async () => ({ status: 200, body: { decisionPoints: (await catalog.listDecisionPoints()).map(dpView) } }),
  },
  {
    method: 'PUT',
    path: '/v1/decision-points/{decisionPoint}',
    scope: 'admin',
    handle: async ({ params, body }) => {
      const r = await catalog.putDecisionPoint(params.decisionPoint!, parseWith(anyObject, body));
      return { status: r.created ? 201 : 200, body: dpView(r.decisionPoint) };
    },
  },
  {
    method: 'GET',
    path: '/v1/decision-points/{decisionPoint}',
    scope: 'admin',
    handle: async ({ params }) => ({ status: 200, body: dpView(await catalog.getDecisionPoint(params.decisionPoint!)) }),
  },
  {
    method: 'GET',
    path: '/v1/decision-points/{decisionPoint}/actions',
    scope: 'admin',
    handle: async ({ params, query }) => {
      let actions = await catalog.listActions(params.decisionPoint!);
      if (query.status) actions = actions.filter((a) => a.status === query.status);
      return { status: 200, body: { actions: actions.map(actionView) } };
    },
  },
  {
    method: 'PUT',
    path: '/v1/decision-points/{decisionPoint}/actions/{actionId}',
    scope: 'admin',
    handle: async ({ params, body }) => {
      const r = await catalog.putAction(params.decisionPoint!, params.actionId!, parseWith(actionInputSchema, body));
      return { status: r.created ? 201 : 200, body: actionView(r.action) };
    },
  },
  {
    method: 'GET',
    path: '/v1/decision-points/{decisionPoint}/actions/{actionId}',
    scope: 'admin',
    handle: async ({ params }) => {
      const action = await catalog.getAction(params.decisionPoint!, params.actionId!);
      const model = await modelCache.get(params.decisionPoint!);
      const learned = summarizeModel(model).actions.find((a) => a.actionId === action.actionId);
      return { status: 200, body: { ...actionView(action), learned } };
    },
  },
  {
    method: 'DELETE',
    path: '/v1/decision-points/{decisionPoint}/actions/{actionId}',
    scope: 'admin',
    handle: async ({ params }) => ({
      status: 200,
      body: actionView(await catalog.retireAction(params.decisionPoint!, params.actionId!)),
    }),
  },
  {
    method: 'GET',
    path: '/v1/decision-points/{decisionPoint}/model',
    scope: 'admin',
    handle: async ({ params }) => ({ status: 200, body: summarizeModel(await modelCache.get(params.decisionPoint!)) }),
  },
  {
    method: 'GET',
    path: '/v1/dead-letters',
    scope: 'admin',
    handle: async ({ query }) => {
      const limit = Math.min(1000, Math.max(1, Number(query.limit ?? 100) || 100));
      return { status: 200, body: { deadLetters: await deadLetterStore.list(limit) } };
    },
  },
];

export const handler = createApiHandler(adminRoutes, authenticator);
