/**
 * Writes docs/openapi.json from the schemas the server runs with
 * (src/api/openapi.ts). `npm run openapi`; a test fails when the committed
 * file differs from what this writes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openApiText } from '../src/api/openapi.ts';

const target = fileURLToPath(new URL('../docs/openapi.json', import.meta.url));
mkdirSync(fileURLToPath(new URL('../docs/', import.meta.url)), { recursive: true });
writeFileSync(target, openApiText());
process.stdout.write(`wrote ${target}\n`);
