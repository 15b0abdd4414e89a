import * as tf from '@tensorflow/tfjs';

import { definePlugin, Stage } from '@gradhooks/core';
import type { GradientMap } from '@gradhooks/core';
import { globalNorm } from '@gradhooks/plugin-clip';

/** Global L2 norms of one applied step's combined gradient, before and after the clipping plugins. */
export interface StepNorms {
  before: number;
  after: number;
}

/**
 * Defines an example-only plugin that measures the global L2 norm of the
 * combined gradient just before the clipping stage and again after every
 * other plugin, and passes the gradients on unchanged. It reads two numbers
 * from the device per step, so it is for experiments, not production runs.
 */
export function gradNormProbe(record: (norms: StepNorms) => void) {
  let before = Number.NaN;
  const measure = (gradients: GradientMap) =>
    tf.tidy(() => globalNorm(Object.values(gradients).filter((tensor): tensor is tf.Tensor => tensor !== null), 2).dataSync()[0]!);
  return definePlugin({
    name: 'grad-norm-probe',
    description: 'Records the global gradient norm before and after clipping.',
    options: { type: 'object', properties: {}, additionalProperties: false },
    create: () => ({
      gradients: {
        fn: (gradients: GradientMap) => {
          before = measure(gradients);
          return gradients;
        },
        stage: Stage.CLIP - 10,
      },
      beforeApply: {
        fn: (gradients: GradientMap) => {
          record({ before, after: measure(gradients) });
          return undefined;
        },
        stage: Stage.OBSERVE,
      },
    }),
  })();
}
