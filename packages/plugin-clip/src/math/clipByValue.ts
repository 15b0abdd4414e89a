import * as tf from '@tensorflow/tfjs-core';

/**
 * Clips every finite element of `gradient` to [min, max], as
 * torch.nn.utils.clip_grad_value_, optax.clip and tf.clip_by_value do for
 * finite values. NaN and ±Infinity elements are returned unchanged, so value
 * clipping never turns a non-finite value into a finite one (torch clamps
 * ±Infinity to the bounds, and tfjs's wasm backend also clamps NaN).
 */
export function clipByValue(gradient: tf.Tensor, min: number, max: number): tf.Tensor {
  return tf.tidy(() => tf.where(tf.isFinite(gradient), tf.clipByValue(gradient, min, max), gradient));
}

/**
 * Clips several gradients as `clipByValue` does, with fewer passes over the
 * data: one device read of each tensor's sum tells which tensors are all
 * finite (a NaN or infinite element makes the sum non-finite), and those get
 * the plain clip. Only a tensor whose sum is not finite, which an overflow of
 * finite values can also cause, takes the element-wise path.
 */
export function clipManyByValue(gradients: readonly tf.Tensor[], min: number, max: number): tf.Tensor[] {
  if (gradients.length === 0) {
    return [];
  }
  const sums = tf.tidy(() => tf.stack(gradients.map((gradient) => tf.sum(gradient))).dataSync());
  return gradients.map((gradient, i) => (Number.isFinite(sums[i]!) ? tf.clipByValue(gradient, min, max) : clipByValue(gradient, min, max)));
}

/** Counts the finite elements of `gradient` outside [min, max]: the elements `clipByValue` changes. */
export function countOutOfBounds(gradient: tf.Tensor, min: number, max: number): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.cast(tf.logicalOr(tf.less(gradient, min), tf.greater(gradient, max)), 'int32')) as tf.Scalar);
}
