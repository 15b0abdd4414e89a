import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

import { isPluginFactory } from '@gradhooks/config';
import type { PluginFactory } from '@gradhooks/core';

import { CliError } from './errors.js';

/** The plugins one package or file exports. */
export interface PluginPackage {
  /** The specifier as given: a package name or a path. */
  specifier: string;
  /** Absolute path of the module that was imported. */
  resolved: string;
  /** Every plugin factory the module exports, directly or in an exported array, in export order. */
  plugins: PluginFactory[];
  /**
   * The plugin a config entry `{ "use": specifier }` gets: the default
   * export, else the `plugin` export, else the first plugin exported, as
   * the config loader picks it.
   */
  primary: PluginFactory;
}

/**
 * Imports a package or file, resolved from `baseDirectory` as Node resolves
 * `require(specifier)` there, and collects the plugins it exports. Raises a
 * `CliError` when it cannot be found or exports no plugin.
 */
export async function loadPluginPackage(specifier: string, baseDirectory: string): Promise<PluginPackage> {
  const require = createRequire(pathToFileURL(`${baseDirectory}/`).href);
  let resolved: string;
  try {
    resolved = require.resolve(specifier);
  } catch (error) {
    throw new CliError(
      `Cannot find plugin package '${specifier}' from ${baseDirectory}: ${firstLine(error)}. Install the package there, or give a path that starts with ./ or /.`,
      { cause: error },
    );
  }
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(resolved).href)) as Record<string, unknown>;
  } catch (error) {
    throw new CliError(`Importing plugin package '${specifier}' (${resolved}) failed: ${firstLine(error)}`, { cause: error });
  }
  const plugins = collectPlugins(module);
  const primary = [module['default'], module['plugin'], ...Object.values(module)].find(isPluginFactory);
  if (primary === undefined || plugins.length === 0) {
    throw new CliError(
      `'${specifier}' (${resolved}) exports no plugin made with definePlugin. Export the factory that definePlugin returns, preferably as the default export.`,
    );
  }
  return { specifier, resolved, plugins, primary };
}

/** Returns the plugin factories a module exports, one per definition, including those inside exported arrays. */
function collectPlugins(module: Record<string, unknown>): PluginFactory[] {
  const found: PluginFactory[] = [];
  const seen = new Set<unknown>();
  const visit = (value: unknown) => {
    if (isPluginFactory(value) && !seen.has(value.definition)) {
      seen.add(value.definition);
      found.push(value);
    }
  };
  for (const value of [module['default'], ...Object.values(module)]) {
    if (Array.isArray(value)) {
      value.forEach(visit);
    } else {
      visit(value);
    }
  }
  return found;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}
