import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';

import type * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';

import { closest, GradhooksError, HookedOptimizer, resolvePluginOptions, validateAgainstSchema } from '@gradhooks/core';
import type { GradientLevel, Logger, PluginFactory, PluginSpec, SessionOptions } from '@gradhooks/core';
import type { FromSchema } from 'json-schema-to-ts';
import { parseTree, printParseErrorCode } from 'jsonc-parser';
import type { ParseError } from 'jsonc-parser';

import { ConfigError, ConfigErrorCode, issue } from './errors.js';
import type { ConfigIssue } from './errors.js';
import { PluginRegistry } from './registry.js';
import { configSchema } from './schema.js';

/** A config as written in a file or built in code with `defineConfig`. */
export type GradhooksConfig = FromSchema<typeof configSchema, { keepDefaultedPropertiesOptional: true }>;

/** Name used in errors for configs that did not come from a file. */
export const INLINE_CONFIG = '<inline config>';

/** A validated config with its plugins resolved, ready to build a session. */
export interface ResolvedConfig {
  /** Absolute path of the config file, or `<inline config>`. */
  readonly file: string;
  readonly seed: number;
  readonly level: GradientLevel;
  readonly guard: boolean;
  /** Declared objectives with their weights; undefined when the config declares none. */
  readonly objectives: Readonly<Record<string, { weight: number }>> | undefined;
  /** Plugins with validated options, in config order. */
  readonly plugins: readonly PluginSpec[];
  /** Telemetry settings; `jsonl` is absolute, resolved against the config file's folder. */
  readonly telemetry: { readonly jsonl?: string; readonly every: number };
  /** Session options equivalent to this config. */
  sessionOptions(extra?: { model?: LayersModel; logger?: Logger }): SessionOptions;
  /** Wraps `inner` in a `HookedOptimizer` configured by this config. */
  createOptimizer(inner: tf.Optimizer, extra?: { model?: LayersModel; logger?: Logger }): HookedOptimizer;
}

/** Options of `loadConfig` and `resolveConfig`. */
export interface LoadOptions {
  /** Registry that resolves `use` names; defaults to the built-in plugins. */
  registry?: PluginRegistry;
}

/** Returns `config` unchanged, typed: the in-code form of a config file. */
export function defineConfig(config: GradhooksConfig): GradhooksConfig {
  return config;
}

/**
 * Reads, validates and resolves a JSON config file. Every problem found is
 * reported at once in a `ConfigError` that names the file, the JSON path, the
 * value received, what is allowed and the fix.
 */
export async function loadConfig(path: string, options: LoadOptions = {}): Promise<ResolvedConfig> {
  const file = resolvePath(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError([
      issue({
        code: ConfigErrorCode.ERR_CONFIG_FILE_UNREADABLE,
        file,
        path: '',
        received: (error as NodeJS.ErrnoException).code ?? String(error),
        expected: 'a readable JSON file',
        fix: 'Check the path; relative paths are resolved from the current directory.',
      }),
    ]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const { where, reason } = locate(text);
    throw new ConfigError([
      issue({
        code: ConfigErrorCode.ERR_CONFIG_JSON_INVALID,
        file,
        path: '',
        received: where,
        expected: 'valid JSON',
        fix: `Fix the JSON syntax: ${reason} (${(error as Error).message.split('\n')[0]}).`,
      }),
    ]);
  }
  return resolveConfig(value, { ...options, file });
}

/**
 * Validates and resolves a config object, as `loadConfig` does for files.
 * Relative `use` paths and `telemetry.jsonl` resolve against the folder of
 * `file` (or the current directory).
 */
export async function resolveConfig(value: unknown, options: LoadOptions & { file?: string } = {}): Promise<ResolvedConfig> {
  const file = options.file ?? INLINE_CONFIG;
  const baseDirectory = options.file === undefined ? process.cwd() : dirname(options.file);
  const registry = options.registry ?? new PluginRegistry();
  const issues: ConfigIssue[] = [];

  const top = validateAgainstSchema(configSchema, value);
  if (!top.ok) {
    for (const found of top.issues) {
      issues.push(issue({ code: ConfigErrorCode.ERR_CONFIG_INVALID, file, ...pick(found) }));
    }
  }
  const config = (top.ok ? top.value : fallbackDefaults(value)) as {
    seed: number;
    level: GradientLevel;
    guard: boolean;
    objectives?: Record<string, { weight?: number }>;
    plugins: Array<{ use?: unknown; options?: unknown }>;
    telemetry?: { jsonl?: string; every?: number };
  };

  const plugins: Array<{ spec: PluginSpec; index: number }> = [];
  const entries = Array.isArray(config.plugins) ? config.plugins : [];
  for (const [index, entry] of entries.entries()) {
    if (entry === null || typeof entry !== 'object' || typeof entry.use !== 'string' || entry.use.length === 0) {
      continue;
    }
    const factory = await findPlugin(entry.use, index, { registry, baseDirectory, file, issues });
    if (factory === undefined) {
      continue;
    }
    const resolved = resolvePluginOptions(factory.definition, entry.options ?? {});
    if (!resolved.ok) {
      for (const found of resolved.issues) {
        const located = pick(found);
        issues.push(
          issue({
            code: ConfigErrorCode.ERR_CONFIG_OPTION_INVALID,
            file,
            ...located,
            path: `/plugins/${index}/options${located.path}`,
            plugin: factory.definition.name,
          }),
        );
      }
      continue;
    }
    plugins.push({ spec: Object.freeze({ definition: factory.definition, options: Object.freeze(resolved.options) }), index });
  }

  checkCombinations(plugins, config, file, issues);
  if (issues.length > 0) {
    throw new ConfigError(issues);
  }

  const objectives =
    config.objectives === undefined
      ? undefined
      : Object.fromEntries(Object.entries(config.objectives).map(([name, declaration]) => [name, { weight: declaration.weight ?? 1 }]));
  const telemetry = {
    ...(config.telemetry?.jsonl === undefined ? {} : { jsonl: resolvePath(baseDirectory, config.telemetry.jsonl) }),
    every: config.telemetry?.every ?? 1,
  };
  const specs = plugins.map((plugin) => plugin.spec);
  const sessionOptions = (extra: { model?: LayersModel; logger?: Logger } = {}): SessionOptions => ({
    plugins: specs,
    seed: config.seed,
    level: config.level,
    guard: config.guard,
    telemetry: { every: telemetry.every },
    ...(objectives === undefined ? {} : { objectives }),
    ...(extra.model === undefined ? {} : { model: extra.model }),
    ...(extra.logger === undefined ? {} : { logger: extra.logger }),
  });
  return Object.freeze({
    file,
    seed: config.seed,
    level: config.level,
    guard: config.guard,
    objectives,
    plugins: specs,
    telemetry,
    sessionOptions,
    createOptimizer: (inner: tf.Optimizer, extra: { model?: LayersModel; logger?: Logger } = {}) => {
      try {
        return new HookedOptimizer(inner, sessionOptions(extra));
      } catch (error) {
        throw withConfigLocation(error, file, specs);
      }
    },
  });
}

/**
 * Adds the config file, and the plugin entry's JSON path, to an error raised
 * while the optimizer is built (a plugin's create(), or objectives that do
 * not match the attached model). The error keeps its code, plugin and hook.
 */
function withConfigLocation(error: unknown, file: string, specs: readonly PluginSpec[]): unknown {
  if (!(error instanceof GradhooksError) || error.file !== undefined) {
    return error;
  }
  const index = error.plugin === undefined ? -1 : specs.findIndex((spec) => spec.definition.name === error.plugin?.replace(/#\d+$/, ''));
  const entry = index >= 0 ? (error.path === undefined ? `/plugins/${index}/use` : `/plugins/${index}/options`) : '';
  const path = `${entry}${error.path ?? ''}`;
  return new GradhooksError(error.code, `${file}: ${path || '/'}: ${error.message}`, {
    file,
    path,
    ...(error.plugin === undefined ? {} : { plugin: error.plugin }),
    ...(error.hook === undefined ? {} : { hook: error.hook }),
    ...(error.variable === undefined ? {} : { variable: error.variable }),
    received: error.received,
    ...(error.expected === undefined ? {} : { expected: error.expected }),
    ...(error.fix === undefined ? {} : { fix: error.fix }),
    cause: error,
  });
}

function pick(found: { path: string; received: unknown; expected: string; fix: string }) {
  return { path: found.path, received: found.received, expected: found.expected, fix: found.fix };
}

/** Fills the top-level defaults into a config that failed validation, so plugin checks can still run. */
function fallbackDefaults(value: unknown): Record<string, unknown> {
  const object = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  return { seed: 0, level: 'parameter', guard: true, ...object, plugins: Array.isArray(object['plugins']) ? object['plugins'] : [] };
}

async function findPlugin(
  use: string,
  index: number,
  context: { registry: PluginRegistry; baseDirectory: string; file: string; issues: ConfigIssue[] },
): Promise<PluginFactory | undefined> {
  const builtin = context.registry.get(use);
  if (builtin !== undefined) {
    return builtin;
  }
  try {
    return await context.registry.load(use, context.baseDirectory);
  } catch (error) {
    const notFound = (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    if (notFound && (use.startsWith('.') || isAbsolute(use))) {
      const path = resolvePath(context.baseDirectory, use);
      const sibling = [path.replace(/\.js$/, '.ts'), path.replace(/\.ts$/, '.js')].find((candidate) => candidate !== path && existsSync(candidate));
      context.issues.push(
        issue({
          code: ConfigErrorCode.ERR_CONFIG_PLUGIN_UNKNOWN,
          file: context.file,
          path: `/plugins/${index}/use`,
          received: use,
          expected: `a plugin file; there is no file at ${path}`,
          fix:
            sibling === undefined
              ? 'Fix the path; it is resolved from the folder of the config file.'
              : `Did you mean '${use.replace(/\.(js|ts)$/, sibling.slice(sibling.lastIndexOf('.')))}'?`,
        }),
      );
      return undefined;
    }
    const names = context.registry.names();
    const suggestion = closest(use, names);
    context.issues.push(
      issue({
        code: notFound ? ConfigErrorCode.ERR_CONFIG_PLUGIN_UNKNOWN : ConfigErrorCode.ERR_CONFIG_PLUGIN_LOAD_FAILED,
        file: context.file,
        path: `/plugins/${index}/use`,
        received: use,
        expected: notFound
          ? `a built-in plugin (${names.join(', ')}) or an installed package that exports one`
          : `a package or file that exports a plugin made with definePlugin (${(error as Error).message})`,
        fix:
          suggestion !== undefined
            ? `Did you mean '${suggestion}'?`
            : notFound
              ? `Install the package that provides '${use}', or fix the name.`
              : error instanceof GradhooksError && error.fix !== undefined
                ? error.fix
                : 'Export the plugin factory made with definePlugin as the default export.',
      }),
    );
    return undefined;
  }
}

function checkCombinations(
  plugins: ReadonlyArray<{ spec: PluginSpec; index: number }>,
  config: { level: GradientLevel; objectives?: Record<string, unknown> },
  file: string,
  issues: ConfigIssue[],
): void {
  if (config.level === 'representation') {
    for (const [name, declaration] of Object.entries(config.objectives ?? {})) {
      const weight = (declaration as { weight?: number }).weight ?? 1;
      if (weight !== 1) {
        issues.push(
          issue({
            code: ConfigErrorCode.ERR_CONFIG_INVALID,
            file,
            path: `/objectives/${name}/weight`,
            received: weight,
            expected: '1 at the representation level, where one backward pass carries every objective',
            fix: 'Scale the loss inside the model, or set "level" to "parameter".',
          }),
        );
      }
    }
  }
  const groups = new Map<string, { name: string; index: number }>();
  for (const { spec, index } of plugins) {
    const definition = spec.definition;
    const group = definition.exclusiveGroup;
    // A dry-run plugin applies nothing, so it can sit beside another plugin of its group for comparison.
    if (group !== undefined && spec.options['dryRun'] !== true) {
      const first = groups.get(group);
      if (first === undefined) {
        groups.set(group, { name: definition.name, index });
      } else {
        issues.push(
          issue({
            code: ConfigErrorCode.ERR_CONFIG_PLUGIN_CONFLICT,
            file,
            path: `/plugins/${index}/use`,
            received: definition.name,
            expected: `no second plugin of group '${group}' (plugins/${first.index} is '${first.name}')`,
            fix: `Keep either '${first.name}' or '${definition.name}'; to compare them, set dryRun: true on one.`,
            plugin: definition.name,
          }),
        );
      }
    }
    if (definition.levels !== undefined && !definition.levels.includes(config.level)) {
      issues.push(
        issue({
          code: ConfigErrorCode.ERR_CONFIG_PLUGIN_CONFLICT,
          file,
          path: `/plugins/${index}/use`,
          received: `${definition.name} with level '${config.level}'`,
          expected: `level ${definition.levels.map((level) => `'${level}'`).join(' or ')}`,
          fix: `Set "level" to ${definition.levels.map((level) => `"${level}"`).join(' or ')}, or remove '${definition.name}'.`,
          plugin: definition.name,
        }),
      );
    }
    for (const key of definition.objectiveOptions ?? []) {
      const value = spec.options[key];
      // An option names objectives as a string, a list of strings, or the keys of an object (weights by objective).
      const named =
        typeof value === 'string'
          ? [value]
          : Array.isArray(value)
            ? value.filter((item): item is string => typeof item === 'string')
            : typeof value === 'object' && value !== null
              ? Object.keys(value)
              : [];
      const declared = config.objectives === undefined ? [] : Object.keys(config.objectives);
      for (const objective of named) {
        if (!declared.includes(objective)) {
          const suggestion = closest(objective, declared);
          issues.push(
            issue({
              code: ConfigErrorCode.ERR_CONFIG_OBJECTIVE_UNKNOWN,
              file,
              path: `/plugins/${index}/options/${key}`,
              received: objective,
              expected: declared.length === 0 ? 'an objective declared under "objectives" (none is declared)' : `one of the declared objectives: ${declared.join(', ')}`,
              fix:
                suggestion !== undefined
                  ? `Did you mean '${suggestion}'?`
                  : `Declare "${objective}" under "objectives", or name a declared objective.`,
              plugin: definition.name,
            }),
          );
        }
      }
    }
  }
}

/**
 * Locates the first syntax error of `text` as "line L, column C" with its
 * cause. JSON.parse in Node 20 does not always give a position, so the text is
 * scanned again with jsonc-parser in strict JSON mode.
 */
function locate(text: string): { where: string; reason: string } {
  const errors: ParseError[] = [];
  parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  if (first === undefined) {
    return { where: 'unparsable text', reason: 'invalid JSON' };
  }
  const before = text.slice(0, first.offset);
  const line = before.split('\n').length;
  const column = first.offset - before.lastIndexOf('\n');
  return { where: `unexpected text at line ${line}, column ${column}`, reason: printParseErrorCode(first.error) };
}
