// Writes schema.json: the config schema assembled from the built-in plugins, for editors ($schema) and CI.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { buildConfigSchema, builtinPlugins } from '../src/index.js';

const target = fileURLToPath(new URL('../schema.json', import.meta.url));
writeFileSync(target, `${JSON.stringify(buildConfigSchema(builtinPlugins), null, 2)}\n`);
console.log(`wrote ${target}`);
