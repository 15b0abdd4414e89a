import * as tf from '@tensorflow/tfjs-core';

import type { GradientMap } from '@gradhooks/core';

/** Gramian of K objective gradients, in float64 on the host. */
export interface Gramian {
  /** K×K dot products of the gradients, in their original scale. */
  matrix: number[][];
  /**
   * The same dot products computed on gradients divided by `scale`, a power of
   * two chosen so the largest magnitude lies in [1, 2). Solvers use this form:
   * it cannot overflow or underflow float32, and dividing by a power of two is exact.
   */
  normalized: number[][];
  /** Power of two the gradients were divided by (1 when all are zero). */
  scale: number;
}

/**
 * Stacks per-objective gradients into a [K, P] matrix over `names`, aligned by
 * variable name. A variable an objective does not reach contributes zeros to
 * that objective's row, which is its true partial derivative; the zeros exist
 * only inside this computation and never reach an output map.
 */
export function stackAligned(maps: readonly GradientMap[], names: readonly string[], shapes: ReadonlyMap<string, readonly number[]>): tf.Tensor2D {
  return tf.tidy(() => {
    const columns = names.map((name) => {
      const rows = maps.map((map) => {
        const tensor = map[name];
        return tensor == null ? tf.zeros([sizeOf(shapes.get(name)!)]) : tf.reshape(tensor, [-1]);
      });
      return tf.stack(rows);
    });
    return (columns.length === 1 ? columns[0]! : tf.concat(columns, 1)) as tf.Tensor2D;
  });
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((product, dimension) => product * dimension, 1);
}

/**
 * Computes the Gramian J Jᵀ of the rows of `matrix` ([K, P]) with one
 * device read of K² + 1 numbers. The rows are first divided by a power of two
 * near their largest magnitude, so gradients from 1e-30 to 1e30 give the
 * same normalized Gramian.
 */
export function gramianOf(matrix: tf.Tensor2D): Gramian {
  const count = matrix.shape[0];
  const values = tf.tidy(() => {
    const largest = tf.max(tf.abs(matrix));
    const exponent = tf.floor(tf.div(tf.log(largest), Math.LN2));
    const scale = tf.where(tf.greater(largest, 0), tf.pow(tf.scalar(2), exponent), tf.onesLike(largest));
    const scaled = tf.div(matrix, scale);
    const product = tf.matMul(scaled, scaled, false, true);
    return tf.concat([tf.reshape(product, [-1]), tf.reshape(scale, [1])]).dataSync();
  });
  const scale = values[count * count]!;
  const normalized: number[][] = [];
  const original: number[][] = [];
  for (let i = 0; i < count; i++) {
    normalized.push([]);
    original.push([]);
    for (let j = 0; j < count; j++) {
      const value = values[i * count + j]!;
      normalized[i]!.push(value);
      original[i]!.push(value * scale * scale);
    }
  }
  return { matrix: original, normalized, scale };
}

/**
 * Cosine similarities from a Gramian. A pair involving a zero-norm gradient
 * has cosine 0, so it never counts as a conflict.
 */
export function cosinesOf(gramian: readonly (readonly number[])[]): number[][] {
  return gramian.map((row, i) =>
    row.map((dot, j) => {
      const norms = Math.sqrt(gramian[i]![i]!) * Math.sqrt(gramian[j]![j]!);
      return norms > 0 && Number.isFinite(norms) ? clamp(dot / norms, -1, 1) : 0;
    }),
  );
}

/** Counts the pairs i < j with a strictly negative dot product. */
export function countConflicts(gramian: readonly (readonly number[])[]): number {
  let conflicts = 0;
  for (let i = 0; i < gramian.length; i++) {
    for (let j = i + 1; j < gramian.length; j++) {
      if (gramian[i]![j]! < 0) {
        conflicts += 1;
      }
    }
  }
  return conflicts;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
