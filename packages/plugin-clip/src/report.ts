import * as tf from '@tensorflow/tfjs-core';

import type { GradientMap, StepContext } from '@gradhooks/core';

import { globalNorm } from './math/globalNorm.js';
import { presentTensors } from './selection.js';

/**
 * Emits the `clip` event of a clipping plugin: the global L2 norms of the
 * selected gradients before and after the plugin, whether it clipped, and
 * whether the gradients held NaN or Infinity. `clipped` is a device scalar
 * (non-zero when something was clipped) or a number already read. Reads
 * the device once; call it only on reporting steps.
 */
export function emitClip(step: StepContext, before: GradientMap, after: GradientMap, clipped: tf.Scalar | number | boolean): void {
  const values = tf.tidy(() => {
    const parts = [globalNorm(presentTensors(before), 2), globalNorm(presentTensors(after), 2)];
    if (clipped instanceof tf.Tensor) {
      parts.push(tf.cast(clipped, 'float32') as tf.Scalar);
    }
    return tf.stack(parts).dataSync();
  });
  const normBefore = values[0]!;
  const nonFiniteDetected = !Number.isFinite(normBefore);
  const wasClipped = clipped instanceof tf.Tensor ? values[2]! > 0 : Boolean(clipped);
  step.emit('clip', { normBefore, normAfter: values[1]!, clipped: wasClipped, nonFiniteDetected });
}
