export { emaBloop } from './emaBloop.js';
export type { EmaBloopOptions, ResolvedEmaBloopOptions } from './emaBloop.js';
export { bloopDirection, projectAway, updateEma } from './math/bloopDirection.js';
export type { BloopInput, BloopResult, BloopSettings, BloopVariant, ProjectionResult } from './math/bloopDirection.js';

import { emaBloop } from './emaBloop.js';

/** Every plugin of this package, for the config loader's registry. */
export const bloopPlugins = [emaBloop] as const;
