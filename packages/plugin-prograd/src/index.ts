export { klToReference } from './losses.js';
export type { KlToReferenceOptions } from './losses.js';
export { progradDirection } from './math/progradDirection.js';
export type { ProgradResult } from './math/progradDirection.js';
export { prograd } from './prograd.js';
export type { ProgradOptions, ResolvedProgradOptions } from './prograd.js';

import { prograd } from './prograd.js';

/** Every plugin of this package, for the config loader's registry. */
export const progradPlugins = [prograd] as const;
