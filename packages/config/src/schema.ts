import { schemaOf } from '@gradhooks/core';
import type { PluginFactory } from '@gradhooks/core';

/**
 * Schema of a config file's top level. Plugin options are validated in a
 * second pass, each against its own plugin's schema, so that an error speaks
 * of one plugin rather than of a oneOf over all of them.
 */
export const configSchema = {
  type: 'object',
  properties: {
    $schema: { type: 'string', description: 'JSON Schema for editors; ignored by the loader' },
    seed: {
      type: 'integer',
      minimum: 0,
      maximum: 2147483647,
      default: 0,
      description: 'base seed: plugins without a seed of their own get seed + their position',
    },
    level: {
      type: 'string',
      enum: ['parameter', 'representation'],
      default: 'parameter',
      description:
        'parameter: one gradient pass per objective, surgery on variable gradients; representation: one backward pass, surgery in FanOut layers',
    },
    guard: {
      type: 'boolean',
      default: true,
      description: 'refuse non-finite combined gradients before the optimizer step',
    },
    objectives: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        properties: {
          weight: { type: 'number', default: 1, description: 'factor applied to the objective loss and gradient' },
        },
        additionalProperties: false,
      },
      description: 'objectives by name (model output names inside fit), each with an optional weight',
    },
    plugins: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        properties: {
          use: { type: 'string', minLength: 1, description: 'built-in plugin name, or a package that exports a plugin' },
          options: { type: 'object', description: "the plugin's options" },
        },
        required: ['use'],
        additionalProperties: false,
      },
      description: 'plugins in the order they are installed; taps run in stage order',
    },
    telemetry: {
      type: 'object',
      properties: {
        jsonl: { type: 'string', minLength: 1, description: 'JSONL file for every telemetry event, relative to the config file' },
        every: { type: 'integer', minimum: 1, default: 1, description: 'report every N step calls' },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
} as const;

/**
 * Assembles the complete JSON Schema of config files for editors and CI:
 * the top level plus, for each plugin, the options that go with its `use` name.
 */
export function buildConfigSchema(plugins: readonly PluginFactory[]): Record<string, unknown> {
  const entries = plugins.map((factory) => ({
    if: { properties: { use: { const: factory.definition.name } }, required: ['use'] },
    then: {
      properties: {
        options: { ...schemaOf(factory.definition), description: factory.definition.description },
      },
    },
  }));
  const names = plugins.map((factory) => factory.definition.name);
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'gradhooks config',
    ...configSchema,
    properties: {
      ...configSchema.properties,
      plugins: {
        ...configSchema.properties.plugins,
        items: {
          ...configSchema.properties.plugins.items,
          properties: {
            ...configSchema.properties.plugins.items.properties,
            use: {
              ...configSchema.properties.plugins.items.properties.use,
              anyOf: [{ enum: names }, { type: 'string', pattern: '^(@|\\.|/)|^[a-z0-9][a-z0-9._-]*$' }],
            },
          },
          allOf: entries,
        },
      },
    },
  };
}
