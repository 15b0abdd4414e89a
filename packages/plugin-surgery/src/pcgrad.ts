import { definePlugin } from '@gradhooks/core';
import type { InputOf, OptionsOf } from '@gradhooks/core';

import { aggregatorInstance } from './aggregator.js';
import { projectConflicting } from './math/projectConflicting.js';
import { visitingOrder } from './visitingOrder.js';

const pcgradOptions = {
  type: 'object',
  properties: {
    reduction: {
      type: 'string',
      enum: ['sum', 'mean'],
      default: 'sum',
      description: 'how the projected gradients combine: sum (as in the paper) or mean (the sum divided by the number of objectives)',
    },
    epsilon: {
      type: 'number',
      minimum: 0,
      default: 1e-20,
      description:
        'projections onto a gradient whose squared norm is at most this are skipped; squared norms are measured after the Gramian is divided by a power of four that brings its largest diagonal entry into [1, 4)',
    },
    order: {
      type: 'array',
      items: { type: 'array', items: { type: 'integer', minimum: 0 } },
      description:
        'visiting order instead of the seeded shuffle: order[i] lists the positions of the other objectives in the order objective i visits them',
    },
  },
  additionalProperties: false,
} as const;

/** PCGrad options as written in code or config. */
export type PcgradOptions = InputOf<typeof pcgradOptions>;
/** PCGrad options after defaults. */
export type ResolvedPcgradOptions = OptionsOf<typeof pcgradOptions>;

/**
 * PCGrad (Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS
 * 2020): each objective's gradient is projected away from every other
 * objective's original gradient it conflicts with, in a random order drawn
 * per objective from the plugin's seeded generator, and the projected
 * gradients are summed. Computed from the Gramian of the shared variables.
 */
export const pcgrad = definePlugin<ResolvedPcgradOptions, PcgradOptions>({
  name: 'pcgrad',
  description: 'Projects each objective gradient away from the others it conflicts with, then sums them (PCGrad).',
  options: pcgradOptions,
  exclusiveGroup: 'aggregator',
  create(options, context) {
    return aggregatorInstance(context, {
      weighting: ({ gramian, objectives }) => {
        const order = visitingOrder(objectives.length, options.order, context.random, context.name);
        const result = projectConflicting(gramian!.normalized, order, options.epsilon, options.reduction);
        return { weights: result.weights, projections: result.projections };
      },
    });
  },
});
