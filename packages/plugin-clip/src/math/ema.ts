import * as tf from '@tensorflow/tfjs-core';

/**
 * Returns the decay of EMA update number `t` (counted from 1). With warm-up
 * it is min(decay, (1 + t) / (10 + t)), the schedule of TF's
 * ExponentialMovingAverage with `num_updates`, so early averages follow the
 * weights closely. The configured decay itself is never changed.
 */
export function emaDecay(decay: number, t: number, warmup: boolean): number {
  return warmup ? Math.min(decay, (1 + t) / (10 + t)) : decay;
}

/** Returns decay * average + (1 - decay) * value, the update of Keras's `ema_momentum` average. */
export function emaUpdate(average: tf.Tensor, value: tf.Tensor, decay: number): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(average, decay), tf.mul(value, 1 - decay)));
}

/**
 * Removes the bias of an average that started at zero: divides it by
 * 1 - product, where `product` is the product of the decays applied so far
 * (decay^t for a constant decay, as TF's `zero_debias`). `product` must be
 * below 1, i.e. at least one update happened.
 */
export function debias(average: tf.Tensor, product: number): tf.Tensor {
  return tf.tidy(() => tf.div(average, 1 - product));
}
