import { definePlugin } from '@gradhooks/core';
import type { InputOf, OptionsOf } from '@gradhooks/core';

import { aggregatorInstance } from './aggregator.js';
import { alignedMtlWeights } from './math/alignedMtl.js';
import type { AlignedScaleMode } from './math/alignedMtl.js';

const alignedMtlOptions = {
  type: 'object',
  properties: {
    scaleMode: {
      type: 'string',
      enum: ['min', 'median', 'rmse'],
      default: 'min',
      description:
        'eigenvalue that sets the update scale: the smallest kept one, the lower middle one (as torch.median), or their mean; TorchJD scale_mode',
    },
  },
  additionalProperties: false,
} as const;

/** Options of `aligned-mtl` as written in code or config. */
export type AlignedMtlOptions = InputOf<typeof alignedMtlOptions>;
/** Options of `aligned-mtl` after defaults. */
export type ResolvedAlignedMtlOptions = OptionsOf<typeof alignedMtlOptions>;

/**
 * Aligned-MTL (Senushkin et al., "Independent Component Alignment for
 * Multi-Task Learning", CVPR 2023): aligns the principal components of the
 * objective gradients so the Gramian of the balanced gradients is a multiple
 * of the identity, through an eigendecomposition of the Gramian (ml-matrix).
 * Uses TorchJD's preference 1/K; LibMTL's update is K times larger.
 */
export const alignedMtl = definePlugin<ResolvedAlignedMtlOptions, AlignedMtlOptions>({
  name: 'aligned-mtl',
  description: 'Balances the objective gradients by aligning the principal components of their Gramian (Aligned-MTL).',
  options: alignedMtlOptions,
  exclusiveGroup: 'aggregator',
  create(options, context) {
    return aggregatorInstance(context, {
      weighting: ({ gramian, objectives }) => ({
        weights: alignedMtlWeights(gramian!.matrix, objectives.map(() => 1 / objectives.length), options.scaleMode as AlignedScaleMode),
      }),
    });
  },
});
