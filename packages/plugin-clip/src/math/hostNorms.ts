import * as tf from '@tensorflow/tfjs-core';

import { globalNorm, tensorNorms } from './globalNorm.js';
import type { NormType } from './globalNorm.js';

/**
 * Sums of squares at or above this value and finite prove that no square
 * underflowed or overflowed float32 to a degree that matters for a norm.
 */
const SAFE_SQUARED = 2 ** -100;

/**
 * Returns the norm of each tensor as a number, with one device read in the
 * common case. For the L2 norm it reads each tensor's plain sum of squares
 * (two passes over the data) and takes the square root on the host; only
 * the tensors whose sum is not finite (an overflow, NaN or ±Infinity) or too
 * small to trust (an underflow) are measured again with `tensorNorms`, which
 * scales before squaring. Other norm types go to `tensorNorms` directly.
 */
export function normsOnHost(tensors: readonly tf.Tensor[], normType: NormType): number[] {
  if (tensors.length === 0) {
    return [];
  }
  if (normType !== 2) {
    return Array.from(tf.tidy(() => tensorNorms(tensors, normType).dataSync()));
  }
  const squared = tf.tidy(() => tf.stack(tensors.map((tensor) => (tensor.size === 0 ? tf.scalar(0) : tf.sum(tf.square(tensor))))).dataSync());
  const norms = Array.from(squared, (value) => Math.sqrt(value));
  const unsure = tensors.map((tensor, i) => i).filter((i) => tensors[i]!.size > 0 && !(Number.isFinite(squared[i]!) && squared[i]! >= SAFE_SQUARED));
  if (unsure.length > 0) {
    const exact = tf.tidy(() => tensorNorms(unsure.map((i) => tensors[i]!), 2).dataSync());
    unsure.forEach((i, k) => {
      norms[i] = exact[k]!;
    });
  }
  return norms;
}

/**
 * Returns the norm of all tensors taken together as a number, with one device
 * read in the common case; see `normsOnHost` for the L2 fast path. A NaN
 * element gives NaN, an infinite one Infinity, an empty list 0.
 */
export function globalNormOnHost(tensors: readonly tf.Tensor[], normType: NormType): number {
  const present = tensors.filter((tensor) => tensor.size > 0);
  if (present.length === 0) {
    return 0;
  }
  if (normType === 2) {
    const squared = tf.tidy(() => tf.stack(present.map((tensor) => tf.sum(tf.square(tensor)))).dataSync());
    let total = 0;
    for (const value of squared) {
      total += value;
    }
    if (Number.isFinite(total) && total >= SAFE_SQUARED && squared.every((value) => Number.isFinite(value))) {
      return Math.sqrt(total);
    }
  }
  return tf.tidy(() => globalNorm(present, normType).dataSync()[0]!);
}
