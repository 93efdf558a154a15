/**
 * GET /console and /console/{file}: the web console's static files (docs/ARCHITECTURE.md §10.2), from the folder
 * `assets/` beside this module, which the console's build writes (console/build.ts): in Lambda inside the bundle,
 * locally before the stack starts. No API key: the files are public, and the page asks for the key itself.
 *
 * `/console` answers a redirect to `console/` so the page's relative addresses (its files, and `../v1/` for the API)
 * resolve under the stage. Every answer forbids framing and loads scripts, styles and data from this origin only.
 */
import { readdir, readFile } from 'node:fs/promises';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { type FunctionRuntime, lambdaHandler } from '../commons/runtime.ts';

const ASSETS = new URL('./assets/', import.meta.url);

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

const text = (statusCode: number, body: string, headers: Record<string, string> = {}): APIGatewayProxyResult => ({
  statusCode,
  headers: { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', ...headers },
  body,
});

async function loadAssets(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const name of await readdir(ASSETS)) {
    if (!name.startsWith('.')) files.set(name, await readFile(new URL(name, ASSETS), 'utf8'));
  }
  return files;
}

export function createHandler(_runtime: FunctionRuntime) {
  let assets: Promise<Map<string, string>> | undefined;
  const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    // The API routes only GET here; any other method is refused all the same.
    if (event.httpMethod !== 'GET') return text(405, 'method not allowed\n', { allow: 'GET' });
    const rest = event.path.replace(/^\/console/, '');
    if (rest === '') return text(301, 'moved to console/\n', { location: 'console/' });
    const name = rest === '/' ? 'index.html' : rest.slice(1);
    assets ??= loadAssets().catch((err: unknown) => {
      assets = undefined;
      throw err;
    });
    let files: Map<string, string>;
    try {
      files = await assets;
    } catch {
      return text(503, 'the console is not built: run `npx tsx console/build.ts`\n');
    }
    const body = files.get(name);
    const type = TYPES[name.split('.').pop() ?? ''];
    if (body === undefined || type === undefined) return text(404, `no such console file: ${name}\n`);
    return {
      statusCode: 200,
      headers: { ...SECURITY_HEADERS, 'content-type': type },
      body,
    };
  };
  return { handler };
}

export const handler = lambdaHandler(createHandler);
