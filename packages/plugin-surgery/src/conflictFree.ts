import { definePlugin } from '@gradhooks/core';
import type { InputOf, OptionsOf } from '@gradhooks/core';

import { aggregatorInstance } from './aggregator.js';
import { conflictFreeWeights } from './math/conflictFree.js';
import type { ConflictFreeLength } from './math/conflictFree.js';

const conflictFreeOptions = {
  type: 'object',
  properties: {
    length: {
      type: 'string',
      enum: ['projection', 'min', 'max', 'harmonic', 'arithmetic', 'geometric'],
      default: 'projection',
      description:
        "length of the update: the sum of the gradients' projections on its direction (ProjectionLength), or that sum after giving every gradient the smallest, largest, harmonic, arithmetic or geometric mean norm (TrackMinimum and so on)",
    },
  },
  additionalProperties: false,
} as const;

/** Options of `conflictfree` as written in code or config. */
export type ConflictFreeOptions = InputOf<typeof conflictFreeOptions>;
/** Options of `conflictfree` after defaults. */
export type ResolvedConflictFreeOptions = OptionsOf<typeof conflictFreeOptions>;

/**
 * ConFIG (Liu, Chu & Thuerey, "ConFIG: Towards Conflict-free Training of
 * Physics Informed Neural Networks", 2024): the direction with equal cosine
 * to every objective gradient, from the pseudo-inverse of their unit
 * vectors, with a length set by the `length` mode.
 */
export const conflictFree = definePlugin<ResolvedConflictFreeOptions, ConflictFreeOptions>({
  name: 'conflictfree',
  description: 'Updates along the direction with equal cosine to every objective gradient (ConFIG).',
  options: conflictFreeOptions,
  exclusiveGroup: 'aggregator',
  create(options, context) {
    return aggregatorInstance(context, {
      weighting: ({ gramian, objectives }) => ({
        weights: conflictFreeWeights(gramian!.matrix, objectives.map(() => 1), options.length as ConflictFreeLength),
      }),
    });
  },
});
