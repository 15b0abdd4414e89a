import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { ConfigError, loadConfig } from '@gradhooks/config';

import { formatValidation, validateConfig, validationJson } from '../src/commands/validate.js';
import { fixture, repositoryRoot, temporaryFolder } from './helpers.js';

const folder = temporaryFolder('validate');
afterAll(() => folder.remove());

function writeConfig(name: string, value: unknown): string {
  const path = join(folder.path, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return path;
}

describe('validateConfig', () => {
  it('accepts the demo config', async () => {
    const file = join(repositoryRoot, 'examples', 'multitask-mnist', 'gradhooks.config.json');
    const result = await validateConfig(file);

    expect(result).toEqual({ file, valid: true, problems: [], plugins: ['pcgrad', 'clip-global-norm'], warnings: [] });
    expect(formatValidation(result)).toBe(`${file}: valid (2 plugin(s): pcgrad, clip-global-norm)`);
  });

  it('lists every problem as the loader does', async () => {
    const file = writeConfig('typos.json', {
      seeed: 1,
      plugins: [{ use: 'pcgard' }, { use: 'clip-global-norm', options: { maxNorm: -1 } }, { use: 'pcgrad', options: { reducton: 'mean' } }],
    });
    const result = await validateConfig(file);
    const loaded = (await loadConfig(file).then(
      () => undefined,
      (error: unknown) => error,
    )) as ConfigError;

    expect(result.valid).toBe(false);
    expect(result.problems.map((entry) => entry.path)).toEqual(['/seeed', '/plugins/0/use', '/plugins/1/options/maxNorm', '/plugins/2/options/reducton']);
    expect(result.problems.map((entry) => entry.message)).toEqual(loaded.issues.map((issue) => issue.message));
    expect(result.problems[1]!.message).toBe(`${file}: /plugins/0/use: received "pcgard", expected ${result.problems[1]!.expected}. Did you mean 'pcgrad'?`);
    const lines = formatValidation(result).split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[4]).toBe(`${file}: 4 problem(s)`);
  });

  it('reports an unreadable file', async () => {
    const file = join(folder.path, 'missing.json');
    const result = await validateConfig(file);

    expect(result.valid).toBe(false);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatchObject({ code: 'ERR_CONFIG_FILE_UNREADABLE', file, received: 'ENOENT' });
  });

  it('reports invalid JSON with its line', async () => {
    const file = writeConfig('syntax.json', '{\n  "seed": 1,\n}\n');
    const result = await validateConfig(file);

    expect(result.problems[0]).toMatchObject({ code: 'ERR_CONFIG_JSON_INVALID', received: 'unexpected text at line 3, column 1' });
  });

  it('skips plugin creation when asked', async () => {
    const file = fixture('broken-plugins', 'unknown-hook.config.json');

    expect((await validateConfig(file, { createPlugins: false })).valid).toBe(true);
    expect((await validateConfig(file)).valid).toBe(false);
  });

  it('JSON form keeps the loader fields', async () => {
    const file = writeConfig('json.json', { plugins: [{ use: 'clip-global-norm' }] });
    const json = validationJson(await validateConfig(file));

    expect(json).toMatchObject({ file, valid: false, plugins: [], warnings: [] });
    expect(json['problems']).toEqual([
      {
        code: 'ERR_CONFIG_OPTION_INVALID',
        file,
        path: '/plugins/0/options/maxNorm',
        received: undefined,
        expected: expect.stringContaining("a value for 'maxNorm'") as unknown,
        fix: "Add 'maxNorm'; it has no default.",
        plugin: 'clip-global-norm',
        message: expect.stringContaining("(plugin 'clip-global-norm'): received nothing") as unknown,
      },
    ]);
  });
});
