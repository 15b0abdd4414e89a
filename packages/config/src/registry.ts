import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

import type { PluginFactory } from '@gradhooks/core';
import { bloopPlugins } from '@gradhooks/plugin-bloop';
import { clipPlugins } from '@gradhooks/plugin-clip';
import { gaqatPlugins } from '@gradhooks/plugin-gaqat';
import { progradPlugins } from '@gradhooks/plugin-prograd';
import { surgeryPlugins } from '@gradhooks/plugin-surgery';

/** The plugins shipped with gradhooks, by config name. */
export const builtinPlugins: readonly PluginFactory[] = [
  ...surgeryPlugins,
  ...clipPlugins,
  ...bloopPlugins,
  ...progradPlugins,
  ...gaqatPlugins,
] as unknown as PluginFactory[];

/** Reports whether a value is a plugin factory made by `definePlugin`. */
export function isPluginFactory(value: unknown): value is PluginFactory {
  return (
    typeof value === 'function' &&
    typeof (value as { definition?: { name?: unknown } }).definition?.name === 'string' &&
    typeof (value as { definition?: { create?: unknown } }).definition?.create === 'function'
  );
}

/**
 * Maps `use` names to plugin factories: the built-in plugins, plugins
 * registered in code, and packages (or files) that export a plugin.
 */
export class PluginRegistry {
  private readonly byName = new Map<string, PluginFactory>();

  constructor(plugins: readonly PluginFactory[] = builtinPlugins) {
    for (const plugin of plugins) {
      this.register(plugin);
    }
  }

  /** Adds a plugin under its definition's name, replacing one of the same name. */
  register(plugin: PluginFactory): this {
    this.byName.set(plugin.definition.name, plugin);
    return this;
  }

  /** Returns the plugin registered under `name`, if any. */
  get(name: string): PluginFactory | undefined {
    return this.byName.get(name);
  }

  /** Names of the registered plugins. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The registered plugins. */
  plugins(): PluginFactory[] {
    return [...this.byName.values()];
  }

  /**
   * Imports the plugin a package or file exports, resolving `specifier` from
   * `baseDirectory` (the config file's folder). The module's default export,
   * its `plugin` export, or its only plugin export is used.
   */
  async load(specifier: string, baseDirectory: string): Promise<PluginFactory> {
    const require = createRequire(pathToFileURL(`${baseDirectory}/`).href);
    const resolved = require.resolve(specifier);
    const module = (await import(pathToFileURL(resolved).href)) as Record<string, unknown>;
    const candidates = [module['default'], module['plugin'], ...Object.values(module)].filter(isPluginFactory);
    const plugin = candidates[0];
    if (plugin === undefined) {
      throw new Error(`'${specifier}' loaded from ${resolved} exports no plugin made with definePlugin`);
    }
    return plugin;
  }
}
