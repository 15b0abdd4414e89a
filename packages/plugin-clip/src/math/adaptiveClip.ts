import * as tf from '@tensorflow/tfjs-core';

/** Floor of the gradient's unit norm in the AGC divisor; it only prevents a division by zero. */
const DIVISION_FLOOR = 1e-6;

/**
 * Returns the axes that `unitwiseNorm` sums over. A tensor that is a vector
 * after removing its size-1 dimensions (a bias, a gain, a [1, n] kernel) is
 * one unit. Otherwise each index of the last axis is one unit, because tfjs
 * kernels put the output units last (dense [in, out], conv1d [k, in, out],
 * conv2d [h, w, in, out], conv3d [d, h, w, in, out]). For rank 2 and 4 this
 * is the axis choice of optax.unitwise_norm. For rank 3 optax sums over
 * axis 0 only, since it reads rank 3 as a multi-head linear layer, which
 * tfjs does not have.
 */
export function unitAxes(shape: readonly number[]): number[] {
  const squeezedRank = shape.filter((size) => size !== 1).length;
  if (squeezedRank <= 1) {
    return shape.map((_, axis) => axis);
  }
  return shape.slice(0, -1).map((_, axis) => axis);
}

/**
 * Scale applied to gradients before squaring in `unitwiseNorm`: 2^-40, so
 * squares stay finite up to |g| of about 2e31 (1.8e19 without it), and unit
 * norms down to about 1e-10 keep their value (float32 subnormals carry the
 * smallest squares). A unit's limit is at least clipping * eps, far above that.
 */
const SQUARE_SCALE = 2 ** -40;

/**
 * Computes the L2 norm of each unit of `x` (see `unitAxes`), keeping the
 * reduced dimensions so the result broadcasts against `x`. Elements are
 * scaled by 2^-40 before squaring, so finite gradients up to about 2e31 get
 * their true norm. A unit holding NaN has norm NaN, and one holding
 * ±Infinity (and no NaN) has norm Infinity.
 */
export function unitwiseNorm(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const axes = unitAxes(x.shape);
    if (x.size === 0) {
      return tf.zeros(x.shape.map((size, axis) => (axes.includes(axis) ? 1 : size)));
    }
    return tf.div(tf.sqrt(tf.sum(tf.square(tf.mul(x, SQUARE_SCALE)), axes, true)), SQUARE_SCALE);
  });
}

/** Result of `adaptiveClip`; the tensors live on the device until read. */
export interface AdaptiveClip {
  /** The clipped gradient, same shape as the input. */
  gradient: tf.Tensor;
  /** Unit-wise norms of the gradient before clipping, shaped to broadcast against it. */
  gradientNorm: tf.Tensor;
  /** Largest unit norm allowed: clipping * max(|W_i|, eps), same shape as `gradientNorm`. */
  maxNorm: tf.Tensor;
  /** True for the units whose gradient was scaled down, same shape as `gradientNorm`. */
  clipped: tf.Tensor;
  /** Number of units of the tensor. */
  units: number;
}

/**
 * Adaptive gradient clipping (AGC; Brock, De, Smith and Simonyan, "High-
 * Performance Large-Scale Image Recognition Without Normalization", 2021),
 * unit by unit as deepmind-research nfnets/agc_optax.py and
 * optax.adaptive_grad_clip compute it: with max_i = clipping * max(|W_i|, eps),
 * a unit whose gradient norm |G_i| is below max_i is unchanged, and any other
 * is scaled to G_i * max_i / max(|G_i|, 1e-6). A unit whose gradient norm is
 * not finite is left unchanged, so clipping never turns NaN or Infinity into
 * finite numbers.
 */
export function adaptiveClip(gradient: tf.Tensor, parameter: tf.Tensor, clipping: number, eps: number): AdaptiveClip {
  return tf.tidy(() => {
    const axes = unitAxes(gradient.shape);
    const gradientNorm = unitwiseNorm(gradient);
    const parameterNorm = tf.sqrt(tf.sum(tf.square(parameter), axes, true));
    const maxNorm = tf.mul(tf.maximum(parameterNorm, eps), clipping);
    const clip = tf.logicalAnd(tf.isFinite(gradientNorm), tf.greaterEqual(gradientNorm, maxNorm));
    // One factor per unit, 1 for units left unchanged: multiplying by it is the only full-size
    // operation after the norms (a broadcast select is much slower on the wasm backend).
    const factor = tf.where(clip, tf.div(maxNorm, tf.maximum(gradientNorm, DIVISION_FLOOR)), tf.onesLike(gradientNorm));
    return {
      gradient: tf.mul(gradient, factor),
      gradientNorm,
      maxNorm,
      clipped: clip,
      units: gradientNorm.size,
    } as unknown as tf.TensorContainer;
  }) as unknown as AdaptiveClip;
}
