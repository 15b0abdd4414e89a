import type { PluginFactory } from '@gradhooks/core';

/** Every plugin of this package, for the config loader's registry. */
export const gaqatPlugins: readonly PluginFactory[] = [];
