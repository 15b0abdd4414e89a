import { definePlugin } from '@gradhooks/core';
import type { InputOf, OptionsOf } from '@gradhooks/core';

import { aggregatorInstance } from './aggregator.js';
import { mgdaWeights } from './math/minNorm.js';

const mgdaOptions = {
  type: 'object',
  properties: {
    solver: {
      type: 'string',
      enum: ['auto', 'frank-wolfe', 'exact'],
      default: 'auto',
      description:
        'auto: closed form for two objectives, Frank-Wolfe beyond; exact: closed form or a quadratic program (quadprog); frank-wolfe: always Frank-Wolfe, as TorchJD',
    },
    maxIterations: {
      type: 'integer',
      minimum: 1,
      default: 100,
      description: 'Frank-Wolfe iteration cap; TorchJD max_iters',
    },
    epsilon: {
      type: 'number',
      minimum: 0,
      default: 1e-3,
      description: 'Frank-Wolfe stops when its step size falls below this; TorchJD epsilon',
    },
  },
  additionalProperties: false,
} as const;

/** Options of `mgda` as written in code or config. */
export type MgdaOptions = InputOf<typeof mgdaOptions>;
/** Options of `mgda` after defaults. */
export type ResolvedMgdaOptions = OptionsOf<typeof mgdaOptions>;

/**
 * MGDA (Désidéri 2012; Sener & Koltun, "Multi-Task Learning as
 * Multi-Objective Optimization", NeurIPS 2018): the minimum-norm point of
 * the convex hull of the objective gradients, a common descent direction.
 * Weights sum to 1.
 */
export const mgda = definePlugin<ResolvedMgdaOptions, MgdaOptions>({
  name: 'mgda',
  description: 'Takes the minimum-norm convex combination of the objective gradients (MGDA).',
  options: mgdaOptions,
  exclusiveGroup: 'aggregator',
  create(options, context) {
    return aggregatorInstance(context, {
      weighting: ({ gramian }) => ({ weights: mgdaWeights(gramian!.matrix, options.solver, options.maxIterations, options.epsilon) }),
    });
  },
});
