import * as tf from '@tensorflow/tfjs-core';

/**
 * GradDrop (Chen et al., "Just Pick a Sign: Optimizing Deep Multitask Models
 * with Gradient Sign Dropout", NeurIPS 2020) on a [K, P] matrix of
 * gradients, as TorchJD's GradDrop: per coordinate, the positive-sign purity
 * P = ½(1 + Σₖ gₖ / Σₖ |gₖ|) and a uniform draw U; gradient k keeps its
 * coordinate when P > U and it is positive, or P < U and it is negative,
 * and the kept (plus `leak` times the dropped) coordinates are summed.
 * A coordinate where every gradient is zero stays zero.
 *
 * @param leak per objective, the fraction of a dropped coordinate kept (0 drops it whole).
 * @param seed seed of the uniform draws.
 */
export function dropBySign(matrix: tf.Tensor2D, leak: readonly number[], seed: number): tf.Tensor1D {
  return tf.tidy(() => {
    const [count, size] = matrix.shape;
    const total = tf.sum(matrix, 0);
    const magnitude = tf.sum(tf.abs(matrix), 0);
    const safe = tf.where(tf.greater(magnitude, 0), magnitude, tf.onesLike(magnitude));
    const purity = tf.mul(0.5, tf.add(1, tf.div(total, safe)));
    const draw = tf.randomUniform([size], 0, 1, 'float32', seed);
    const keepPositive = tf.greater(purity, draw);
    const keepNegative = tf.less(purity, draw);
    const mask = tf.logicalOr(tf.logicalAnd(keepPositive, tf.greater(matrix, 0)), tf.logicalAnd(keepNegative, tf.less(matrix, 0)));
    const leakColumn = tf.tensor2d(leak.map((value) => [value]), [count, 1]);
    const factor = tf.add(leakColumn, tf.mul(tf.sub(1, leakColumn), tf.cast(mask, 'float32')));
    return tf.sum(tf.mul(factor, matrix), 0) as tf.Tensor1D;
  });
}

/**
 * Coordinate-wise trimmed mean (Yin et al., "Byzantine-Robust Distributed
 * Learning: Towards Optimal Statistical Rates", ICML 2018), as TorchJD's
 * TrimmedMean: per coordinate, the `trim` largest and `trim` smallest values
 * of the K gradients are dropped and the rest averaged. Needs K ≥ 2·trim + 1.
 */
export function trimmedMean(matrix: tf.Tensor2D, trim: number): tf.Tensor1D {
  return tf.tidy(() => {
    const count = matrix.shape[0];
    if (trim === 0) {
      return tf.mean(matrix, 0) as tf.Tensor1D;
    }
    const sorted = tf.topk(tf.transpose(matrix), count, true).values;
    const kept = tf.slice(sorted, [0, trim], [-1, count - 2 * trim]);
    return tf.mean(kept, 1) as tf.Tensor1D;
  });
}
