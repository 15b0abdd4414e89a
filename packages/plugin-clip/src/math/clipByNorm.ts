import * as tf from '@tensorflow/tfjs-core';

import type { GradientMap } from '@gradhooks/core';

import { tensorNorms } from './globalNorm.js';
import type { NormType } from './globalNorm.js';

/** Result of `clipEachByNorm`; the vectors live on the device until read. */
export interface PerTensorClip {
  /** Clipped gradients, same keys and order as the input; null entries stay null. */
  gradients: GradientMap;
  /** Names of the non-null gradients, in input order: the entries of `norms` and `scales`. */
  names: string[];
  /** Norm of each non-null gradient before clipping. */
  norms: tf.Tensor1D;
  /** Factor each non-null gradient was multiplied by (1 when its norm is not finite). */
  scales: tf.Tensor1D;
}

/**
 * Clips each tensor on its own to a norm of at most `maxNorm`:
 * t * maxNorm / max(|t|, maxNorm), as tf.clip_by_norm and Keras `clipnorm`
 * do. A tensor whose norm is not finite is left unchanged, as in
 * `clipByGlobalNorm`. Unlike global clipping, this changes the direction of
 * the whole update when some tensors are clipped and others are not.
 */
export function clipEachByNorm(gradients: GradientMap, maxNorm: number, normType: NormType = 2): PerTensorClip {
  return tf.tidy(() => {
    const names = Object.keys(gradients).filter((name) => gradients[name] !== null);
    const norms = tensorNorms(
      names.map((name) => gradients[name]!),
      normType,
    );
    const limit = tf.scalar(maxNorm);
    const scales = tf.where(tf.isFinite(norms), tf.div(limit, tf.maximum(norms, limit)), tf.onesLike(norms)) as tf.Tensor1D;
    const perTensor = names.length === 0 ? [] : tf.unstack(scales);
    const scaleOf = new Map(names.map((name, i) => [name, perTensor[i]!]));
    const clipped: GradientMap = {};
    for (const [name, gradient] of Object.entries(gradients)) {
      clipped[name] = gradient === null || gradient.size === 0 ? gradient : tf.mul(gradient, scaleOf.get(name)!);
    }
    return { gradients: clipped, names, norms, scales } as unknown as tf.TensorContainer;
  }) as unknown as PerTensorClip;
}

/** Reads the norms and scales of a per-tensor clip in one device read. */
export function readPerTensorClip(clip: Pick<PerTensorClip, 'names' | 'norms' | 'scales'>): {
  norms: Record<string, number>;
  scales: Record<string, number>;
  clippedTensors: number;
  nonFiniteDetected: boolean;
} {
  const count = clip.names.length;
  const values = count === 0 ? new Float32Array(0) : tf.tidy(() => tf.concat([clip.norms, clip.scales]).dataSync());
  const norms = Object.fromEntries(clip.names.map((name, i) => [name, values[i]!]));
  const scales = Object.fromEntries(clip.names.map((name, i) => [name, values[count + i]!]));
  return {
    norms,
    scales,
    clippedTensors: clip.names.filter((name) => Number.isFinite(norms[name]!) && scales[name]! < 1).length,
    nonFiniteDetected: clip.names.some((name) => !Number.isFinite(norms[name]!)),
  };
}
