export { ConfigError, ConfigErrorCode, issue } from './errors.js';
export type { ConfigIssue } from './errors.js';
export { defineConfig, INLINE_CONFIG, loadConfig, resolveConfig } from './loader.js';
export type { GradhooksConfig, LoadOptions, ResolvedConfig } from './loader.js';
export { builtinPlugins, isPluginFactory, PluginRegistry } from './registry.js';
export { buildConfigSchema, configSchema } from './schema.js';
