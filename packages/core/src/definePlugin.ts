import type { FromSchema, JSONSchema } from 'json-schema-to-ts';

import { ErrorCode, GradhooksError } from './errors.js';
import type { HookName, HookSignatures } from './hooks.js';
import type { TapOnlyHooks } from './HookBus.js';
import type { Logger } from './logger.js';
import { formatIssue, validateAgainstSchema } from './options.js';
import type { JsonValue, OptionIssue } from './options.js';
import type { SeededRandom } from './random.js';
import { Stage } from './stages.js';
import type { GradientLevel } from './StepContext.js';

/** Schema of the options that core owns for every plugin. */
export const commonOptionsSchema = {
  variables: {
    type: 'array',
    items: { type: 'string', minLength: 1 },
    default: ['**'],
    description: 'glob patterns of the variable names the plugin acts on; a leading ! excludes',
  },
  seed: {
    type: 'integer',
    minimum: 0,
    maximum: 2147483647,
    description: 'seed of the plugin random generator; defaults to the session seed plus the plugin position',
  },
  dryRun: {
    type: 'boolean',
    default: false,
    description: 'compute and report what the plugin would change without applying it',
  },
} as const;

/** Options every plugin has, after defaults. */
export interface CommonOptions {
  variables: string[];
  seed?: number;
  dryRun: boolean;
}

/**
 * JSON Schema of a plugin's own options: an object schema, written `as const`
 * so that `OptionsOf` and `InputOf` can derive the option types from it.
 */
export interface OptionsSchema {
  readonly type: 'object';
  readonly properties?: Readonly<Record<string, object>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean;
  readonly description?: string;
}

/** Options of a schema after validation and defaults (defaulted keys are present). */
export type OptionsOf<S extends JSONSchema> = FromSchema<S>;

/** Options of a schema as a caller writes them (defaulted keys may be left out), plus the common options. */
export type InputOf<S extends JSONSchema> = FromSchema<S, { keepDefaultedPropertiesOptional: true }> & Partial<CommonOptions>;

/** Resolved options as `create` receives them: the plugin's own and the common ones. */
export type ResolvedOptions<O> = O & CommonOptions;

/** Context a plugin receives when the session creates it. */
export interface PluginContext {
  /** Instance name: the plugin name, with `#2`, `#3`, ... for repeated plugins. */
  readonly name: string;
  /** Objectives the session declares; empty when they are known only at the first step. */
  readonly objectives: readonly string[];
  readonly level: GradientLevel;
  /** The plugin's own seeded generator; the session restores it when a step is skipped. */
  readonly random: SeededRandom;
  readonly logger: Logger;
  /** Tap-only hooks, for plugins that tap more than the hooks they return. */
  readonly hooks: TapOnlyHooks;
  /** Reports whether a variable matches the plugin's `variables` patterns. */
  matchesVariable(name: string): boolean;
}

/** A tap given as a function, or as a function with its own stage. */
export type TapSpec<H extends HookName> = HookSignatures[H] | { fn: HookSignatures[H]; stage?: number };

/** Serializable plugin state, saved in session checkpoints. */
export interface PluginState {
  save(): JsonValue | Promise<JsonValue>;
  load(state: JsonValue): void | Promise<void>;
}

/** Result of `create`: taps keyed by hook name, and optional state and cleanup. */
export type PluginInstance = { [H in HookName]?: TapSpec<H> } & {
  state?: PluginState;
  /** Object the plugin offers to user code, returned by `session.plugin(name)` (for example the weight averages of `ema-weights`). */
  api?: unknown;
  /** Frees the plugin's tensors; called by `session.dispose()`. */
  dispose?: () => void;
};

/**
 * A plugin: a named factory from validated options to taps. `O` is the type
 * of its own options after defaults, usually `OptionsOf<typeof schema>`.
 */
export interface PluginDefinition<O = Record<string, unknown>> {
  /** Kebab-case name: the config `use` value, tap name, log and error prefix. */
  name: string;
  /** One sentence on what the plugin does, shown by the CLI and in schemas. */
  description: string;
  /** JSON Schema of the plugin's own options, `as const`. */
  options: OptionsSchema;
  /** Default stage of the plugin's taps. */
  stage?: number;
  /**
   * Plugins sharing a group cannot be combined in one session: `'aggregator'`
   * for plugins that tap `aggregate` or `representationGradients`.
   */
  exclusiveGroup?: string;
  /**
   * Option keys that name objectives (a name, a list of names, or an object
   * keyed by name). The config loader checks them against the declared objectives.
   */
  objectiveOptions?: readonly string[];
  /**
   * Objectives the plugin adds in `objectiveSources` (a sharpness objective),
   * given its resolved options. The session does not expect the loss of
   * `fit` to provide them.
   */
  derivedObjectives?: (options: Readonly<Record<string, unknown>>) => readonly string[];
  /** Gradient levels the plugin supports; both when omitted. */
  levels?: readonly GradientLevel[];
  /**
   * Checks that JSON Schema cannot express, such as one option bounding
   * another; returns one issue per problem, with paths relative to the
   * options. Runs after schema validation, wherever options are validated.
   */
  validate?(options: ResolvedOptions<O>): OptionIssue[];
  create(options: ResolvedOptions<O>, context: PluginContext): PluginInstance;
}

/** A plugin with validated options, ready for a session. */
export interface PluginSpec {
  // The definition is stored with its option type erased; create() receives validated options.
  readonly definition: PluginDefinition<any>;
  /** Resolved options: defaults filled in, frozen. */
  readonly options: Readonly<Record<string, unknown>>;
}

/** The factory `definePlugin` returns: call it with options to get a `PluginSpec`. */
export interface PluginFactory<I = Record<string, unknown>, O = Record<string, unknown>> {
  (options?: I & Partial<CommonOptions>): PluginSpec;
  readonly definition: PluginDefinition<O>;
  /** The full options schema, common options included, as config files see it. */
  readonly schema: Record<string, unknown>;
}

const pluginNamePattern = /^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9][a-z0-9._-]*$/;

/** Builds the full options schema of a plugin: its own properties plus the common ones, no other keys. */
export function fullOptionsSchema(definition: PluginSpec['definition']): Record<string, unknown> {
  const own = definition.options as unknown as Record<string, unknown>;
  return {
    ...own,
    type: 'object',
    properties: { ...(own['properties'] as object | undefined), ...commonOptionsSchema },
    additionalProperties: false,
  };
}

const schemas = new WeakMap<object, Record<string, unknown>>();

/** Returns the cached full options schema of a definition. */
export function schemaOf(definition: PluginSpec['definition']): Record<string, unknown> {
  let schema = schemas.get(definition);
  if (schema === undefined) {
    schema = fullOptionsSchema(definition);
    schemas.set(definition, schema);
  }
  return schema;
}

/**
 * Validates `options` against a plugin's schema. Returns the resolved options
 * or the list of issues, with JSON pointers relative to the options object.
 */
export function resolvePluginOptions(
  definition: PluginSpec['definition'],
  options: unknown,
): { ok: true; options: Record<string, unknown> } | { ok: false; issues: OptionIssue[] } {
  const result = validateAgainstSchema(schemaOf(definition), options ?? {});
  if (!result.ok) {
    return result;
  }
  const issues = definition.validate?.(result.value as never) ?? [];
  return issues.length === 0 ? { ok: true, options: result.value } : { ok: false, issues };
}

/** Builds a `PluginSpec`, throwing ERR_OPTIONS_INVALID with every issue when the options are invalid. */
export function createPluginSpec(definition: PluginSpec['definition'], options: unknown): PluginSpec {
  const result = resolvePluginOptions(definition, options);
  if (!result.ok) {
    const first = result.issues[0]!;
    const message = result.issues.map((issue) => formatIssue(issue, `Invalid option of plugin '${definition.name}'`)).join('\n');
    const error = new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, message, {
      plugin: definition.name,
      path: first.path,
      received: first.received,
      expected: first.expected,
      fix: first.fix,
    });
    throw Object.assign(error, { issues: result.issues });
  }
  return Object.freeze({ definition, options: Object.freeze(result.options) });
}

/**
 * Defines a plugin. Returns a factory that validates options against the
 * plugin's JSON Schema (plus `variables`, `seed` and `dryRun`) and returns a
 * spec for `HookedOptimizer` or `TrainingSession`.
 *
 * The type parameters are the resolved options `O` and the input options `I`;
 * derive both from the schema with `OptionsOf` and `InputOf`.
 *
 * @example
 * ```ts
 * const scaleSchema = {
 *   type: 'object',
 *   properties: { factor: { type: 'number', default: 0.5, description: 'multiplier' } },
 *   additionalProperties: false,
 * } as const;
 * const scale = definePlugin<OptionsOf<typeof scaleSchema>, InputOf<typeof scaleSchema>>({
 *   name: 'scale',
 *   description: 'Multiplies the combined gradient by a constant.',
 *   options: scaleSchema,
 *   stage: Stage.CLIP,
 *   create(options) {
 *     return { gradients: (grads) => mapGradients(grads, (g) => tf.mul(g, options.factor)) };
 *   },
 * });
 * new HookedOptimizer(tf.train.sgd(0.1), { plugins: [scale({ factor: 0.25 })] });
 * ```
 */
export function definePlugin<O = Record<string, unknown>, I = Partial<O>>(definition: PluginDefinition<O>): PluginFactory<I, O> {
  const generic = definition as unknown as PluginSpec['definition'];
  checkDefinition(generic);
  const factory = ((options?: unknown) => createPluginSpec(generic, options)) as unknown as PluginFactory<I, O>;
  Object.defineProperty(factory, 'definition', { value: definition, enumerable: true });
  Object.defineProperty(factory, 'schema', { get: () => schemaOf(generic), enumerable: true });
  Object.defineProperty(factory, 'name', { value: definition.name });
  return factory;
}

function checkDefinition(definition: PluginSpec['definition']): void {
  const fail = (message: string, received: unknown, expected: string, fix: string) => {
    throw new GradhooksError(ErrorCode.ERR_PLUGIN_DEFINITION_INVALID, message, {
      plugin: typeof definition.name === 'string' ? definition.name : undefined,
      received,
      expected,
      fix,
    });
  };
  if (typeof definition.name !== 'string' || !pluginNamePattern.test(definition.name)) {
    fail(
      `Invalid plugin name ${JSON.stringify(definition.name)}.`,
      definition.name,
      'a kebab-case name such as "clip-global-norm", or a package name',
      'Rename the plugin.',
    );
  }
  const schema = definition.options as unknown as Record<string, unknown> | undefined;
  if (schema === undefined || schema['type'] !== 'object') {
    fail(
      `Plugin '${definition.name}' has an options schema that is not an object schema.`,
      schema,
      "a JSON Schema with type: 'object'",
      "Write the options schema as { type: 'object', properties: { ... } } as const.",
    );
  }
  const properties = Object.keys((schema?.['properties'] as object | undefined) ?? {});
  for (const reserved of Object.keys(commonOptionsSchema)) {
    if (properties.includes(reserved)) {
      fail(
        `Plugin '${definition.name}' declares option '${reserved}', which core owns for every plugin.`,
        reserved,
        `no option named ${Object.keys(commonOptionsSchema).join(', ')}`,
        `Remove '${reserved}' from the schema; core validates it and passes it in the resolved options.`,
      );
    }
  }
  if (typeof definition.create !== 'function') {
    fail(`Plugin '${definition.name}' has no create function.`, typeof definition.create, 'a function', 'Add create(options, context).');
  }
  if (definition.stage !== undefined && !Number.isFinite(definition.stage)) {
    fail(`Plugin '${definition.name}' has a non-finite stage.`, definition.stage, 'a Stage constant', 'Use a Stage constant.');
  }
}

/** Default stage of a plugin's taps. */
export function defaultStage(definition: PluginSpec['definition']): number {
  return definition.stage ?? Stage.SURGERY;
}
