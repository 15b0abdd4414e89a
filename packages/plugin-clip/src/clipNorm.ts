import { definePlugin, Stage } from '@gradhooks/core';
import type { InputOf, OptionsOf } from '@gradhooks/core';

import { clipEachByNorm, readPerTensorClip } from './math/clipByNorm.js';
import { emitClip } from './report.js';
import { mergeGradients, selectGradients } from './selection.js';

const clipNormOptions = {
  type: 'object',
  properties: {
    maxNorm: {
      type: 'number',
      exclusiveMinimum: 0,
      description: 'largest norm allowed for each tensor on its own; a tensor with a larger norm is scaled down to it (TF clip_norm, Keras clipnorm)',
    },
    normType: {
      enum: [2, 1, 'inf'],
      default: 2,
      description: 'norm order: 2 (Euclidean), 1 (sum of magnitudes) or "inf" (largest magnitude)',
    },
  },
  required: ['maxNorm'],
  additionalProperties: false,
} as const;

/** clip-norm options as written in code or config. */
export type ClipNormOptions = InputOf<typeof clipNormOptions>;
/** clip-norm options after defaults. */
export type ResolvedClipNormOptions = OptionsOf<typeof clipNormOptions>;

/**
 * Clips each gradient tensor on its own to a norm of at most `maxNorm`, as
 * tf.clip_by_norm and Keras `clipnorm` do: t * maxNorm / max(|t|, maxNorm).
 * This changes the direction of the update when only some tensors are
 * clipped; `clip-global-norm` keeps it. The two cannot be combined. A tensor
 * whose norm is not finite stays as it is and is reported as `nonFiniteDetected`.
 */
export const clipNorm = definePlugin<ResolvedClipNormOptions, ClipNormOptions>({
  name: 'clip-norm',
  description: 'Scales down each gradient tensor on its own whose norm exceeds maxNorm.',
  options: clipNormOptions,
  stage: Stage.CLIP,
  exclusiveGroup: 'norm-clipping',
  create(options, context) {
    return {
      gradients: (gradients, step) => {
        const selected = selectGradients(gradients, context.matchesVariable);
        const clip = clipEachByNorm(selected, options.maxNorm, options.normType);
        if (step.report) {
          const summary = readPerTensorClip(clip);
          emitClip(step, selected, clip.gradients, summary.clippedTensors > 0);
          step.emit('state', { values: { clippedTensors: summary.clippedTensors, tensors: clip.names.length } });
        }
        return mergeGradients(gradients, clip.gradients);
      },
    };
  },
});
