export { aggregatorInstance } from './aggregator.js';
export type { AggregatorGlue, WeightingInput, WeightingResult } from './aggregator.js';
export { cosinesOf, countConflicts, gramianOf, stackAligned } from './math/gramian.js';
export type { Gramian } from './math/gramian.js';
export { projectConflicting } from './math/projectConflicting.js';
export type { PcgradWeights, Projection } from './math/projectConflicting.js';
export { pcgrad } from './pcgrad.js';
export type { PcgradOptions, ResolvedPcgradOptions } from './pcgrad.js';
export { mean, sum } from './sum.js';

import { pcgrad } from './pcgrad.js';
import { mean, sum } from './sum.js';

/** Every plugin of this package, for the config loader's registry. */
export const surgeryPlugins = [sum, mean, pcgrad] as const;
