// The console's API types (web/src/api/schema.d.ts) are generated from the platform's OpenAPI
// document; a route changed without `npm run docs` fails here instead of drifting silently.

import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { CONSOLE_SCHEMA_FILE, currentOpenApi, renderSchema } from '../../scripts/gen-console-api.js';

it('web/src/api/schema.d.ts matches the OpenAPI document (run `npm run docs` when this fails)', async () => {
  expect(readFileSync(CONSOLE_SCHEMA_FILE, 'utf8')).toBe(renderSchema(await currentOpenApi()));
});
