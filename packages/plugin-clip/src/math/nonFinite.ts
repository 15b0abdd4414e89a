import * as tf from '@tensorflow/tfjs-core';

/** Replaces every NaN and ±Infinity element of `tensor` with 0; finite elements are unchanged. */
export function zeroNonFinite(tensor: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.where(tf.isFinite(tensor), tensor, tf.zerosLike(tensor)));
}

/** Counts the NaN and ±Infinity elements of all `tensors` together. */
export function countNonFiniteElements(tensors: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    const counts = tensors.map((tensor) => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(tensor)), 'int32')));
    return (counts.length === 0 ? tf.scalar(0, 'int32') : tf.addN(counts)) as tf.Scalar;
  });
}
