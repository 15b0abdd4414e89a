import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { specsDirectory } from './helpers/specs.js';

const specificationFolder = join(specsDirectory, '..', '..', 'shared', 'specs');

describe('vendored worked examples', () => {
  it.each(['oracles.json', 'cases.json'])('%s parses and has entries', (file) => {
    const data = JSON.parse(readFileSync(join(specsDirectory, file), 'utf8'));
    const entries = data.oracles ?? data.cases;
    expect(Array.isArray(entries)).toBe(true);
    expect(entries.length).toBeGreaterThan(10);
  });

  it.runIf(existsSync(specificationFolder)).each(['oracles.json', 'cases.json'])('%s equals the specification copy', (file) => {
    const vendored = readFileSync(join(specsDirectory, file), 'utf8');
    const source = readFileSync(join(specificationFolder, file), 'utf8');
    expect(vendored).toBe(source);
  });
});
