import { definePlugin, ErrorCode, GradhooksError } from '@gradhooks/core';
import type { InputOf, OptionsOf } from '@gradhooks/core';

import { aggregatorInstance } from './aggregator.js';

const constantOptions = {
  type: 'object',
  properties: {
    weights: {
      type: 'object',
      additionalProperties: { type: 'number' },
      minProperties: 1,
      description: 'weight of each objective gradient in the update, keyed by objective name; every objective of a step needs one',
    },
  },
  required: ['weights'],
  additionalProperties: false,
} as const;

/** Options of `constant` as written in code or config. */
export type ConstantOptions = InputOf<typeof constantOptions>;
/** Options of `constant` after defaults. */
export type ResolvedConstantOptions = OptionsOf<typeof constantOptions>;

/**
 * Fixed weights: the update is Σₖ wₖ gₖ with one weight per objective, given
 * by name (TorchJD's Constant). Reports the Gramian on reporting steps only.
 */
export const constant = definePlugin<ResolvedConstantOptions, ConstantOptions>({
  name: 'constant',
  description: 'Combines the objective gradients with fixed weights, one per objective name.',
  options: constantOptions,
  exclusiveGroup: 'aggregator',
  objectiveOptions: ['weights'],
  create(options, context) {
    return aggregatorInstance(context, {
      needsGramian: (step) => step.report,
      weighting: ({ objectives }) => {
        const missing = objectives.filter((objective) => options.weights[objective] === undefined);
        if (missing.length > 0) {
          throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, `Option 'weights' of plugin '${context.name}' has no weight for objective '${missing[0]}'.`, {
            plugin: context.name,
            path: '/weights',
            received: options.weights,
            expected: `a weight for each of ${objectives.join(', ')}`,
            fix: `Add "${missing[0]}": <number> to weights.`,
          });
        }
        return { weights: objectives.map((objective) => options.weights[objective]!) };
      },
    });
  },
});
