import * as tf from '@tensorflow/tfjs-core';

import type { GradientMap } from '@gradhooks/core';

import { globalNorm } from './globalNorm.js';
import type { NormType } from './globalNorm.js';

/**
 * How the clipping factor is computed from the norm |g| and the threshold:
 * - `exact`: min(1, maxNorm / |g|); a norm equal to the threshold leaves g unchanged (TF's result);
 * - `torch`: min(1, maxNorm / (|g| + 1e-6)), as torch.nn.utils.clip_grad_norm_;
 * - `optax`: 1 when |g| < maxNorm, else maxNorm / |g|, as optax.clip_by_global_norm.
 */
export type ClipConvention = 'exact' | 'torch' | 'optax';

/** Result of `clipByGlobalNorm`; the scalars live on the device until read. */
export interface GlobalNormClip {
  /** Clipped gradients, same keys and order as the input; null entries stay null. */
  gradients: GradientMap;
  /** Norm before clipping. */
  norm: tf.Scalar;
  /** Factor every gradient was multiplied by (1 when the norm is not finite). */
  scale: tf.Scalar;
}

/** Offset torch adds to the norm before dividing (`clip_grad_norm_`). */
const TORCH_EPSILON = 1e-6;

/**
 * Scales all gradients together so their global norm is at most `maxNorm`
 * (Pascanu, Mikolov and Bengio, "On the difficulty of training recurrent
 * neural networks", 2013). A non-finite norm leaves every gradient unchanged:
 * clipping never turns NaN or Infinity into finite numbers and never zeroes
 * finite entries. `maxNorm` 0 is defined here (zero gradients stay zero,
 * others become zero) although the plugin's options reject it.
 *
 * Accepts a gradient map or any iterable of [name, tensor] pairs, which it reads once.
 */
export function clipByGlobalNorm(
  gradients: GradientMap | Iterable<readonly [string, tf.Tensor | null]>,
  maxNorm: number,
  options: { normType?: NormType; convention?: ClipConvention } = {},
): GlobalNormClip {
  const entries = entriesOf(gradients);
  const normType = options.normType ?? 2;
  const convention = options.convention ?? 'exact';
  return tf.tidy(() => {
    const tensors = entries.flatMap(([, tensor]) => (tensor === null ? [] : [tensor]));
    const norm = globalNorm(tensors, normType);
    const limit = tf.scalar(maxNorm);
    let scale: tf.Scalar;
    if (convention === 'torch') {
      scale = tf.minimum(tf.div(limit, tf.add(norm, TORCH_EPSILON)), 1) as tf.Scalar;
    } else if (convention === 'optax') {
      scale = tf.where(tf.less(norm, limit), tf.onesLike(norm), tf.div(limit, norm)) as tf.Scalar;
    } else {
      scale = tf.where(tf.greater(norm, limit), tf.div(limit, norm), tf.onesLike(norm)) as tf.Scalar;
    }
    scale = tf.where(tf.isFinite(norm), scale, tf.onesLike(scale)) as tf.Scalar;
    const clipped: GradientMap = {};
    for (const [name, tensor] of entries) {
      clipped[name] = tensor === null || tensor.size === 0 ? tensor : tf.mul(tensor, scale);
    }
    return { gradients: clipped, norm, scale } as unknown as tf.TensorContainer;
  }) as unknown as GlobalNormClip;
}

/** Reads the norm and scale of a clip and summarizes it as numbers. */
export function readClip(clip: Pick<GlobalNormClip, 'norm' | 'scale'>): {
  normBefore: number;
  normAfter: number;
  scale: number;
  clipped: boolean;
  nonFiniteDetected: boolean;
} {
  const values = tf.tidy(() => tf.stack([clip.norm, clip.scale]).dataSync());
  const normBefore = values[0]!;
  const scale = values[1]!;
  const nonFiniteDetected = !Number.isFinite(normBefore);
  return {
    normBefore,
    normAfter: nonFiniteDetected ? normBefore : normBefore * scale,
    scale,
    clipped: !nonFiniteDetected && scale < 1,
    nonFiniteDetected,
  };
}

function entriesOf(gradients: GradientMap | Iterable<readonly [string, tf.Tensor | null]>): Array<readonly [string, tf.Tensor | null]> {
  if (Symbol.iterator in Object(gradients)) {
    return Array.from(gradients as Iterable<readonly [string, tf.Tensor | null]>);
  }
  return Object.entries(gradients as GradientMap);
}
