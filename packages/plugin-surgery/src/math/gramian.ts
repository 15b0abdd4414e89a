import * as tf from '@tensorflow/tfjs-core';

import type { GradientMap } from '@gradhooks/core';

/** Gramian of K objective gradients, in float64 on the host. */
export interface Gramian {
  /** K×K dot products of the gradients, in their original scale. */
  matrix: number[][];
  /**
   * The same dot products divided by `scale`², a power of two chosen so the
   * largest diagonal entry lies in [1, 4). Solvers with absolute thresholds
   * (PCGrad's and GradVac's epsilon) use this form, so the thresholds do not
   * depend on the gradients' scale.
   */
  normalized: number[][];
  /** Power of two the gradients count as divided by (1 when all are zero). */
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

/** Diagonal entries inside this range prove that no product over- or underflowed float32 to a significant degree. */
const SAFE_LOW = 2 ** -60;
const SAFE_HIGH = 2 ** 100;

/**
 * Computes the Gramian J Jᵀ of the rows of `matrix` ([K, P]) with one
 * matrix product and one device read of K² numbers. When a squared norm
 * falls outside [2⁻⁶⁰, 2¹⁰⁰] (zero, tiny or huge gradients, where float32
 * products could underflow or overflow), it is computed again on the rows
 * divided by a power of two near their largest magnitude, so gradients from
 * 1e-38 to 3e38 give the same normalized Gramian.
 */
export function gramianOf(matrix: tf.Tensor2D): Gramian {
  const count = matrix.shape[0];
  const direct = tf.tidy(() => tf.matMul(matrix, matrix, false, true).dataSync());
  const diagonal = Array.from({ length: count }, (_, i) => direct[i * count + i]!);
  if (diagonal.every((value) => value >= SAFE_LOW && value <= SAFE_HIGH)) {
    return fromProducts(direct, count, 1);
  }
  const values = tf.tidy(() => {
    const largest = tf.max(tf.abs(matrix));
    const exponent = tf.floor(tf.div(tf.log(largest), Math.LN2));
    const scale = tf.where(tf.greater(largest, 0), tf.pow(tf.scalar(2), exponent), tf.onesLike(largest));
    const scaled = tf.div(matrix, scale);
    const product = tf.matMul(scaled, scaled, false, true);
    return tf.concat([tf.reshape(product, [-1]), tf.reshape(scale, [1])]).dataSync();
  });
  return fromProducts(values, count, values[count * count]!);
}

/** Builds the Gramian from K² products of the rows divided by `rowScale`. */
function fromProducts(products: ArrayLike<number>, count: number, rowScale: number): Gramian {
  let largest = 0;
  for (let i = 0; i < count; i++) {
    largest = Math.max(largest, products[i * count + i]!);
  }
  // A power of two s with s² ≤ largest < 4s², in the products' own scale; 1 for a zero Gramian.
  const exponent = largest > 0 && Number.isFinite(largest) ? Math.floor(Math.log2(largest) / 2) : 0;
  const normalizer = 2 ** (-2 * exponent);
  const normalized: number[][] = [];
  const original: number[][] = [];
  for (let i = 0; i < count; i++) {
    normalized.push([]);
    original.push([]);
    for (let j = 0; j < count; j++) {
      const value = products[i * count + j]!;
      normalized[i]!.push(value * normalizer);
      original[i]!.push(value * rowScale * rowScale);
    }
  }
  return { matrix: original, normalized, scale: rowScale * 2 ** exponent };
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
