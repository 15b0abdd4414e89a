import { definePlugin } from '@gradhooks/core';

import { aggregatorInstance } from './aggregator.js';

const noOptions = { type: 'object', properties: {}, additionalProperties: false } as const;

/**
 * Plain sum of the objective gradients, the default update, as a plugin: on
 * reporting steps it also reports the Gramian, cosines and conflicts, which
 * makes it the baseline to compare surgery against.
 */
export const sum = definePlugin<Record<string, never>>({
  name: 'sum',
  description: 'Sums the objective gradients and reports how much they conflict.',
  options: noOptions,
  exclusiveGroup: 'aggregator',
  create(_options, context) {
    return aggregatorInstance(context, {
      needsGramian: (step) => step.report,
      weighting: ({ objectives }) => ({ weights: objectives.map(() => 1) }),
    });
  },
});

/** Mean of the objective gradients (the sum divided by their number), reporting conflicts like `sum`. */
export const mean = definePlugin<Record<string, never>>({
  name: 'mean',
  description: 'Averages the objective gradients and reports how much they conflict.',
  options: noOptions,
  exclusiveGroup: 'aggregator',
  create(_options, context) {
    return aggregatorInstance(context, {
      needsGramian: (step) => step.report,
      weighting: ({ objectives }) => ({ weights: objectives.map(() => 1 / objectives.length) }),
    });
  },
});
