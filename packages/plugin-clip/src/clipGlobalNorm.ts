import { definePlugin, Stage } from '@gradhooks/core';
import type { GradientMap, InputOf, OptionsOf } from '@gradhooks/core';

import { clipByGlobalNorm, readClip } from './math/clipByGlobalNorm.js';

const clipGlobalNormOptions = {
  type: 'object',
  properties: {
    maxNorm: {
      type: 'number',
      exclusiveMinimum: 0,
      description: 'largest global norm allowed; gradients with a larger norm are scaled down to it',
    },
    normType: {
      enum: [2, 1, 'inf'],
      default: 2,
      description: 'norm order: 2 (Euclidean), 1 (sum of magnitudes) or "inf" (largest magnitude)',
    },
    convention: {
      type: 'string',
      enum: ['exact', 'torch', 'optax'],
      default: 'exact',
      description:
        'exact: scale min(1, maxNorm/norm); torch: divide by norm + 1e-6 as torch does; optax: unchanged while norm < maxNorm, else maxNorm/norm',
    },
  },
  required: ['maxNorm'],
  additionalProperties: false,
} as const;

/** clip-global-norm options as written in code or config. */
export type ClipGlobalNormOptions = InputOf<typeof clipGlobalNormOptions>;
/** clip-global-norm options after defaults. */
export type ResolvedClipGlobalNormOptions = OptionsOf<typeof clipGlobalNormOptions>;

/**
 * Clips the combined gradient to a maximum global norm, over the variables
 * matching `variables`. Runs at `Stage.CLIP`, after surgery. A non-finite norm
 * leaves the gradients as they are and is reported as `nonFiniteDetected`;
 * the non-finite guard or core's final check then refuses the step.
 */
export const clipGlobalNorm = definePlugin<ResolvedClipGlobalNormOptions, ClipGlobalNormOptions>({
  name: 'clip-global-norm',
  description: 'Scales the combined gradient down when its global norm exceeds maxNorm.',
  options: clipGlobalNormOptions,
  stage: Stage.CLIP,
  exclusiveGroup: 'norm-clipping',
  create(options, context) {
    return {
      gradients: (gradients, step) => {
        const selected: GradientMap = {};
        for (const [name, tensor] of Object.entries(gradients)) {
          if (context.matchesVariable(name)) {
            selected[name] = tensor;
          }
        }
        const clip = clipByGlobalNorm(selected, options.maxNorm, { normType: options.normType, convention: options.convention });
        if (step.report) {
          const summary = readClip(clip);
          step.emit('clip', {
            normBefore: summary.normBefore,
            normAfter: summary.normAfter,
            clipped: summary.clipped,
            nonFiniteDetected: summary.nonFiniteDetected,
          });
        }
        const output: GradientMap = {};
        for (const [name, tensor] of Object.entries(gradients)) {
          output[name] = name in clip.gradients ? (clip.gradients[name] ?? null) : tensor;
        }
        return output;
      },
    };
  },
});
