import { definePlugin, ErrorCode, GradhooksError } from '@gradhooks/core';
import type { InputOf, OptionsOf, SeededRandom } from '@gradhooks/core';

import { aggregatorInstance } from './aggregator.js';
import { projectConflicting } from './math/projectConflicting.js';

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
        'projections onto a gradient whose squared norm is at most this are skipped; norms are measured after all gradients are divided by a power of two that brings the largest magnitude into [1, 2)',
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
        const order = visitingOrder(objectives.length, options.order, context.random);
        const result = projectConflicting(gramian!.normalized, order, options.epsilon, options.reduction);
        return { weights: result.weights, projections: result.projections };
      },
    });
  },
});

/** Returns the explicit order after checking it, or one seeded permutation of the others per objective. */
function visitingOrder(count: number, explicit: number[][] | undefined, random: SeededRandom): number[][] {
  if (explicit !== undefined) {
    checkOrder(explicit, count);
    return explicit;
  }
  return Array.from({ length: count }, (_, i) => {
    const others = Array.from({ length: count }, (__, j) => j).filter((j) => j !== i);
    return others.length > 1 ? random.shuffle(others) : others;
  });
}

function checkOrder(order: number[][], count: number): void {
  const valid =
    order.length === count &&
    order.every((row, i) => {
      const expected = Array.from({ length: count }, (_, j) => j).filter((j) => j !== i);
      return row.length === expected.length && [...row].sort((a, b) => a - b).every((value, k) => value === expected[k]);
    });
  if (!valid) {
    throw new GradhooksError(
      ErrorCode.ERR_OPTIONS_INVALID,
      `Option 'order' must list, for each of the ${count} objectives, every other objective position exactly once.`,
      {
        plugin: 'pcgrad',
        path: '/order',
        received: order,
        expected: `${count} rows; row i a permutation of 0..${count - 1} without i`,
        fix: 'Fix order, or remove it to use the seeded shuffle.',
      },
    );
  }
}
