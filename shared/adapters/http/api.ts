/**
 * The HTTP adapter shared by the API Lambdas: routing, body parsing with limits, API key authentication, the audit
 * trail of changes, and the one place where errors become HTTP responses. Handlers stay thin: parse, call the core,
 * map the result. A client never sees a stack trace or an internal message: unknown errors become a generic 500 and
 * are logged.
 */
import { randomUUID } from 'node:crypto';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { z } from 'zod';
import type { AuditTrail } from '../../app/audit/audit-trail.ts';
import type { ApiKeyAuthenticator, Principal } from '../../app/auth.ts';
import { jobIdSchema } from '../../app/decision-jobs/job.ts';
import { keyIdSchema } from '../../app/keys/keys.ts';
import { TooManyRequestsError } from '../../app/rate-limit.ts';
import type { AuditAction } from '../../core/audit.ts';
import type { ApiKeyScope } from '../../core/domain.ts';
import {
  EngineError,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  ValidationError,
} from '../../core/errors.ts';
import { actionIdSchema, decisionPointIdSchema, describeZodError, LIMITS, userIdSchema } from '../../core/schemas.ts';
import { log } from '../log.ts';
import { logger, metrics } from '../observability.ts';

export interface RouteRequest {
  params: Record<string, string>;
  query: Record<string, string>;
  body: unknown;
  principal: Principal;
}

export interface RouteResponse {
  status: number;
  body?: unknown;
  /**
   * What the audit entry of a change keeps from its answer: the target once known (a created key's id), and counts
   * or versions. Never a secret, never a request body.
   */
  audit?: { target?: string; detail?: Record<string, string | number | boolean> };
}

/** What a request to a path no route serves is told (also by the local API Gateway twin). */
export const noRouteMessage = (path: string) =>
  `no route for ${path}: the API lives under /v1 (GET /v1/health answers without a key; every route is in docs/openapi.json)`;

/** Who calls a public route: nobody in particular, with no scope. */
const ANONYMOUS: Principal = { keyId: 'anonymous', scopes: [] };

export interface Route {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Path template such as `/v1/decision-points/{decisionPoint}/actions/{actionId}`. */
  path: string;
  scope: ApiKeyScope;
  /** The body may be left out (an empty body is then `undefined`), for routes whose every field is optional. */
  optionalBody?: boolean;
  /** Answered without an API key (the health check only: it reads nothing a caller could not know). */
  public?: boolean;
  handle: (req: RouteRequest) => Promise<RouteResponse>;
  /** How a change is recorded in the audit trail; required of every non-GET route of an audited API. */
  audit?: RouteAudit;
}

/** How a route's change is recorded, besides the key, route, decision point, result and time (shared/core/audit.ts). */
export interface RouteAudit {
  action: AuditAction;
  /** What the change applies to besides the decision point, from the path (an id; never a secret). */
  target?: (params: Record<string, string>) => string | undefined;
}

export interface ApiHandlerOptions {
  /**
   * Records every change (rules A1–A5, shared/core/audit.ts): each route that is not a GET must say how (`audit`),
   * or building the handler fails.
   */
  audit?: AuditTrail;
}

/**
 * The one schema of every path parameter any route may declare. Path parameters become store keys (DynamoDB refuses
 * a partition key over 2,048 bytes with a 500-worthy error), so each is validated here, before the request is
 * authenticated (which reads the store) and before any route runs. A route naming a parameter that is not listed
 * here fails when the handler is built, not on a request.
 */
export const PATH_PARAMETERS: Record<string, z.ZodType<string>> = {
  decisionPoint: decisionPointIdSchema,
  actionId: actionIdSchema,
  keyId: keyIdSchema,
  userId: userIdSchema,
  jobId: jobIdSchema,
};

interface CompiledRoute extends Route {
  regex: RegExp;
  names: string[];
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const pattern = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (!PATH_PARAMETERS[name]) throw new Error(`route ${route.method} ${route.path}: no schema for {${name}}`);
    names.push(name);
    return '([^/]+)';
  });
  return { ...route, regex: new RegExp(`^${pattern}/?$`), names };
}

/** Decodes and validates one path parameter: a 400 naming the parameter and the rule it breaks. */
function pathParameter(raw: string, name: string): string {
  const value = decodePathSegment(raw, name);
  const parsed = PATH_PARAMETERS[name]!.safeParse(value);
  if (!parsed.success) {
    const shown = value.length > 40 ? `${value.slice(0, 40)}… (${value.length} characters)` : value;
    throw new ValidationError(
      `invalid path parameter ${name} ${JSON.stringify(shown)}: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/** Parses a value with a schema, turning failures into a 400 that names every problem. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what = 'body'): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ValidationError(`invalid ${what}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

export function createApiHandler(routes: readonly Route[], auth: ApiKeyAuthenticator, options: ApiHandlerOptions = {}) {
  const compiled = routes.map(compile);
  const { audit } = options;
  if (audit) {
    for (const r of routes) {
      if (r.method !== 'GET' && !r.audit) {
        throw new Error(`route ${r.method} ${r.path} changes state but does not say how it is audited (Route.audit)`);
      }
    }
  }

  const handle = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const path = event.path;
    const candidates = compiled.filter((r) => r.regex.test(path));
    if (candidates.length === 0) throw new NotFoundError(noRouteMessage(path));
    const route = candidates.find((r) => r.method === event.httpMethod);
    if (!route) throw new MethodNotAllowedError(`${event.httpMethod} is not allowed on ${path}`);
    const match = route.regex.exec(path)!;
    const params: Record<string, string> = {};
    route.names.forEach((name, i) => {
      params[name] = pathParameter(match[i + 1]!, name);
    });
    const headers = lowerCaseHeaders(event.headers);
    // Authenticate before reading the body: an unauthenticated request changes nothing and learns nothing.
    const principal = route.public
      ? ANONYMOUS
      : await auth.authenticate(headers['x-api-key'], route.scope, params.decisionPoint);
    // A key restricted to decision points administers only those: routes that span every decision point (lists,
    // dead letters, keys) would otherwise show or change what the restriction keeps it from.
    if (route.scope === 'admin' && principal.decisionPoints && params.decisionPoint === undefined) {
      throw new ForbiddenError('this API key is restricted to decision points; this route spans all of them');
    }
    // From here on the key may use the route: a change is recorded whatever its outcome (A1).
    const run = async (): Promise<RouteResponse> => {
      const body = parseBody(event, headers, route.method, route.optionalBody === true);
      const query: Record<string, string> = {};
      for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined) query[k] = v;
      return route.handle({ params, query, body, principal });
    };
    if (!audit || !route.audit) {
      const res = await run();
      return json(res.status, res.body);
    }
    // A2: the pending entry first (no entry, no change), the outcome after, whatever it is.
    const pending = await audit.begin({
      id: requestIdOf(event),
      keyId: principal.keyId,
      action: route.audit.action,
      route: `${route.method} ${route.path}`,
      decisionPoint: params.decisionPoint,
      target: route.audit.target?.(params),
    });
    let res: RouteResponse;
    try {
      res = await run();
    } catch (err) {
      await audit.settle(pending, statusOf(err));
      throw err;
    }
    await audit.settle(pending, { status: res.status, target: res.audit?.target, detail: res.audit?.detail });
    return json(res.status, res.body);
  };

  return (
    middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
      // Request id and cold start on every log line.
      .use(injectLambdaContext(logger))
      .use(publishMetrics)
      .use({
        onError: async (request) => {
          request.response = errorResponse(request.error);
        },
      })
      .handler(handle)
  );
}

/**
 * Writes the metrics the invocation recorded (embedded metric format, one log line). Unlike Powertools' `logMetrics`
 * it stays silent when there are none, which is most invocations: the API only records exceptional events.
 */
const publishMetrics: MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> = {
  after: async () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  },
  onError: async () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  },
};

/** A malformed percent-escape (`%ZZ`, a truncated UTF-8 sequence) is the client's error, not a 500. */
function decodePathSegment(segment: string, name: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ValidationError(`path parameter ${name} is not valid percent-encoded UTF-8`);
  }
}

function lowerCaseHeaders(h: APIGatewayProxyEvent['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}

function parseBody(
  event: APIGatewayProxyEvent,
  headers: Record<string, string>,
  method: string,
  optional: boolean,
): unknown {
  if (method === 'GET' || method === 'DELETE') return undefined;
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (optional && text.trim() === '') return undefined;
  if (Buffer.byteLength(text, 'utf8') > LIMITS.maxBodyBytes) {
    throw new PayloadTooLargeError(
      `request body exceeds ${LIMITS.maxBodyBytes} bytes (the API's limit; send fewer events or actions per request)`,
    );
  }
  const type = headers['content-type'];
  if (type !== undefined && !/^application\/(.+\+)?json\b/i.test(type)) {
    throw new ValidationError(`content-type must be application/json (got ${type})`);
  }
  if (text.trim() === '') throw new ValidationError('request body is empty: expected a JSON object');
  let forbiddenKey = false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, (key, value) => {
      if (key === '__proto__') forbiddenKey = true;
      return value;
    });
  } catch {
    throw new ValidationError('request body is not valid JSON');
  }
  // JSON.parse keeps "__proto__" as an own key; schemas skip it instead of refusing it as unknown, and any code that
  // copies it with assignment would swap an object's prototype. No field of this API has that name.
  if (forbiddenKey) throw new ValidationError('request body must not contain the key "__proto__"');
  return parsed;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: body === undefined ? '' : JSON.stringify(body),
  };
}

/** The request's id (API Gateway's), which names its audit entry; a fresh one when it has none usable. */
function requestIdOf(event: APIGatewayProxyEvent): string {
  const id = event.requestContext?.requestId;
  return typeof id === 'string' && /^[A-Za-z0-9._:/@-]{1,128}$/.test(id) ? id : randomUUID();
}

/** The status and code an error is answered with (see errorResponse). */
function statusOf(error: unknown): { status: number; code: string } {
  return error instanceof EngineError
    ? { status: error.status, code: error.code }
    : { status: 500, code: 'internal_error' };
}

/** The one mapping from errors to HTTP: typed engine errors keep their status and message; anything else is a 500. */
export function errorResponse(error: unknown): APIGatewayProxyResult {
  if (error instanceof EngineError) {
    if (error.status >= 500) log.error('dependency failure', { code: error.code, cause: String(error.cause ?? '') });
    const headers: Record<string, string> =
      error instanceof TooManyRequestsError ? { 'retry-after': String(error.retryAfterSeconds) } : {};
    return json(error.status, { error: { code: error.code, message: error.message } }, headers);
  }
  log.error('unhandled error', { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  return json(500, { error: { code: 'internal_error', message: 'internal error' } });
}
