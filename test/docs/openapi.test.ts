import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../shared/adapters/http/openapi.ts';

describe('docs/openapi.json', () => {
  it('is generated from the current schemas (run `npm run openapi` after changing them)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });

  it('describes the decision request with its limits', () => {
    const doc = openApiDocument() as {
      paths: Record<
        string,
        {
          post?: {
            requestBody: { content: Record<string, { schema: { properties: Record<string, { maximum?: number }> } }> };
          };
        }
      >;
    };
    const body = doc.paths['/v1/decisions']!.post!.requestBody.content['application/json']!.schema;
    expect(body.properties.slots!.maximum).toBe(10);
  });
});
