import { definePlugin } from '@gradhooks/core';
import type { InputOf, OptionsOf } from '@gradhooks/core';

import { aggregatorInstance } from './aggregator.js';
import { krumWeights } from './math/krum.js';
import { requireObjectives } from './objectiveCount.js';

const krumOptions = {
  type: 'object',
  properties: {
    byzantine: {
      type: 'integer',
      minimum: 0,
      description: 'how many objective gradients may be adversarial (f); the step needs at least f + 3 objectives; TorchJD n_byzantine',
    },
    selected: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description: 'how many gradients with the best scores are averaged (Multi-Krum); TorchJD n_selected',
    },
  },
  required: ['byzantine'],
  additionalProperties: false,
} as const;

/** Options of `krum` as written in code or config. */
export type KrumOptions = InputOf<typeof krumOptions>;
/** Options of `krum` after defaults. */
export type ResolvedKrumOptions = OptionsOf<typeof krumOptions>;

/**
 * Krum and Multi-Krum (Blanchard et al., "Machine Learning with Adversaries:
 * Byzantine Tolerant Gradient Descent", NeurIPS 2017): averages the
 * `selected` gradients closest to their nearest neighbours, a robust
 * aggregator for gradients of which up to `byzantine` may be corrupt.
 */
export const krum = definePlugin<ResolvedKrumOptions, KrumOptions>({
  name: 'krum',
  description: 'Averages the objective gradients closest to their neighbours, robust to a few outliers (Krum).',
  options: krumOptions,
  exclusiveGroup: 'aggregator',
  create(options, context) {
    return aggregatorInstance(context, {
      weighting: ({ gramian, objectives }) => {
        requireObjectives(context.name, objectives.length, options.byzantine + 3, `byzantine + 3 with byzantine ${options.byzantine}`, 'Lower byzantine, or use an aggregator without a minimum such as mean.');
        requireObjectives(context.name, objectives.length, options.selected, `selected is ${options.selected}`, 'Lower selected.');
        return { weights: krumWeights(gramian!.matrix, options.byzantine, options.selected) };
      },
    });
  },
});
