/** `npm run openapi`: writes docs/openapi.json from the zod schemas. */
import { writeFileSync } from 'node:fs';
import { openApiDocument } from '../shared/adapters/http/openapi.ts';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(
    'usage: npm run openapi\n\n  writes docs/openapi.json from the schemas of shared/adapters/http (a test compares the two)',
  );
} else {
  writeFileSync(new URL('../docs/openapi.json', import.meta.url), `${JSON.stringify(openApiDocument(), null, 2)}\n`);
  console.log('wrote docs/openapi.json');
}
