import * as tf from '@tensorflow/tfjs-core';

import { dotParts, magnitudeScale, MINIMUM_SCALE, squaredNormParts } from '@gradhooks/core';

/** Result of `progradDirection`. Scalars stay on the device until read. */
export interface ProgradResult {
  /** The task gradient after the projection, one tensor per input part. */
  projected: tf.Tensor[];
  /** Boolean scalar: true when ⟨g_task, g_general⟩ < 0 and the task gradient was projected. */
  conflict: tf.Scalar;
  /** ⟨g_task, g_general⟩ / ‖g_general‖², or 0 when the general gradient is zero; λ times it along g_general is removed on conflict. */
  coefficient: tf.Scalar;
  /** Largest magnitude of the general gradient, at least 1e-30. */
  scale: tf.Scalar;
  /** ⟨g_task, g_general/scale⟩. */
  scaledDot: tf.Scalar;
  /** ‖g_general/scale‖². */
  scaledSquaredNorm: tf.Scalar;
}

/**
 * Computes the ProGrad update of one group of tensors (Zhu et al.,
 * "Prompt-aligned Gradient for Prompt Tuning", ICCV 2023; reference code
 * BeierZhu/Prompt-align, `prograd_backward_and_update`): when the task
 * gradient conflicts with the general-direction gradient
 * (⟨g_task, g_general⟩ < 0, strictly), it becomes
 * g_task − λ·⟨g_task, g_general⟩ / ‖g_general‖² · g_general; otherwise its
 * values are returned unchanged. The parts of each list form one flat
 * vector: one variable (the reference's rule) or several.
 *
 * The general gradient is divided by its largest magnitude before the
 * products, so tiny or huge general gradients neither underflow nor overflow
 * float32. A zero general gradient means no projection, as in the reference
 * (where its NaN cosine fails the `< 0` test).
 */
export function progradDirection(task: readonly tf.Tensor[], general: readonly tf.Tensor[], lambda: number): ProgradResult {
  return tf.tidy(() => {
    const scale = magnitudeScale(general);
    const scaled = general.map((part) => tf.div(part, scale));
    const scaledDot = dotParts(task, scaled);
    const scaledSquaredNorm = squaredNormParts(scaled);
    // ‖scaled‖² is at least 1e-30 unless the general gradient is zero, and then the dot product is 0 too.
    const scaledCoefficient = tf.div(scaledDot, tf.maximum(scaledSquaredNorm, MINIMUM_SCALE));
    // A negative coefficient is a conflict; min(·, 0) removes nothing otherwise.
    const removed = tf.mul(tf.minimum(scaledCoefficient, 0), lambda);
    return {
      projected: task.map((part, i) => tf.sub(part, tf.mul(scaled[i]!, removed))),
      conflict: tf.less(scaledDot, 0) as tf.Scalar,
      coefficient: tf.div(scaledCoefficient, scale) as tf.Scalar,
      scale,
      scaledDot,
      scaledSquaredNorm,
    } as unknown as tf.TensorContainer;
  }) as unknown as ProgradResult;
}
