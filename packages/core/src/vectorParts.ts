import * as tf from '@tensorflow/tfjs-core';

/**
 * Sums a list of scalars on the device; an empty list gives 0. Used for dot
 * products and squared norms over several tensors taken as one vector.
 */
export function sumScalars(scalars: readonly tf.Scalar[]): tf.Scalar {
  if (scalars.length === 0) {
    return tf.scalar(0);
  }
  return (scalars.length === 1 ? scalars[0]! : tf.addN(scalars as tf.Scalar[])) as tf.Scalar;
}

/** Dot product of two lists of tensors taken as one flat vector each, part by part. */
export function dotParts(a: readonly tf.Tensor[], b: readonly tf.Tensor[]): tf.Scalar {
  return sumScalars(a.map((part, i) => tf.sum(tf.mul(part, b[i]!)) as tf.Scalar));
}

/** Squared L2 norm of a list of tensors taken as one flat vector. */
export function squaredNormParts(parts: readonly tf.Tensor[]): tf.Scalar {
  return sumScalars(parts.map((part) => tf.sum(tf.square(part)) as tf.Scalar));
}

/** Smallest scale `magnitudeScale` returns, so that an all-zero vector divides to zeros instead of NaN. */
export const MINIMUM_SCALE = 1e-30;

/**
 * Returns the largest magnitude in `parts`, or 1e-30 when it is smaller.
 * Dividing by it brings the largest magnitude to 1, so squared norms and dot
 * products of the result neither overflow nor underflow float32. With a NaN
 * or infinite element the quotient contains NaN whatever this returns, so
 * callers detect non-finite input after the division.
 */
export function magnitudeScale(parts: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    const maxima = parts.filter((part) => part.size > 0).map((part) => tf.max(tf.abs(part)));
    if (maxima.length === 0) {
      return tf.scalar(MINIMUM_SCALE);
    }
    const largest = maxima.length === 1 ? maxima[0]! : tf.max(tf.stack(maxima));
    return tf.maximum(largest, MINIMUM_SCALE) as tf.Scalar;
  });
}
