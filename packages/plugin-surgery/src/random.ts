import { definePlugin } from '@gradhooks/core';
import type { InputOf, OptionsOf } from '@gradhooks/core';

import { aggregatorInstance } from './aggregator.js';

const noOptions = { type: 'object', properties: {}, additionalProperties: false } as const;

/**
 * Random loss weighting (Lin et al., "Reasonable Effectiveness of Random
 * Weighting: A Litmus Test for Multi-Task Learning", TMLR 2022; LibMTL RLW,
 * TorchJD Random): each step the weights are the softmax of K standard
 * normal draws from the plugin's seeded generator, so they sum to 1.
 */
export const random = definePlugin<OptionsOf<typeof noOptions>, InputOf<typeof noOptions>>({
  name: 'random',
  description: 'Combines the objective gradients with random weights drawn each step (softmax of normal draws).',
  options: noOptions,
  exclusiveGroup: 'aggregator',
  create(_options, context) {
    return aggregatorInstance(context, {
      needsGramian: (step) => step.report,
      weighting: ({ objectives }) => ({ weights: softmax(objectives.map(() => context.random.normal())) }),
    });
  },
});

function softmax(values: readonly number[]): number[] {
  const largest = Math.max(...values);
  const exponentials = values.map((value) => Math.exp(value - largest));
  const total = exponentials.reduce((sum, value) => sum + value, 0);
  return exponentials.map((value) => value / total);
}
