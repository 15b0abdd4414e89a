import * as tf from '@tensorflow/tfjs-core';

import type { GradientMap } from '@gradhooks/core';

import type { NormType } from './globalNorm.js';
import { normsOnHost } from './hostNorms.js';

/** Result of `clipEachByNorm`. */
export interface PerTensorClip {
  /** Clipped gradients, same keys and order as the input; null entries stay null, unscaled tensors are the inputs themselves. */
  gradients: GradientMap;
  /** Names of the non-null gradients, in input order: the entries of `norms` and `scales`. */
  names: string[];
  /** Norm of each non-null gradient before clipping. */
  norms: number[];
  /** Factor each non-null gradient was multiplied by (1 when its norm is not finite). */
  scales: number[];
}

/**
 * Clips each tensor on its own to a norm of at most `maxNorm`:
 * t * maxNorm / max(|t|, maxNorm), as tf.clip_by_norm and Keras `clipnorm`
 * do. A tensor whose norm is not finite is left unchanged, as in
 * `clipByGlobalNorm`. Unlike global clipping, this changes the direction of
 * the whole update when some tensors are clipped and others are not. The
 * norms are read from the device (one read in the common case), and only the
 * tensors above the threshold are multiplied.
 */
export function clipEachByNorm(gradients: GradientMap, maxNorm: number, normType: NormType = 2): PerTensorClip {
  const names = Object.keys(gradients).filter((name) => gradients[name] !== null);
  const norms = normsOnHost(
    names.map((name) => gradients[name]!),
    normType,
  );
  const scales = norms.map((norm) => (Number.isFinite(norm) ? maxNorm / Math.max(norm, maxNorm) : 1));
  const scaleOf = new Map(names.map((name, i) => [name, scales[i]!]));
  const clipped: GradientMap = {};
  for (const [name, gradient] of Object.entries(gradients)) {
    const scale = scaleOf.get(name) ?? 1;
    clipped[name] = gradient === null || gradient.size === 0 || scale === 1 ? gradient : tf.mul(gradient, scale);
  }
  return { gradients: clipped, names, norms, scales };
}

/** Summarizes a per-tensor clip by variable name. */
export function readPerTensorClip(clip: Pick<PerTensorClip, 'names' | 'norms' | 'scales'>): {
  norms: Record<string, number>;
  scales: Record<string, number>;
  clippedTensors: number;
  nonFiniteDetected: boolean;
} {
  const norms = Object.fromEntries(clip.names.map((name, i) => [name, clip.norms[i]!]));
  const scales = Object.fromEntries(clip.names.map((name, i) => [name, clip.scales[i]!]));
  return {
    norms,
    scales,
    clippedTensors: clip.names.filter((name) => Number.isFinite(norms[name]!) && scales[name]! < 1).length,
    nonFiniteDetected: clip.names.some((name) => !Number.isFinite(norms[name]!)),
  };
}
