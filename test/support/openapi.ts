/**
 * Checks an HTTP answer against the committed API description, docs/openapi.json (not against the code that
 * generates it): the status must be one the operation documents, and the body must validate against that status's
 * schema with a JSON Schema 2020-12 validator (Ajv, formats included). A path no operation describes must answer
 * with the documented error body. Used by every client of the HTTP tier (support/http.ts) and by the fuzz test.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

interface Operation {
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
type PathItem = Record<string, Operation | unknown>;

const DOC_URL = new URL('../../docs/openapi.json', import.meta.url);
export const apiDocument = JSON.parse(readFileSync(DOC_URL, 'utf8')) as {
  paths: Record<string, PathItem>;
  components: { schemas: Record<string, unknown> };
};

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);
ajv.addSchema({ ...apiDocument, $id: 'openapi.json' });

const validators = new Map<string, ValidateFunction>();
function validatorFor(pointer: string): ValidateFunction {
  let v = validators.get(pointer);
  if (!v) {
    v = ajv.compile({ $ref: `openapi.json#${pointer}` });
    validators.set(pointer, v);
  }
  return v;
}
const pointerEscape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** The path templates, most literal characters first, so `…/model:rollback` wins over a parameter. */
const templates = Object.keys(apiDocument.paths)
  .map((template) => ({
    template,
    regex: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{\w+\\?\}/g, '[^/]+')}/?$`),
    literal: template.replace(/\{\w+\}/g, '').length,
  }))
  .sort((a, b) => b.literal - a.literal);

/** The template of the operation a request reaches, if the document describes its path. */
export function templateOf(path: string): string | undefined {
  const bare = path.split('?')[0]!;
  return templates.find((t) => t.regex.test(bare))?.template;
}

/** What is wrong with an answer according to docs/openapi.json, or undefined when it conforms. */
export function responseProblem(method: string, path: string, status: number, body: unknown): string | undefined {
  const where = `${method} ${path.slice(0, 120)} -> ${status}`;
  const template = templateOf(path);
  const operation = template
    ? (apiDocument.paths[template]![method.toLowerCase()] as Operation | undefined)
    : undefined;
  let pointer: string;
  if (!operation) {
    // Neither path nor method is described: the gateway's 404/405, with the documented error body.
    if (status !== 404 && status !== 405) return `${where}: no operation is documented, so 404 or 405 was expected`;
    pointer = '/components/schemas/Error';
  } else {
    const documented = operation.responses[String(status)];
    if (!documented) {
      return `${where}: status not documented for ${method} ${template} (documented: ${Object.keys(operation.responses).join(', ')})`;
    }
    if (!documented.content?.['application/json']) {
      return body === undefined || body === '' ? undefined : `${where}: documented without a body, got one`;
    }
    pointer = `/paths/${pointerEscape(template!)}/${method.toLowerCase()}/responses/${status}/content/application~1json/schema`;
  }
  const validate = validatorFor(pointer);
  if (validate(body)) return undefined;
  const errors = (validate.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || '(body)'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
  return `${where}: body does not match docs/openapi.json: ${errors.join('; ')}; body ${JSON.stringify(body)?.slice(0, 300)}`;
}

/**
 * What is wrong with a body a successful call printed (curl without its status), or undefined when it matches one
 * of the operation's documented 2xx answers.
 */
export function successBodyProblem(method: string, path: string, body: unknown): string | undefined {
  const template = templateOf(path);
  const operation = template
    ? (apiDocument.paths[template]![method.toLowerCase()] as Operation | undefined)
    : undefined;
  if (!operation) return `${method} ${path}: no operation is documented`;
  const problems: string[] = [];
  for (const status of Object.keys(operation.responses).filter((s) => /^2\d\d$/.test(s))) {
    const problem = responseProblem(method, path, Number(status), body);
    if (problem === undefined) return undefined;
    problems.push(problem);
  }
  return problems.join('\n') || `${method} ${template}: no 2xx answer is documented`;
}

/** What is wrong with a request body according to the operation's documented `requestBody`, or undefined. */
export function requestProblem(method: string, template: string, body: unknown): string | undefined {
  const pointer = `/paths/${pointerEscape(template)}/${method.toLowerCase()}/requestBody/content/application~1json/schema`;
  const validate = validatorFor(pointer);
  if (validate(body)) return undefined;
  return `${method} ${template} request: ${(validate.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || '(body)'} ${e.message} ${JSON.stringify(e.params)}`)
    .join('; ')}`;
}
