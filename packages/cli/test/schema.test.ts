import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { builtinPlugins } from '@gradhooks/config';
import { validateAgainstSchema } from '@gradhooks/core';

import { assembleSchema } from '../src/commands/schema.js';
import { CliError } from '../src/errors.js';
import { fixture, repositoryRoot } from './helpers.js';

const exampleFolder = join(repositoryRoot, 'examples', 'third-party-plugin');
const NOISE = 'gradhooks-plugin-gradient-noise';

type SchemaObject = Record<string, any>;

function pluginItems(schema: SchemaObject): { names: string[]; conditions: Array<{ use: string; options: SchemaObject }> } {
  const items = schema['properties']['plugins']['items'];
  return {
    names: items['properties']['use']['anyOf'][0]['enum'],
    conditions: items['allOf'].map((entry: SchemaObject) => ({ use: entry['if']['properties']['use']['const'], options: entry['then']['properties']['options'] })),
  };
}

describe('assembleSchema', () => {
  it('lists every built-in plugin', async () => {
    const { schema, plugins, warnings } = await assembleSchema();
    const items = pluginItems(schema);

    expect(items.names).toEqual(builtinPlugins.map((plugin) => plugin.definition.name));
    expect(plugins).toEqual(items.names);
    expect(items.names).not.toContain(NOISE);
    expect(warnings).toEqual([]);
  });

  it('adds a package by name from the current directory', async () => {
    const { schema } = await assembleSchema({ plugins: [NOISE], cwd: exampleFolder });
    const items = pluginItems(schema);
    const noise = items.conditions.find((entry) => entry.use === NOISE)!;

    expect(items.names.at(-1)).toBe(NOISE);
    expect(noise.options['properties']['eta']).toMatchObject({ type: 'number', exclusiveMinimum: 0, default: 0.01 });
    expect(noise.options['additionalProperties']).toBe(false);
    const accepted = validateAgainstSchema(schema, { plugins: [{ use: NOISE, options: { eta: 0.3 } }] });
    expect(accepted.ok).toBe(true);
    const rejected = validateAgainstSchema(schema, { plugins: [{ use: NOISE, options: { eta: 0 } }] });
    expect(rejected.ok).toBe(false);
    expect(rejected.ok ? [] : rejected.issues.map((issue) => issue.path)).toContain('/plugins/0/options/eta');
  });

  it('adds every plugin of a file and its path', async () => {
    const path = fixture('two-plugins.ts');
    const { schema, warnings } = await assembleSchema({ plugins: [path] });
    const items = pluginItems(schema);

    expect(items.names.slice(-3)).toEqual(['fixture-first', 'fixture-second', path]);
    const byPath = items.conditions.find((entry) => entry.use === path)!;
    expect(byPath.options['properties']['level']).toMatchObject({ type: 'integer', default: 1 });
    expect(items.names.filter((name) => name === 'pcgrad')).toHaveLength(1);
    expect(warnings).toEqual([
      `'${path}' exports a plugin named 'pcgrad', which is already taken; a config's "use": "pcgrad" resolves to the other one, so it is left out under that name.`,
    ]);
  });

  it('names a package that cannot be found', async () => {
    const attempt = assembleSchema({ plugins: ['gradhooks-plugin-nowhere'], cwd: exampleFolder });

    await expect(attempt).rejects.toThrow(CliError);
    await expect(attempt).rejects.toThrow(`Cannot find plugin package 'gradhooks-plugin-nowhere' from ${exampleFolder}`);
  });

  it('names a module without plugins', async () => {
    await expect(assembleSchema({ plugins: [fixture('..', 'helpers.ts')] })).rejects.toThrow(/exports no plugin made with definePlugin/);
  });
});
