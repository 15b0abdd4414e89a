import { definePlugin } from '@gradhooks/core';
import type { InputOf, OptionsOf } from '@gradhooks/core';

import { aggregatorInstance } from './aggregator.js';
import { imtlgWeights } from './math/equalProjection.js';

const noOptions = { type: 'object', properties: {}, additionalProperties: false } as const;

/**
 * IMTL-G (Liu et al., "Towards Impartial Multi-task Learning", ICLR 2021):
 * weights summing to 1 that give the update equal projections on every unit
 * objective gradient, from the Gramian's pseudo-inverse (ml-matrix).
 */
export const imtlG = definePlugin<OptionsOf<typeof noOptions>, InputOf<typeof noOptions>>({
  name: 'imtl-g',
  description: 'Weights the objective gradients so the update projects equally on each of their directions (IMTL-G).',
  options: noOptions,
  exclusiveGroup: 'aggregator',
  create(_options, context) {
    return aggregatorInstance(context, {
      weighting: ({ gramian }) => ({ weights: imtlgWeights(gramian!.matrix) }),
    });
  },
});
