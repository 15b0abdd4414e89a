import * as tf from '@tensorflow/tfjs-core';

import type { GradientMap } from './gradients.js';

/**
 * Returns a scalar that is 0 when every element of `tensors` is finite and
 * NaN otherwise. Multiplying by zero maps finite values to 0 and NaN or ±Inf
 * to NaN, so the sum cannot overflow into a false alarm.
 */
export function nonFiniteProbe(tensors: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    if (tensors.length === 0) {
      return tf.scalar(0);
    }
    const parts = tensors.map((tensor) => tf.sum(tf.mul(tensor, 0)));
    return (parts.length === 1 ? parts[0]! : tf.addN(parts)) as tf.Scalar;
  });
}

/** Reports whether every element of every tensor is finite. Reads one number from the device. */
export function allFinite(tensors: readonly tf.Tensor[]): boolean {
  const probe = nonFiniteProbe(tensors);
  const value = probe.dataSync()[0]!;
  probe.dispose();
  return value === 0;
}

/**
 * Returns the name of the first variable, in `order`, whose gradient holds NaN
 * or ±Inf, or undefined when all are finite. The fast path sums every
 * gradient (one pass and one device read): a NaN or infinite element makes
 * its sum non-finite, so finite sums prove the gradients finite. Only when a
 * sum is not finite, which an overflow of finite values can also cause, are
 * the gradients checked element by element.
 */
export function firstNonFiniteVariable(map: GradientMap, order: readonly string[]): string | undefined {
  const present = order.filter((name) => map[name] != null);
  if (present.length === 0) {
    return undefined;
  }
  const sums = tf.tidy(() => tf.stack(present.map((name) => tf.sum(map[name]!))).dataSync());
  const suspects = present.filter((_, i) => !Number.isFinite(sums[i]!));
  return suspects.find((name) => !allFinite([map[name]!]));
}

/** Counts the NaN and ±Inf elements of a tensor. */
export function countNonFinite(tensor: tf.Tensor): number {
  return tf.tidy(() => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(tensor)), 'int32')).dataSync()[0]!);
}
