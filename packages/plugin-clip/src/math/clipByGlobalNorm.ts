import * as tf from '@tensorflow/tfjs-core';

import type { GradientMap } from '@gradhooks/core';

import type { NormType } from './globalNorm.js';
import { globalNormOnHost } from './hostNorms.js';

/**
 * How the clipping factor is computed from the norm |g| and the threshold:
 * - `exact`: min(1, maxNorm / |g|); a norm equal to the threshold leaves g unchanged (TF's result);
 * - `torch`: min(1, maxNorm / (|g| + 1e-6)), as torch.nn.utils.clip_grad_norm_;
 * - `optax`: 1 when |g| < maxNorm, else maxNorm / |g|, as optax.clip_by_global_norm.
 */
export type ClipConvention = 'exact' | 'torch' | 'optax';

/** Result of `clipByGlobalNorm`. */
export interface GlobalNormClip {
  /** Clipped gradients, same keys and order as the input; null entries stay null, unscaled tensors are the inputs themselves. */
  gradients: GradientMap;
  /** Norm before clipping, as a scalar tensor the caller disposes. */
  norm: tf.Scalar;
  /** Factor every gradient was multiplied by (1 when the norm is not finite), as a scalar tensor the caller disposes. */
  scale: tf.Scalar;
  /** The norm as a number (float64 from the float32 sums). */
  normValue: number;
  /** The scale as a number. */
  scaleValue: number;
}

/** Offset torch adds to the norm before dividing (`clip_grad_norm_`). */
const TORCH_EPSILON = 1e-6;

/** Returns the factor a convention applies for a norm; 1 for a norm that is not finite. */
export function clipScale(norm: number, maxNorm: number, convention: ClipConvention): number {
  if (!Number.isFinite(norm)) {
    return 1;
  }
  if (convention === 'torch') {
    return Math.min(maxNorm / (norm + TORCH_EPSILON), 1);
  }
  if (convention === 'optax') {
    return norm < maxNorm ? 1 : maxNorm / norm;
  }
  return norm > maxNorm ? maxNorm / norm : 1;
}

/**
 * Scales all gradients together so their global norm is at most `maxNorm`
 * (Pascanu, Mikolov and Bengio, "On the difficulty of training recurrent
 * neural networks", 2013). A non-finite norm leaves every gradient unchanged:
 * clipping never turns NaN or Infinity into finite numbers and never zeroes
 * finite entries. `maxNorm` 0 is defined here (zero gradients stay zero,
 * others become zero) although the plugin's options reject it.
 *
 * It reads the norm from the device (one read in the common case) and
 * multiplies only when the scale is below 1, so an unclipped step costs
 * two passes over the gradients and a clipped one three.
 *
 * Accepts a gradient map or any iterable of [name, tensor] pairs, which it reads once.
 */
export function clipByGlobalNorm(
  gradients: GradientMap | Iterable<readonly [string, tf.Tensor | null]>,
  maxNorm: number,
  options: { normType?: NormType; convention?: ClipConvention } = {},
): GlobalNormClip {
  const entries = entriesOf(gradients);
  const tensors = entries.flatMap(([, tensor]) => (tensor === null ? [] : [tensor]));
  const normValue = globalNormOnHost(tensors, options.normType ?? 2);
  const scaleValue = clipScale(normValue, maxNorm, options.convention ?? 'exact');
  const clipped: GradientMap = {};
  for (const [name, tensor] of entries) {
    clipped[name] = tensor === null || tensor.size === 0 || scaleValue === 1 ? tensor : tf.mul(tensor, scaleValue);
  }
  return { gradients: clipped, norm: tf.scalar(normValue), scale: tf.scalar(scaleValue), normValue, scaleValue };
}

/** Summarizes a clip as numbers. */
export function readClip(clip: Pick<GlobalNormClip, 'normValue' | 'scaleValue'>): {
  normBefore: number;
  normAfter: number;
  scale: number;
  clipped: boolean;
  nonFiniteDetected: boolean;
} {
  const normBefore = clip.normValue;
  const scale = clip.scaleValue;
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
