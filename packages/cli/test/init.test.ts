import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { loadConfig } from '@gradhooks/config';

import { starterConfig, writeStarterConfig } from '../src/commands/init.js';
import { CliError } from '../src/errors.js';
import { repositoryRoot, temporaryFolder } from './helpers.js';

const folder = temporaryFolder('init');
afterAll(() => folder.remove());

describe('starterConfig', () => {
  it('fills in defaults and lists required options', async () => {
    const output = join(folder.path, 'gradhooks.config.json');
    const starter = await starterConfig(['pcgrad', 'clip-global-norm'], { output, objectives: ['left', 'right'] });

    expect(starter.config).toEqual({
      $schema: './node_modules/@gradhooks/config/schema.json',
      seed: 0,
      objectives: { left: { weight: 1 }, right: { weight: 1 } },
      plugins: [
        { use: 'pcgrad', options: { reduction: 'sum', epsilon: 1e-20, variables: ['**'], dryRun: false } },
        { use: 'clip-global-norm', options: { normType: 2, convention: 'exact', variables: ['**'], dryRun: false } },
      ],
      telemetry: { jsonl: 'runs/run.jsonl', every: 1 },
    });
    expect(starter.todo).toHaveLength(1);
    expect(starter.todo[0]).toMatch(/^Set \/plugins\/1\/options\/maxNorm \(plugin 'clip-global-norm'\): largest global norm allowed/);
  });

  it('written config loads once filled in', async () => {
    const output = join(folder.path, 'filled.json');
    const starter = await starterConfig(['pcgrad', 'clip-global-norm'], { output, objectives: ['left', 'right'] });
    await writeStarterConfig(starter, output);
    const written = JSON.parse(readFileSync(output, 'utf8'));
    written.plugins[1].options.maxNorm = 5;
    writeFileSync(output, JSON.stringify(written));
    const config = await loadConfig(output);

    expect(config.plugins.map((spec) => spec.definition.name)).toEqual(['pcgrad', 'clip-global-norm']);
    expect(config.telemetry.jsonl).toBe(join(folder.path, 'runs', 'run.jsonl'));
  });

  it('refuses to overwrite without force', async () => {
    const output = join(folder.path, 'existing.json');
    writeFileSync(output, '{}');
    const starter = await starterConfig([], { output });

    await expect(writeStarterConfig(starter, output)).rejects.toThrow(`${output} already exists. Pass --force to replace it`);
    expect(readFileSync(output, 'utf8')).toBe('{}');
    await writeStarterConfig(starter, output, { force: true });
    expect(JSON.parse(readFileSync(output, 'utf8'))).toMatchObject({ plugins: [] });
  });

  it('finds a third-party package and the schema path', async () => {
    const output = join(repositoryRoot, 'examples', 'third-party-plugin', 'starter.json');
    const starter = await starterConfig(['gradhooks-plugin-gradient-noise'], { output });

    expect(starter.config['$schema']).toBe('./node_modules/@gradhooks/config/schema.json');
    expect(starter.config['plugins']).toEqual([{ use: 'gradhooks-plugin-gradient-noise', options: { eta: 0.01, gamma: 0.55, variables: ['**'], dryRun: false } }]);
    expect(starter.todo).toEqual([]);
    expect(existsSync(output)).toBe(false);
  });

  it('rejects two aggregators', async () => {
    const attempt = starterConfig(['pcgrad', 'mean'], { output: join(folder.path, 'two.json') });

    await expect(attempt).rejects.toThrow(CliError);
    await expect(attempt).rejects.toThrow("Plugins 'pcgrad' and 'mean' cannot be used together: both belong to the group 'aggregator'.");
  });

  it('suggests a built-in name for a typo', async () => {
    await expect(starterConfig(['pcgard'], { output: join(folder.path, 'typo.json') })).rejects.toThrow("Unknown plugin 'pcgard'. Did you mean 'pcgrad'?");
  });
});
