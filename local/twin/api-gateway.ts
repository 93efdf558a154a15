/**
 * A local stand-in for API Gateway: the REST API's resources and methods from the template (template.ts), each
 * request turned into the proxy event (v1) of the function its method integrates, and the result back into an HTTP
 * response. Routing follows API Gateway's precedence: a static path segment beats a `{param}`, which beats a greedy
 * `{proxy+}`; a method beats `ANY`.
 *
 * Where it differs: an unknown path answers 404 and a method the resource lacks 405, each with the engine's error
 * body, where API Gateway answers 403 `Missing Authentication Token`; the stage name is not part of the local URL.
 *
 * Like the deployed API, which answers only for its own host name, it answers only requests whose `Host` header names
 * the address it listens on (`127.0.0.1:PORT`, or `localhost:PORT` on the loopback address); any other host gets 421
 * with the engine's error body, before routing. A web page cannot then reach the local engine through a DNS name it
 * controls that resolves to 127.0.0.1 (DNS rebinding): its requests carry that name.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { noRouteMessage } from '../../shared/adapters/http/api.ts';
import { LIMITS } from '../../shared/core/schemas.ts';

/** API Gateway's limit on the request line and headers together (REST APIs). */
const MAX_REQUEST_LINE_AND_HEADERS = 10_240;

export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface ApiRoute {
  /** `GET`, `POST`, … or `ANY`. */
  method: string;
  /** API Gateway resource path, e.g. `/v1/decision-points/{proxy+}`. */
  resource: string;
  handler: ApiHandler;
}

interface Match {
  route: ApiRoute;
  pathParameters: Record<string, string> | null;
}

/** Segments of a resource path with their kind, for matching and precedence. */
function segmentsOf(resource: string) {
  return resource
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => {
      const m = /^\{(\w+)(\+?)\}$/.exec(s);
      return m
        ? { kind: m[2] ? ('greedy' as const) : ('param' as const), name: m[1]! }
        : { kind: 'static' as const, name: s };
    });
}

/** The resource that serves `path`, by API Gateway's precedence; undefined when none does. */
export function resolveResource(
  resources: readonly string[],
  path: string,
): { resource: string; pathParameters: Record<string, string> | null } | undefined {
  const parts = path.split('/').filter((s) => s.length > 0);
  let best: { resource: string; params: Record<string, string>; score: number[] } | undefined;
  for (const resource of new Set(resources)) {
    const segs = segmentsOf(resource);
    const params: Record<string, string> = {};
    const score: number[] = [];
    let ok = true;
    for (let i = 0; i < segs.length && ok; i++) {
      const seg = segs[i]!;
      if (seg.kind === 'greedy') {
        if (i !== segs.length - 1 || parts.length <= i) ok = false;
        else params[seg.name] = parts.slice(i).join('/');
        score.push(0);
        break;
      }
      const part = parts[i];
      if (part === undefined) ok = false;
      else if (seg.kind === 'static') {
        ok = seg.name === part;
        score.push(2);
      } else {
        params[seg.name] = part;
        score.push(1);
      }
      if (ok && i === segs.length - 1 && parts.length !== segs.length) ok = false;
    }
    if (segs.length === 0) ok = parts.length === 0;
    if (!ok) continue;
    // Compare segment by segment: the more specific kind earlier in the path wins.
    const better = !best || compareScores(score, best.score) > 0;
    if (better) best = { resource, params, score };
  }
  if (!best) return undefined;
  return { resource: best.resource, pathParameters: Object.keys(best.params).length > 0 ? best.params : null };
}

function compareScores(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? -1) - (b[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

function route(routes: readonly ApiRoute[], method: string, path: string): Match | 'no-method' | undefined {
  const found = resolveResource(
    routes.map((r) => r.resource),
    path,
  );
  if (!found) return undefined;
  const onResource = routes.filter((r) => r.resource === found.resource);
  const chosen = onResource.find((r) => r.method === method) ?? onResource.find((r) => r.method === 'ANY');
  return chosen ? { route: chosen, pathParameters: found.pathParameters } : 'no-method';
}

export async function startApiGateway(
  routes: readonly ApiRoute[],
  port: number,
  host = '127.0.0.1',
): Promise<{ server: Server; url: string }> {
  // Filled once listening (the port may be picked by the system).
  const allowedHosts = new Set<string>();
  const server = createServer({ maxHeaderSize: MAX_REQUEST_LINE_AND_HEADERS }, async (req, res) => {
    const reply = (r: APIGatewayProxyResult) => {
      res.writeHead(r.statusCode, {
        ...(r.headers as Record<string, string>),
        'content-length': Buffer.byteLength(r.body),
      });
      res.end(r.body);
    };
    try {
      const host = (req.headers.host ?? '').toLowerCase();
      if (!allowedHosts.has(host)) {
        reply({
          statusCode: 421,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            error: {
              code: 'misdirected_request',
              message: `this server answers only for ${[...allowedHosts].join(' or ')}; Host ${JSON.stringify(req.headers.host ?? '')} is refused (DNS rebinding protection)`,
            },
          }),
        });
        return;
      }
      const url = new URL(req.url ?? '/', 'http://localhost');
      const method = req.method ?? 'GET';
      const match = route(routes, method, url.pathname);
      if (match === undefined || match === 'no-method') {
        const [status, code, message] =
          match === undefined
            ? [404, 'not_found', noRouteMessage(url.pathname)]
            : [405, 'method_not_allowed', `${method} is not allowed on ${url.pathname}`];
        reply({
          statusCode: status,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ error: { code, message } }),
        });
        return;
      }
      const body = await readBody(req, LIMITS.maxBodyBytes * 4);
      if (body === undefined) {
        reply({
          statusCode: 413,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            error: {
              code: 'payload_too_large',
              message: `request body exceeds ${LIMITS.maxBodyBytes} bytes (the API's limit; send fewer events or actions per request)`,
            },
          }),
        });
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const query: Record<string, string> = {};
      url.searchParams.forEach((v, k) => {
        query[k] = v;
      });
      const requestId = randomUUID();
      const event = {
        resource: match.route.resource,
        path: url.pathname,
        httpMethod: method,
        headers,
        multiValueHeaders: {},
        queryStringParameters: Object.keys(query).length > 0 ? query : null,
        multiValueQueryStringParameters: null,
        pathParameters: match.pathParameters,
        stageVariables: null,
        body: body.length > 0 ? body.toString('utf8') : null,
        isBase64Encoded: false,
        requestContext: { requestId, stage: 'local', resourcePath: match.route.resource, httpMethod: method },
      } as unknown as APIGatewayProxyEvent;
      reply(await match.route.handler(event, { awsRequestId: requestId } as Context));
    } catch {
      reply({
        statusCode: 500,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ error: { code: 'internal_error', message: 'internal error' } }),
      });
    }
  });
  // API Gateway refuses a request whose request line and headers exceed 10,240 bytes; Node's own limit is larger and
  // answers without a body. Same limit here, answered like every other refusal: a 4xx naming the problem.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify({
      error: tooLarge
        ? {
            code: 'request_too_large',
            message: `request line and headers exceed ${MAX_REQUEST_LINE_AND_HEADERS} bytes`,
          }
        : { code: 'bad_request', message: 'malformed HTTP request' },
    });
    socket.end(
      `HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { port: actual } = server.address() as AddressInfo;
  for (const h of hostNames(host)) {
    allowedHosts.add(`${h}:${actual}`);
    if (actual === 80) allowedHosts.add(h);
  }
  return { server, url: `http://${host}:${actual}` };
}

/** The names a client may use for the listening address in `Host`: the address, and `localhost` for loopback. */
function hostNames(host: string): string[] {
  if (host === '127.0.0.1') return ['127.0.0.1', 'localhost'];
  if (host === '::1') return ['[::1]', 'localhost'];
  return [host.toLowerCase()];
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
