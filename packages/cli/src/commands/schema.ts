import { buildConfigSchema, builtinPlugins } from '@gradhooks/config';
import { schemaOf } from '@gradhooks/core';
import type { PluginFactory } from '@gradhooks/core';

import { loadPluginPackage } from '../plugins.js';

/** Options of `assembleSchema`. */
export interface SchemaOptions {
  /** Packages or files whose plugins join the built-in ones, resolved from `cwd`. */
  plugins?: readonly string[];
  /** Folder the packages are resolved from; defaults to the current directory. */
  cwd?: string;
}

/** The assembled schema and what was noticed while assembling it. */
export interface AssembledSchema {
  schema: Record<string, unknown>;
  /** Names of every plugin in the schema, built-in ones first. */
  plugins: string[];
  /** Plugins left out, with the reason (a name that a built-in plugin already has). */
  warnings: string[];
}

type SchemaObject = Record<string, unknown>;

/**
 * Assembles the JSON Schema of config files from the built-in plugins and
 * the plugins that the named packages export. The config loader accepts a
 * package's plugin under its plugin name and under the package specifier,
 * so both names get the plugin's options schema.
 */
export async function assembleSchema(options: SchemaOptions = {}): Promise<AssembledSchema> {
  const cwd = options.cwd ?? process.cwd();
  const plugins: PluginFactory[] = [...builtinPlugins];
  const names = new Set(plugins.map((plugin) => plugin.definition.name));
  const aliases: Array<{ use: string; plugin: PluginFactory }> = [];
  const warnings: string[] = [];

  for (const specifier of options.plugins ?? []) {
    const loaded = await loadPluginPackage(specifier, cwd);
    for (const plugin of loaded.plugins) {
      const name = plugin.definition.name;
      if (!names.has(name)) {
        names.add(name);
        plugins.push(plugin);
      } else if (!plugins.includes(plugin)) {
        warnings.push(`'${specifier}' exports a plugin named '${name}', which is already taken; a config's "use": "${name}" resolves to the other one, so it is left out under that name.`);
      }
    }
    if (specifier !== loaded.primary.definition.name && !names.has(specifier)) {
      names.add(specifier);
      aliases.push({ use: specifier, plugin: loaded.primary });
    }
  }

  const schema = buildConfigSchema(plugins);
  addAliases(schema, aliases);
  return { schema, plugins: [...names], warnings };
}

/**
 * Adds `use` values that name a package rather than its plugin: the value
 * joins the list of known names, and its options get the plugin's schema.
 */
function addAliases(schema: SchemaObject, aliases: ReadonlyArray<{ use: string; plugin: PluginFactory }>): void {
  if (aliases.length === 0) {
    return;
  }
  const items = (schema['properties'] as SchemaObject | undefined)?.['plugins'] as SchemaObject | undefined;
  const entry = items?.['items'] as SchemaObject | undefined;
  const use = (entry?.['properties'] as SchemaObject | undefined)?.['use'] as SchemaObject | undefined;
  const known = (use?.['anyOf'] as SchemaObject[] | undefined)?.[0];
  if (entry === undefined || known === undefined || !Array.isArray(known['enum']) || !Array.isArray(entry['allOf'])) {
    throw new Error('buildConfigSchema returned a schema without properties.plugins.items.allOf and a use enum; addAliases must follow its new shape.');
  }
  known['enum'] = [...(known['enum'] as string[]), ...aliases.map((alias) => alias.use)];
  entry['allOf'] = [
    ...(entry['allOf'] as SchemaObject[]),
    ...aliases.map((alias) => ({
      if: { properties: { use: { const: alias.use } }, required: ['use'] },
      then: { properties: { options: { ...schemaOf(alias.plugin.definition), description: alias.plugin.definition.description } } },
    })),
  ];
}
