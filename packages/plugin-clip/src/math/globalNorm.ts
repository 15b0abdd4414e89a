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
    const sumOfAbsolute = total(absolute.map((tensor) => tf.sum(tensor)));
    // 0 when every element is finite, NaN otherwise (x * 0 is NaN exactly for NaN and ±Inf).
    const probe = total(present.map((tensor) => tf.sum(tf.mul(tensor, 0))));
    let finiteNorm: tf.Scalar;
    if (normType === 1) {
      finiteNorm = sumOfAbsolute;
    } else {
      const largest = tf.max(tf.stack(absolute.map((tensor) => tf.max(tensor)))) as tf.Scalar;
      if (normType === 'inf') {
        finiteNorm = largest;
      } else {
        const divisor = tf.where(tf.greater(largest, 0), largest, tf.onesLike(largest));
        const squares = total(absolute.map((tensor) => tf.sum(tf.square(tf.div(tensor, divisor)))));
        finiteNorm = tf.mul(divisor, tf.sqrt(squares)) as tf.Scalar;
      }
    }
    // With a non-finite element, the sum of absolute values is NaN (some NaN) or Infinity (only ±Inf).
    return tf.where(tf.isFinite(probe), finiteNorm, sumOfAbsolute) as tf.Scalar;
  });
}

function total(scalars: tf.Tensor[]): tf.Scalar {
  return (scalars.length === 1 ? scalars[0]! : tf.addN(scalars)) as tf.Scalar;
}
