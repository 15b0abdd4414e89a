import { definePlugin } from '@gradhooks/core';
import type { InputOf, OptionsOf } from '@gradhooks/core';

import { coordinateAggregatorInstance } from './coordinateAggregator.js';
import { trimmedMean as trimmedMeanOf } from './math/signDrop.js';
import { requireObjectives } from './objectiveCount.js';

const trimmedMeanOptions = {
  type: 'object',
  properties: {
    trim: {
      type: 'integer',
      minimum: 0,
      description: 'how many of the largest and of the smallest values are dropped in each coordinate; the step needs at least 2·trim + 1 objectives; TorchJD trim_number',
    },
  },
  required: ['trim'],
  additionalProperties: false,
} as const;

/** Options of `trimmed-mean` as written in code or config. */
export type TrimmedMeanOptions = InputOf<typeof trimmedMeanOptions>;
/** Options of `trimmed-mean` after defaults. */
export type ResolvedTrimmedMeanOptions = OptionsOf<typeof trimmedMeanOptions>;

/**
 * Coordinate-wise trimmed mean (Yin et al., ICML 2018; TorchJD TrimmedMean):
 * in each coordinate the `trim` largest and smallest values of the objective
 * gradients are dropped and the rest averaged. Needs the coordinates, so it
 * runs on the device rather than from the Gramian.
 */
export const trimmedMean = definePlugin<ResolvedTrimmedMeanOptions, TrimmedMeanOptions>({
  name: 'trimmed-mean',
  description: 'Averages each coordinate of the objective gradients after dropping its extreme values (trimmed mean).',
  options: trimmedMeanOptions,
  exclusiveGroup: 'aggregator',
  create(options, context) {
    return coordinateAggregatorInstance(context, {
      combine: ({ matrix, objectives }) => {
        requireObjectives(context.name, objectives.length, 2 * options.trim + 1, `2·trim + 1 with trim ${options.trim}`, 'Lower trim.');
        return trimmedMeanOf(matrix, options.trim);
      },
    });
  },
});
