import * as tf from '@tensorflow/tfjs-core';

/** Norm orders the clipping plugins accept. */
export type NormType = 1 | 2 | 'inf';

/**
 * Computes the norm of all elements of `tensors` taken together, as a scalar
 * on the device. The L2 norm divides by the largest magnitude first, so
 * finite gradients whose squares overflow float32 (2e19 and up) still get
 * their true norm. When any element is NaN the result is NaN; otherwise an
 * infinite element gives Infinity. Empty tensors contribute nothing, and an
 * empty list has norm 0.
 */
export function globalNorm(tensors: readonly tf.Tensor[], normType: NormType): tf.Scalar {
  return tf.tidy(() => {
    const present = tensors.filter((tensor) => tensor.size > 0);
    if (present.length === 0) {
      return tf.scalar(0);
    }
    const absolute = present.map((tensor) => tf.abs(tensor));
    if (normType === 1) {
      // NaN with a NaN element, Infinity with an infinite one.
      return total(absolute.map((tensor) => tf.sum(tensor)));
    }
    const largest = tf.max(tf.stack(absolute.map((tensor) => tf.max(tensor)))) as tf.Scalar;
    if (normType === 'inf') {
      // A max reduction may pass over NaN on some backends; the sum of magnitudes keeps it.
      const sumOfAbsolute = total(absolute.map((tensor) => tf.sum(tensor)));
      return tf.where(tf.isNaN(sumOfAbsolute), sumOfAbsolute, largest) as tf.Scalar;
    }
    // With an infinite element the divisor is 1, so the sum of squares is Infinity; a NaN element
    // makes it NaN whatever the divisor. Two reductions per tensor: the largest magnitude and the sum.
    const usable = tf.logicalAnd(tf.isFinite(largest), tf.greater(largest, 0));
    const divisor = tf.where(usable, largest, tf.onesLike(largest));
    const squares = total(absolute.map((tensor) => tf.sum(tf.square(tf.div(tensor, divisor)))));
    return tf.mul(divisor, tf.sqrt(squares)) as tf.Scalar;
  });
}

function total(scalars: tf.Tensor[]): tf.Scalar {
  return (scalars.length === 1 ? scalars[0]! : tf.addN(scalars)) as tf.Scalar;
}

/**
 * Computes the norm of each tensor on its own, as a vector with one entry per
 * tensor, in order. Each entry follows `globalNorm` for that tensor alone:
 * overflow-safe L2, NaN for a tensor holding NaN, Infinity for one holding
 * ±Infinity, 0 for an empty tensor. The tensors are reduced in one batch, so
 * the cost per tensor is a few operations.
 */
export function tensorNorms(tensors: readonly tf.Tensor[], normType: NormType): tf.Tensor1D {
  return tf.tidy(() => {
    if (tensors.length === 0) {
      return tf.zeros([0]) as tf.Tensor1D;
    }
    // An empty tensor stands in as a zero, whose norm is 0.
    const absolute = tensors.map((tensor) => (tensor.size === 0 ? tf.zeros([1]) : tf.abs(tensor)));
    const sums = () => tf.stack(absolute.map((tensor) => tf.sum(tensor))) as tf.Tensor1D;
    if (normType === 1) {
      return sums();
    }
    const largest = tf.stack(absolute.map((tensor) => tf.max(tensor))) as tf.Tensor1D;
    if (normType === 'inf') {
      const sumOfAbsolute = sums();
      return tf.where(tf.isNaN(sumOfAbsolute), sumOfAbsolute, largest) as tf.Tensor1D;
    }
    const usable = tf.logicalAnd(tf.isFinite(largest), tf.greater(largest, 0));
    const divisors = tf.where(usable, largest, tf.onesLike(largest));
    const perTensor = tf.unstack(divisors);
    const squares = tf.stack(absolute.map((tensor, i) => tf.sum(tf.square(tf.div(tensor, perTensor[i]!)))));
    return tf.mul(divisors, tf.sqrt(squares)) as tf.Tensor1D;
  });
}
