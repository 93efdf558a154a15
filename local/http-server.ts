/**
 * A local stand-in for API Gateway: turns HTTP requests into REST API (v1) proxy events for the very same Lambda
 * handlers, and their results back into HTTP responses. Routes mirror the CDK stack's resources.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { LIMITS } from '../shared/core/schemas.ts';

/** API Gateway's limit on the request line and headers together (REST APIs). */
const MAX_REQUEST_LINE_AND_HEADERS = 10_240;

export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface ApiRoutes {
  decisions: ApiHandler;
  events: ApiHandler;
  admin: ApiHandler;
}

/** Which function serves a path: the same mapping as the API Gateway resources in cdk/nba-engine-stack.ts. */
export function functionFor(path: string): keyof ApiRoutes | undefined {
  if (path === '/v1/decisions') return 'decisions';
  if (path === '/v1/events') return 'events';
  if (/^\/v1\/(decision-points|keys|dead-letters)(\/|$)/.test(path)) return 'admin';
  return undefined;
}

export async function startHttpServer(
  routes: ApiRoutes,
  port: number,
  host = '127.0.0.1',
): Promise<{ server: Server; url: string }> {
  const server = createServer({ maxHeaderSize: MAX_REQUEST_LINE_AND_HEADERS }, async (req, res) => {
    const reply = (r: APIGatewayProxyResult) => {
      res.writeHead(r.statusCode, {
        ...(r.headers as Record<string, string>),
        'content-length': Buffer.byteLength(r.body),
      });
      res.end(r.body);
    };
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const fn = functionFor(url.pathname);
      if (!fn) {
        reply({
          statusCode: 404,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ error: { code: 'not_found', message: `no route for ${url.pathname}` } }),
        });
        return;
      }
      const body = await readBody(req, LIMITS.maxBodyBytes * 4);
      if (body === undefined) {
        reply({
          statusCode: 413,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ error: { code: 'payload_too_large', message: 'request body too large' } }),
        });
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const query: Record<string, string> = {};
      url.searchParams.forEach((v, k) => {
        query[k] = v;
      });
      const event = {
        resource: url.pathname,
        path: url.pathname,
        httpMethod: req.method ?? 'GET',
        headers,
        multiValueHeaders: {},
        queryStringParameters: Object.keys(query).length > 0 ? query : null,
        multiValueQueryStringParameters: null,
        pathParameters: null,
        stageVariables: null,
        body: body.length > 0 ? body.toString('utf8') : null,
        isBase64Encoded: false,
        requestContext: { requestId: randomUUID(), stage: 'local' },
      } as unknown as APIGatewayProxyEvent;
      reply(await routes[fn](event, { awsRequestId: randomUUID() } as Context));
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
    if (!socket.writable) return;
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify({
      error: tooLarge
        ? { code: 'request_too_large', message: `request line and headers exceed ${MAX_REQUEST_LINE_AND_HEADERS} bytes` }
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
  return { server, url: `http://${host}:${actual}` };
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
