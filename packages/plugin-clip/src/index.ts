export { clipGlobalNorm } from './clipGlobalNorm.js';
export type { ClipGlobalNormOptions, ResolvedClipGlobalNormOptions } from './clipGlobalNorm.js';
export { clipByGlobalNorm, readClip } from './math/clipByGlobalNorm.js';
export type { ClipConvention, GlobalNormClip } from './math/clipByGlobalNorm.js';
export { globalNorm } from './math/globalNorm.js';
export type { NormType } from './math/globalNorm.js';

import { clipGlobalNorm } from './clipGlobalNorm.js';

/** Every plugin of this package, for the config loader's registry. */
export const clipPlugins = [clipGlobalNorm] as const;
