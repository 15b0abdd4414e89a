import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve as resolvePath, sep } from 'node:path';

import { ConfigError, PluginRegistry, resolveConfig } from '@gradhooks/config';
import { closest, schemaOf } from '@gradhooks/core';
import type { PluginFactory } from '@gradhooks/core';

import { CliError } from '../errors.js';
import { loadPluginPackage } from '../plugins.js';

/** Options of `starterConfig`. */
export interface InitOptions {
  /** Path the config will be written to; `$schema`, `telemetry.jsonl` and package lookups are relative to its folder. */
  output: string;
  /** Objective names to declare; by default those that plugins name in their objective options' defaults. */
  objectives?: readonly string[];
  /** Registry of known plugins; defaults to the built-in ones. */
  registry?: PluginRegistry;
}

/** A starter config and what the user must still fill in. */
export interface StarterConfig {
  config: Record<string, unknown>;
  /** Options that have no default and must be set before training, one sentence each. */
  todo: string[];
}

type SchemaObject = Record<string, unknown>;

/**
 * Builds a starter config for the named plugins, each with every option set
 * to its default. A name that is not a built-in plugin is loaded as a package
 * or file from the output folder. Raises a `CliError` for an unknown plugin
 * or a combination the config loader rejects (two aggregators, say).
 */
export async function starterConfig(names: readonly string[], options: InitOptions): Promise<StarterConfig> {
  const file = resolvePath(options.output);
  const folder = dirname(file);
  const registry = options.registry ?? new PluginRegistry();
  const todo: string[] = [];
  const objectives = new Set(options.objectives ?? []);
  let levels: readonly string[] = ['parameter', 'representation'];
  const groups = new Map<string, string>();
  const entries: Array<{ use: string; options: Record<string, unknown> }> = [];

  for (const [index, name] of names.entries()) {
    const plugin = await resolvePlugin(name, folder, registry);
    const { defaults, required } = defaultOptions(plugin);
    for (const [key, description] of required) {
      todo.push(`Set /plugins/${index}/options/${key} (plugin '${plugin.definition.name}')${description === undefined ? '' : `: ${description}`}.`);
    }
    if (options.objectives === undefined) {
      for (const key of plugin.definition.objectiveOptions ?? []) {
        objectiveNames(defaults[key]).forEach((objective) => objectives.add(objective));
      }
    }
    const group = plugin.definition.exclusiveGroup;
    const other = group === undefined ? undefined : groups.get(group);
    if (other !== undefined) {
      throw new CliError(`Plugins '${other}' and '${name}' cannot be used together: both belong to the group '${group}'. Keep one of them.`);
    }
    if (group !== undefined) {
      groups.set(group, name);
    }
    const supported = plugin.definition.levels;
    if (supported !== undefined) {
      levels = levels.filter((level) => supported.includes(level as 'parameter' | 'representation'));
      if (levels.length === 0) {
        throw new CliError(`Plugin '${name}' works only at the ${supported.join(' or ')} level, which an earlier plugin does not support. Remove one of them.`);
      }
    }
    entries.push({ use: name, options: defaults });
    registry.register(plugin);
  }

  const config: Record<string, unknown> = {
    $schema: schemaReference(folder),
    seed: 0,
    ...(levels.includes('parameter') ? {} : { level: 'representation' }),
    ...(objectives.size === 0 ? {} : { objectives: Object.fromEntries([...objectives].map((objective) => [objective, { weight: 1 }])) }),
    plugins: entries,
    telemetry: { jsonl: 'runs/run.jsonl', every: 1 },
  };
  await checkCombination(config, file, registry, todo.length);
  return { config, todo };
}

/** Writes the starter config; refuses to replace an existing file unless `force` is set. */
export async function writeStarterConfig(starter: StarterConfig, output: string, options: { force?: boolean } = {}): Promise<string> {
  const file = resolvePath(output);
  try {
    await writeFile(file, `${JSON.stringify(starter.config, null, 2)}\n`, { flag: options.force === true ? 'w' : 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CliError(`${file} already exists. Pass --force to replace it, or choose another file with --output.`);
    }
    throw error;
  }
  return file;
}

async function resolvePlugin(name: string, folder: string, registry: PluginRegistry): Promise<PluginFactory> {
  const builtin = registry.get(name);
  if (builtin !== undefined) {
    return builtin;
  }
  try {
    return (await loadPluginPackage(name, folder)).primary;
  } catch (error) {
    const suggestion = closest(name, registry.names());
    if (suggestion !== undefined && error instanceof CliError && error.message.startsWith('Cannot find')) {
      throw new CliError(`Unknown plugin '${name}'. Did you mean '${suggestion}'?`, { cause: error });
    }
    throw error;
  }
}

/** Returns the plugin's defaults (its own options first, then the common ones) and its required options that have none. */
function defaultOptions(plugin: PluginFactory): { defaults: Record<string, unknown>; required: Array<[string, string | undefined]> } {
  const schema = schemaOf(plugin.definition);
  const properties = (schema['properties'] ?? {}) as Record<string, SchemaObject>;
  const defaults: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(properties)) {
    if ('default' in property) {
      defaults[key] = structuredClone(property['default']);
    }
  }
  const required = ((schema['required'] ?? []) as string[])
    .filter((key) => !(key in defaults))
    .map((key): [string, string | undefined] => [key, properties[key]?.['description'] as string | undefined]);
  return { defaults, required };
}

function objectiveNames(value: unknown): string[] {
  if (typeof value === 'string') {
    return [value];
  }
  if (Array.isArray(value)) {
    return value.filter((item): item is string => typeof item === 'string');
  }
  if (value !== null && typeof value === 'object') {
    return Object.keys(value);
  }
  return [];
}

/**
 * Path of `node_modules/@gradhooks/config/schema.json` relative to `folder`,
 * from the nearest folder upwards that has it, as Node finds packages. The
 * path goes through node_modules rather than to the real file, so it stays
 * valid when a package manager links the package from elsewhere.
 */
function schemaReference(folder: string): string {
  const target = join('node_modules', '@gradhooks', 'config', 'schema.json');
  for (let current = folder; ; current = dirname(current)) {
    if (existsSync(join(current, target))) {
      const path = relative(folder, join(current, target)).split(sep).join('/');
      return path.startsWith('.') ? path : `./${path}`;
    }
    if (dirname(current) === current) {
      return `./${target.split(sep).join('/')}`;
    }
  }
}

/**
 * Validates the starter config with the config loader. Missing required
 * options are expected, because the user fills them in. Any other issue
 * means the plugins cannot be combined, and raises a `CliError` with the
 * loader's messages.
 */
async function checkCombination(config: Record<string, unknown>, file: string, registry: PluginRegistry, missing: number): Promise<void> {
  try {
    await resolveConfig(config, { file, registry });
  } catch (error) {
    if (!(error instanceof ConfigError)) {
      throw error;
    }
    const blocking = error.issues.filter((issue) => !(issue.code === 'ERR_CONFIG_OPTION_INVALID' && issue.received === undefined));
    if (blocking.length > 0 || (missing === 0 && error.issues.length > 0)) {
      throw new CliError(`These plugins cannot be combined in one config:\n${blocking.map((issue) => `- ${issue.message}`).join('\n')}`);
    }
  }
}
