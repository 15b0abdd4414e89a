import { definePlugin } from '@gradhooks/core';
import type { InputOf, OptionsOf } from '@gradhooks/core';

import { aggregatorInstance } from './aggregator.js';
import { cagradWeights } from './math/conflictAverse.js';
import type { CagradRescale } from './math/conflictAverse.js';

const cagradOptions = {
  type: 'object',
  properties: {
    c: {
      type: 'number',
      minimum: 0,
      default: 0.5,
      description: 'radius of the conflict-averse ball around the mean gradient, relative to its norm; Cranial-XIX alpha, LibMTL calpha, TorchJD c',
    },
    rescale: {
      type: 'integer',
      enum: [0, 1, 2],
      default: 1,
      description: '0: no rescaling (TorchJD); 1: divide by 1 + c² (the original default); 2: divide by 1 + c',
    },
    normEps: {
      type: 'number',
      minimum: 0,
      default: 1e-4,
      description: 'below this norm of the inner solution (trace-normalised Gramian) the update is the mean gradient; TorchJD norm_eps',
    },
  },
  additionalProperties: false,
} as const;

/** Options of `cagrad` as written in code or config. */
export type CagradOptions = InputOf<typeof cagradOptions>;
/** Options of `cagrad` after defaults. */
export type ResolvedCagradOptions = OptionsOf<typeof cagradOptions>;

/**
 * CAGrad (Liu et al., "Conflict-Averse Gradient Descent for Multi-task
 * Learning", NeurIPS 2021): the update within a ball around the mean
 * gradient that maximises the worst objective's improvement.
 */
export const cagrad = definePlugin<ResolvedCagradOptions, CagradOptions>({
  name: 'cagrad',
  description: 'Moves the mean gradient within a ball to improve the worst objective most (CAGrad).',
  options: cagradOptions,
  exclusiveGroup: 'aggregator',
  create(options, context) {
    return aggregatorInstance(context, {
      weighting: ({ gramian }) => ({ weights: cagradWeights(gramian!.matrix, options.c, options.rescale as CagradRescale, options.normEps).weights }),
    });
  },
});
